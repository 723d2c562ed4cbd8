package catalog

import (
	"context"
	"encoding/json"
	"html"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// TestProductShowsItsOpenAlertsAndAlertsJudgeTheCatalogsFreshness: the product page
// and /api/products/<name> show the open alerts the alert workflow wrote to the
// lake (none: an empty list), and the freshness alerts judge is the catalog's,
// inputs included.
func TestProductShowsItsOpenAlertsAndAlertsJudgeTheCatalogsFreshness(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, ports := testStoresIn(t, dir)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	publishAt(t, ports, port.PortTable("sales", "up", 1), "1.0.0", now.Add(-72*time.Hour)) // stale
	publishAt(t, ports, port.PortTable("sales", "down", 2), "2.0.0", now.Add(-time.Hour))  // fresh on its own
	c := &Catalog{Mesh: chainMesh(), Ports: ports, Lake: l, Now: func() time.Time { return now }}

	up, err := c.AlertFreshness(ctx, "sales", "up")
	if err != nil || up.Status != mesh.StatusFail || !up.PublishedAt.Equal(now.Add(-72*time.Hour)) || up.Age != "3d" || up.Inputs {
		t.Errorf("sales.up's freshness = %+v, %v: want stale since its own publish", up, err)
	}
	down, err := c.AlertFreshness(ctx, "sales", "down")
	if err != nil || down.Status != mesh.StatusFail || !down.Inputs || !strings.Contains(down.Reason, "sales.up") {
		t.Errorf("sales.down's freshness = %+v, %v: want stale because of its input", down, err)
	}

	open := alert.Alert{ID: "sales.up/freshness/1", Domain: "sales", Product: "up", Owner: "team", Rule: mesh.AlertFreshness, Level: "stale",
		Since: now.Add(-time.Hour), NotifiedAt: now.Add(-time.Hour), Notified: 1, Channels: []alert.Channel{alert.Slack},
		Reason: "stale: last published 72h0m0s ago", Fix: []string{"mesh run sales.up"}, RunURL: "http://localhost:8233/namespaces/default/workflows/sales.up/r1/history"}
	if err := l.PutJSON(ctx, alert.Key("sales", "up"), alert.File{Domain: "sales", Product: "up", Open: []alert.Alert{open}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	_, page := get(t, srv.URL+"/products/sales.up")
	page = html.UnescapeString(page)
	for _, want := range []string{"Open alerts", "freshness</b> (stale) since 2026-11-23 11:00 UTC", "last sent 2026-11-23 11:00 UTC to slack", "stale: last published 72h0m0s ago", "fix: <code>mesh run sales.up</code>", open.RunURL} {
		if !strings.Contains(page, want) {
			t.Errorf("product page lacks %q", want)
		}
	}
	var api struct{ Alerts []alert.Alert }
	code, body := get(t, srv.URL+"/api/products/sales.up")
	if err := json.Unmarshal([]byte(body), &api); err != nil || code != 200 || len(api.Alerts) != 1 || api.Alerts[0].ID != open.ID {
		t.Errorf("api alerts = %+v (%d, %v)", api.Alerts, code, err)
	}
	_, body = get(t, srv.URL+"/api/products/sales.down")
	if !strings.Contains(body, `"alerts": []`) {
		t.Errorf("a product without alerts: want \"alerts\": [] in %.300s", body)
	}
	if _, page = get(t, srv.URL+"/products/sales.down"); strings.Contains(page, "Open alerts") {
		t.Error("a product without alerts shows an alerts box")
	}
}
