package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// mesh alerts lists the open alerts the alert workflows keep in the lake, with no
// Temporal: since, last sent, why and the fix; --json gives them whole; it exits 0
// with alerts open, and 1 when the lake cannot be read.
func TestMeshAlertsListsOpenAlerts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("MESHFLOW_LAKE", dir)
	out, code := meshCmd(ctx, "alerts")
	if code != exitOK || out != "no open alerts\n" {
		t.Fatalf("mesh alerts on a fresh lake: exit %d\n%s", code, out)
	}

	l, err := lake.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	since := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	open := []alert.Alert{
		{ID: "marketing.crm_contacts/check_blocked/2", Domain: "marketing", Product: "crm_contacts", Rule: mesh.AlertCheckBlocked,
			Since: since, NotifiedAt: since.Add(time.Hour), Notified: 2, Channels: []alert.Channel{alert.Slack, alert.Email},
			Reason: "the run at 2026-11-23 08:00 UTC published nothing: check unique_contact_id failed (4 rows)",
			Fix:    []string{"mesh check-rows marketing.crm_contacts unique_contact_id", "then, with the model or the data fixed: mesh run marketing.crm_contacts"},
			RunURL: "http://localhost:8233/namespaces/default/workflows/marketing.crm_contacts/r1/history"},
		{ID: "marketing.crm_contacts/freshness/3", Domain: "marketing", Product: "crm_contacts", Rule: mesh.AlertFreshness, Level: "stale",
			Since: since, Reason: "stale: last published 50h0m0s ago", Fix: []string{"mesh run marketing.crm_contacts"}},
	}
	if err := l.PutJSON(ctx, alert.Key("marketing", "crm_contacts"), alert.File{Domain: "marketing", Product: "crm_contacts", Open: open}); err != nil {
		t.Fatal(err)
	}
	out, code = meshCmd(ctx, "alerts")
	if code != exitOK {
		t.Fatalf("mesh alerts with alerts open: exit %d, want 0 (a listing)\n%s", code, out)
	}
	for _, want := range []string{
		"2 open alert(s):",
		"marketing.crm_contacts  check_blocked  since 2026-11-23 08:00 UTC, last sent 2026-11-23 09:00 UTC to slack, email (2 time(s))",
		"  why: the run at 2026-11-23 08:00 UTC published nothing: check unique_contact_id failed (4 rows)",
		"  fix: mesh check-rows marketing.crm_contacts unique_contact_id",
		"  run: " + open[0].RunURL,
		"marketing.crm_contacts  freshness (stale)  since 2026-11-23 08:00 UTC, sent nowhere: no alert channel is configured",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh alerts lacks %q:\n%s", want, out)
		}
	}
	out, code = meshCmd(ctx, "alerts", "--json")
	var got []alert.Alert
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitOK || len(got) != 2 || got[0].ID != open[0].ID || got[1].Level != "stale" {
		t.Errorf("mesh alerts --json: exit %d, %v\n%s", code, err, out)
	}

	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(alert.Key("marketing", "crm_contacts"))), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code = meshCmd(ctx, "alerts"); code != exitFailure || !strings.Contains(out, "alerts/marketing/crm_contacts.json") {
		t.Errorf("mesh alerts over a corrupt file: exit %d, want 1 naming the file\n%s", code, out)
	}
}
