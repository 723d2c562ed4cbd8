package main

import (
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/flow"
)

// TestRunResultSaysWhatTheRunDid: mesh run tells a publish from an unchanged run, and
// prints the warnings of a run that read a failed input's previous snapshot.
func TestRunResultSaysWhatTheRunDid(t *testing.T) {
	var b strings.Builder
	printRunResult(&b, flow.RunResult{Table: "marketing.crm_deals_v1", SnapshotID: 7, Rows: 90, Quality: "pass", Unchanged: true,
		Warnings: []string{"input marketing.crm_companies: its latest run failed at 2026-12-03T05:00:00Z (marketing.crm_companies/current), so this run read its previous snapshot 6\x1b[2J"}})
	out := b.String()
	for _, want := range []string{"unchanged marketing.crm_deals_v1", "snapshot 7, which stays current", "warning: input marketing.crm_companies: its latest run failed", `\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q does not say %q", out, want)
		}
	}
	if strings.Contains(out, "published") || strings.Contains(out, "\x1b") {
		t.Errorf("output %q calls an unchanged run published, or passes an escape code through", out)
	}
	if got := describe(flow.Progress{Stage: "waiting for quota", Waiting: "HubSpot's daily limit", Until: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}); got != "waiting for quota (HubSpot's daily limit) until 2026-12-04T00:00:00Z" {
		t.Errorf("progress during a quota wait = %q", got)
	}
}

// TestRunResultSaysWhatAnIncrementalRunComputed: an incremental product's run says it
// merged N keys, or computed everything and why.
func TestRunResultSaysWhatAnIncrementalRunComputed(t *testing.T) {
	var b strings.Builder
	printRunResult(&b, flow.RunResult{Table: "engineering.jira_issues_v1", SnapshotID: 9, Rows: 12, Quality: "pass",
		Incremental: "incremental: merged 12 changed keys of jira.issues since snapshot 8"})
	if out := b.String(); !strings.Contains(out, "published engineering.jira_issues_v1 snapshot 9: 12 rows") || !strings.Contains(out, "\n  incremental: merged 12 changed keys of jira.issues") {
		t.Errorf("output %q does not say the run merged 12 keys", out)
	}
}
