package mesh

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of a 5-field cron expression: its name, its range and the
// names it accepts (JAN–DEC, SUN–SAT), as Temporal's schedules read them.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	// 7 is Sunday too, as in most crons.
	{name: "day of week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// validateCron checks each field of a 5-field cron expression: lists of *, a value
// or a range, each with an optional /step, within the field's range. A typo is
// caught when the product is declared, not when `mesh schedules apply` runs.
func validateCron(c string) error {
	fs := strings.Fields(c)
	if len(fs) != len(cronFields) {
		return fmt.Errorf("cadence %q must be @hourly, @daily, @weekly or a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 6 * * *\")", c)
	}
	for i, f := range fs {
		if err := cronFields[i].validate(f); err != nil {
			return fmt.Errorf("cadence %q: %s field %q: %v", c, cronFields[i].name, f, err)
		}
	}
	return nil
}

func (cf cronField) validate(f string) error {
	for _, part := range strings.Split(f, ",") {
		span, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > cf.max-cf.min+1 {
				return fmt.Errorf("step %q is not a number from 1 to %d", step, cf.max-cf.min+1)
			}
		}
		if span == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(span, "-")
		a, err := cf.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			if hasStep {
				return fmt.Errorf("a step needs * or a range before it (e.g. */15 or 0-30/15), not %q", span)
			}
			continue
		}
		b, err := cf.value(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q runs backwards", span)
		}
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	for i, n := range cf.names {
		if strings.EqualFold(s, n) {
			return cf.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < cf.min || n > cf.max {
		what := fmt.Sprintf("a number from %d to %d", cf.min, cf.max)
		if len(cf.names) > 0 {
			what += " or " + cf.names[0] + "–" + cf.names[len(cf.names)-1]
		}
		return 0, fmt.Errorf("%q is not %s", s, what)
	}
	return n, nil
}
