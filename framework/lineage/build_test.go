package lineage_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/meshflow/meshflow/framework/lineage"
)

// The facet schemas the shared spec data does not hold; their events still validate
// against OpenLineage.json, which checks every facet's _producer and _schemaURL.
var notInSharedSpec = []string{
	"https://openlineage.io/spec/facets/1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet",
	"https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
}

func contactsRun() lineage.RunInfo {
	lake := lineage.DataSource{Name: "meshflow-lake", URI: "s3://lake"}
	ports := lineage.DataSource{Name: "meshflow-ports", URI: "s3://warehouse"}
	return lineage.RunInfo{
		Domain: "marketing", Product: "crm_contacts", Description: "Contacts.", Owner: "marketing-analytics",
		Model:      "SELECT c.id, c.email, p.name FROM hubspot.contacts c JOIN identity.people p USING (id)",
		WorkflowID: "marketing.crm_contacts/current", RunID: "0199-run",
		Inputs: []lineage.DatasetInfo{
			{Namespace: lake.URI, Name: "raw/marketing/hubspot/contacts", Source: lake, Rows: lineage.Rows(120),
				Columns: []lineage.Column{{Name: "id", Type: "VARCHAR"}, {Name: "email", Type: "VARCHAR", Doc: "e-mail"}}},
			{Namespace: ports.URI, Name: "identity.people_v1", Source: ports, Version: "77",
				Columns: []lineage.Column{{Name: "id", Type: "VARCHAR"}, {Name: "name", Type: "VARCHAR"}}},
		},
		Output: lineage.DatasetInfo{Namespace: ports.URI, Name: "marketing.crm_contacts_v1", Source: ports, Rows: lineage.Rows(118), Version: lineage.Version(8150),
			Columns: []lineage.Column{{Name: "id", Type: "VARCHAR"}, {Name: "email", Type: "VARCHAR"}, {Name: "name", Type: "VARCHAR"}, {Name: "score", Type: "DOUBLE"}}},
		Error: "transform: Binder Error: column x not found",
	}
}

// TestEventsFollowTheSpec: START, COMPLETE, FAIL and ABORT of a run validate against
// the OpenLineage schemas (each facet against its own where the shared data has it),
// and say what each transition knows.
func TestEventsFollowTheSpec(t *testing.T) {
	s := loadSpec(t)
	r := contactsRun()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, typ := range []lineage.EventType{lineage.Start, lineage.Complete, lineage.Fail, lineage.Abort} {
		t.Run(string(typ), func(t *testing.T) {
			ev := r.Event(typ, at)
			body := mustJSON(t, ev)
			unchecked := s.validate(t, body)
			for _, u := range unchecked {
				if !slices.Contains(notInSharedSpec, u) {
					t.Errorf("facet %s has no schema in the shared spec data: is its URL right?", u)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got["eventType"] != string(typ) || got["eventTime"] != "2026-12-04T10:00:00Z" {
				t.Errorf("eventType %v, eventTime %v", got["eventType"], got["eventTime"])
			}
			job := got["job"].(map[string]any)
			if job["namespace"] != "meshflow" || job["name"] != "marketing.crm_contacts" {
				t.Errorf("job %v", job)
			}
			out := got["outputs"].([]any)[0].(map[string]any)
			_, hasStats := out["outputFacets"]
			_, hasVersion := out["facets"].(map[string]any)["version"]
			if hasStats != (typ == lineage.Complete) || hasVersion != (typ == lineage.Complete) {
				t.Errorf("%s: output statistics %v, version %v; want them on COMPLETE only", typ, hasStats, hasVersion)
			}
			in := got["inputs"].([]any)[0].(map[string]any)
			if _, ok := in["inputFacets"]; ok != typ.Ends() {
				t.Errorf("%s: input statistics %v; want them once the run ended", typ, ok)
			}
			_, hasError := got["run"].(map[string]any)["facets"]
			if hasError != (typ == lineage.Fail || typ == lineage.Abort) {
				t.Errorf("%s: error message %v", typ, hasError)
			}
		})
	}
	ev := r.Event(lineage.Complete, at)
	if got := *ev.Outputs[0].OutputFacets.OutputStatistics; got.RowCount != 118 {
		t.Errorf("output rows %d, want 118", got.RowCount)
	}
	if got := ev.Outputs[0].Facets.Version.DatasetVersion; got != "8150" {
		t.Errorf("version %q, want the snapshot id", got)
	}
	if got := ev.Inputs[0].InputFacets.InputStatistics.RowCount; got != 120 {
		t.Errorf("input rows %d, want 120", got)
	}
	if ev.Inputs[1].InputFacets != nil || ev.Inputs[1].Facets.Version.DatasetVersion != "77" {
		t.Errorf("product input statistics %+v, version %+v; want none (not known), the snapshot read", ev.Inputs[1].InputFacets, ev.Inputs[1].Facets.Version)
	}
}

// TestColumnLineageByName: a port column maps to the column of the same name of the
// one input that has it; a column two inputs have, or none, is left out.
func TestColumnLineageByName(t *testing.T) {
	ev := contactsRun().Event(lineage.Start, time.Now())
	cl := ev.Outputs[0].Facets.ColumnLineage
	if cl == nil {
		t.Fatal("no column lineage")
	}
	var cols []string
	for c := range cl.Fields {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	if want := []string{"email", "name"}; !slices.Equal(cols, want) {
		t.Fatalf("column lineage of %v, want %v (id is in both inputs, score in none)", cols, want)
	}
	email := cl.Fields["email"].InputFields
	if len(email) != 1 || email[0].Name != "raw/marketing/hubspot/contacts" || email[0].Namespace != "s3://lake" || email[0].Field != "email" {
		t.Errorf("email from %+v", email)
	}
	name := cl.Fields["name"].InputFields
	if len(name) != 1 || name[0].Name != "identity.people_v1" || name[0].Field != "name" {
		t.Errorf("name from %+v", name)
	}
}

// TestRunIDIsAUUIDOfTheTemporalRun: the same Temporal run always gets the same
// OpenLineage run id, another run another.
func TestRunIDIsAUUIDOfTheTemporalRun(t *testing.T) {
	a := lineage.RunID("marketing.crm_contacts/current", "run-1")
	if _, err := uuid.Parse(a); err != nil {
		t.Fatalf("%q: %v", a, err)
	}
	if b := lineage.RunID("marketing.crm_contacts/current", "run-1"); b != a {
		t.Errorf("%s then %s for the same run", a, b)
	}
	for _, other := range [][2]string{{"marketing.crm_contacts/current", "run-2"}, {"marketing.crm_contacts/current-run-1", ""}} {
		if b := lineage.RunID(other[0], other[1]); b == a {
			t.Errorf("%v has the id of another run", other)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://marquez:5000", "http://marquez:5000/api/v1/lineage"},
		{"http://marquez:5000/", "http://marquez:5000/api/v1/lineage"},
		{"https://lineage.example.com/api/v1/lineage", "https://lineage.example.com/api/v1/lineage"},
	} {
		if got := (lineage.Config{URL: tc.url}).Endpoint(); got != tc.want {
			t.Errorf("Endpoint of %s = %s, want %s", tc.url, got, tc.want)
		}
	}
	for _, bad := range []lineage.Config{{URL: "marquez:5000"}, {URL: "ftp://x"}, {APIKey: "k"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v is valid", bad)
		}
	}
	if err := (lineage.Config{}).Validate(); err != nil {
		t.Errorf("no receiver: %v", err)
	}
	raw, ports := lineage.Config{}.Namespaces("s3://lake/prefix?region=eu-west-1&endpoint=http://minio:9000")
	if raw.Namespace() != "s3://lake/prefix" || ports.Namespace() != "meshflow-ports" || ports.URI != "" {
		t.Errorf("namespaces %+v %+v", raw, ports)
	}
}
