package catalog

import (
	"fmt"
	"time"
)

// humanDuration prints d as people write it: 8d, 26h, 1h 30m, 5m, 45s — at most two
// units, the larger of them days only from two days on (a 26h freshness rule reads
// better as 26h than as 1d 2h), the rest rounded away.
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	const day = 24 * time.Hour
	two := func(big time.Duration, bigUnit string, small time.Duration, smallUnit string) string {
		d = d.Round(small)
		b, s := d/big, (d%big)/small
		if s == 0 {
			return fmt.Sprintf("%d%s", b, bigUnit)
		}
		return fmt.Sprintf("%d%s %d%s", b, bigUnit, s, smallUnit)
	}
	switch {
	case d >= 2*day:
		return two(day, "d", time.Hour, "h")
	case d >= time.Hour:
		return two(time.Hour, "h", time.Minute, "m")
	case d >= time.Minute:
		return two(time.Minute, "m", time.Second, "s")
	case d >= time.Second:
		return fmt.Sprintf("%ds", d.Round(time.Second)/time.Second)
	}
	return fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
}
