package mesh

import "time"

// Retention is how long a product's port keeps its old snapshots readable — time
// travel (mesh query … AS OF), mesh diff --from — before table maintenance expires
// them. Zero fields take the defaults: 30 days, and at least the last 10 publishes.
// Whatever is declared, maintenance never expires a snapshot a branch, a consumer's
// lineage or a legacy major still needs (see README, "Table maintenance").
type Retention struct {
	// MaxAge: snapshots younger than this stay (0 = DefaultRetentionMaxAge).
	MaxAge time.Duration
	// MinSnapshots: at least this many of the newest publishes stay, whatever their
	// age (0 = DefaultRetentionMinSnapshots).
	MinSnapshots int
}

// The retention of a product that declares none.
const (
	DefaultRetentionMaxAge       = 30 * 24 * time.Hour
	DefaultRetentionMinSnapshots = 10
)

// OrDefault fills the zero fields with the defaults.
func (r Retention) OrDefault() Retention {
	if r.MaxAge == 0 {
		r.MaxAge = DefaultRetentionMaxAge
	}
	if r.MinSnapshots == 0 {
		r.MinSnapshots = DefaultRetentionMinSnapshots
	}
	return r
}

// validate refuses a retention that cannot mean what was meant.
func (r Retention) validate(add func(string, ...any)) {
	if r.MaxAge < 0 {
		add("Retention.MaxAge %s is negative: give how long old snapshots stay readable, e.g. 90 * 24 * time.Hour, or 0 for 30 days", r.MaxAge)
	} else if r.MaxAge > 0 && r.MaxAge < time.Hour {
		add("Retention.MaxAge %s is under an hour: consumers reading a snapshot as it is expired would fail; keep at least an hour, or 0 for 30 days", r.MaxAge)
	}
	if r.MinSnapshots < 0 {
		add("Retention.MinSnapshots %d is negative: give how many of the newest publishes always stay, or 0 for 10", r.MinSnapshots)
	}
}
