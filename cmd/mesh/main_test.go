package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/flow"
)

func TestProductsOnAnEmptyLake(t *testing.T) {
	t.Setenv("HUBSPOT_TOKEN", "")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"products", "--json", "--lake", t.TempDir()}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(list) == 0 {
		t.Fatal("no products listed")
	}
	for _, p := range list {
		for _, k := range []string{"name", "domain", "owner", "version", "rows", "snapshot", "quality", "freshness", "published_at"} {
			if _, ok := p[k]; !ok {
				t.Errorf("product %v has no %q", p["name"], k)
			}
		}
		if p["published_at"] != nil || p["freshness"].(map[string]any)["status"] != "unknown" {
			t.Errorf("never-published product %v = %v", p["name"], p)
		}
	}
}

func TestUnknownCommandAndProduct(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("err = %v", err)
	}
	err := run(context.Background(), []string{"show", "nope", "--lake", t.TempDir()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "mesh products") {
		t.Fatalf("unknown product: %v", err)
	}
}

func TestBackfillRefusesBadInputBeforeDialing(t *testing.T) {
	lake := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backfill"}, "mesh backfill start"},
		{[]string{"backfill", "frob"}, `unknown backfill command "frob"`},
		{[]string{"backfill", "start", "marketing.web_traffic", "--from", "2026-01-01"}, "--to"},
		{[]string{"backfill", "start", "marketing.crm_contacts", "--from", "2026-01-01", "--to", "2026-01-02"}, "not partitioned"},
		{[]string{"backfill", "start", "marketing.web_traffic", "--from", "2026-01-05", "--to", "2026-01-02"}, "before from"},
		{[]string{"backfill", "start", "marketing.web_traffic", "--from", "2026-01-01", "--to", "2026-01-02", "--concurrency", "0"}, "at least 1"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(tc.args, "--lake", lake), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}

func TestPrintBackfill(t *testing.T) {
	until := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	st := flow.BackfillStatus{
		ID: "backfill/marketing.web_traffic/2026-01-01..2026-01-03", Domain: "marketing", Product: "web_traffic", From: "2026-01-01", To: "2026-01-03",
		Partitions: []flow.PartitionState{
			{Partition: "2026-01-01", State: flow.StateSucceeded, Rows: 12, WorkflowID: "marketing.web_traffic/2026-01-01"},
			{Partition: "2026-01-02", State: flow.StateFailed, Error: "land: boom", WorkflowID: "marketing.web_traffic/2026-01-02"},
			{Partition: "2026-01-03", State: flow.StateWaitingForQuota, Until: until, WorkflowID: "marketing.web_traffic/2026-01-03"},
			{Partition: "2026-01-04", State: flow.StateRunning, WorkflowID: "marketing.web_traffic/2026-01-04"},
		},
		Totals: map[string]int{flow.StateSucceeded: 1, flow.StateFailed: 1, flow.StateWaitingForQuota: 1, flow.StateRunning: 1},
	}
	var out bytes.Buffer
	printBackfill(&out, st, map[string]string{"2026-01-04": "waiting for the GitHub secondary rate limit until 14:03:10 (12 waits so far)"})
	for _, want := range []string{"2026-01-02  failed", "land: boom", "until 2026-01-03T00:00:00Z", "2026-01-04  running", "marketing.web_traffic/2026-01-04  waiting for the GitHub secondary rate limit until 14:03:10 (12 waits so far)",
		"running: 4 partition(s): running 1, waiting for quota 1, succeeded 1, failed 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status table does not show %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printRerunPlan(&out, st)
	if !strings.Contains(out.String(), "would run 1 partition(s)") || !strings.Contains(out.String(), "2026-01-02") || strings.Contains(out.String(), "2026-01-01") {
		t.Errorf("rerun plan:\n%s", out.String())
	}
}

func TestFreshnessFailsOnNeverPublishedProducts(t *testing.T) {
	var out, errOut bytes.Buffer
	lake := t.TempDir()
	if err := run(context.Background(), []string{"freshness", "--lake", lake}, &out, &errOut); err != nil {
		t.Fatalf("without --fail-on it only reports: %v", err)
	}
	if !strings.Contains(out.String(), "marketing.crm_contacts") || !strings.Contains(out.String(), "unknown") {
		t.Fatalf("output:\n%s", out.String())
	}
	err := run(context.Background(), []string{"freshness", "--fail-on", "fail", "--lake", lake}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "marketing.crm_contacts") {
		t.Fatalf("--fail-on fail with nothing published: %v", err)
	}
	if err := run(context.Background(), []string{"freshness", "--fail-on", "sometimes"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "use warn or fail") {
		t.Fatalf("bad level: %v", err)
	}
}
