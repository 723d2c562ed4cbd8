// Package alert tells a product's owner when something breaks and when it recovers:
// a run failed, a check blocked a publish, a warning repeated, a product went stale, a
// backfill ended with failed days, a quota wait was long. Each product's alerts are
// kept by one Temporal workflow, so a receiver that is down is retried durably and an
// alert is never lost or sent twice.
package alert

import (
	"time"

	"github.com/meshflow/meshflow/framework/quality"
)

// Run is how one product run ended, as the run workflow reports it.
type Run struct {
	Domain, Product string
	Partition       string `json:",omitempty"`
	WorkflowID      string
	RunID           string
	Status          string           // the run record's: published, unchanged, blocked, failed, waiting
	Error           string           `json:",omitempty"`
	Checks          []quality.Result `json:",omitempty"`
	// QuotaWaited is how long the run's landings waited out exhausted quotas.
	QuotaWaited time.Duration `json:",omitempty"`
	Trigger     string        `json:",omitempty"` // why it ran (flow.RunInput.Trigger)
	At          time.Time     // when it ended
}

// Backfill is how one backfill ended.
type Backfill struct {
	ID              string // its workflow id
	Domain, Product string
	Days            int
	Failed          []string `json:",omitempty"` // the days that did not publish
	// RerunOf is the backfill whose failed days this one reran (flow.BackfillInput.RerunOf):
	// its alert is about those days, which this one's outcome replaces.
	RerunOf string `json:",omitempty"`
	At      time.Time
}
