package query

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// accounts is keyed on two columns, so matching by the whole key is tested.
var (
	accounts      = mesh.Entry{Domain: mesh.Domain{Name: "sales"}, Product: mesh.Product{Name: "accounts", Version: "1.2.0", PrimaryKey: []string{"region", "account_id"}}}
	accountsTable = port.PortTable("sales", "accounts", 1)

	accountsV1 = arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "account_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "employees", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	accountsV2 = arrow.NewSchema(append(accountsV1.Fields(), arrow.Field{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
)

// publishAccounts publishes two snapshots of sales.accounts_v1: the second adds the
// column country, changes eu/1's employees and us/2's name and employees, removes
// eu/2, adds us/4, and leaves us/1 (employees NULL in both) and us/3 as they were.
func publishAccounts(t *testing.T) (*fixture, port.Snapshot, port.Snapshot) {
	t.Helper()
	f := newFixture(t)
	before := publish(t, f.cat, accountsTable, accountsV1, `[
		{"region": "eu", "account_id": 1, "name": "Acme", "employees": 120},
		{"region": "eu", "account_id": 2, "name": "Globex", "employees": 40},
		{"region": "us", "account_id": 1, "name": "Initech", "employees": null},
		{"region": "us", "account_id": 2, "name": "Umbrella", "employees": 10},
		{"region": "us", "account_id": 3, "name": "Hooli", "employees": 5}]`)
	after := publish(t, f.cat, accountsTable, accountsV2, `[
		{"region": "us", "account_id": 4, "name": "Stark", "employees": 900, "country": "US"},
		{"region": "eu", "account_id": 1, "name": "Acme", "employees": 150, "country": "DE"},
		{"region": "us", "account_id": 1, "name": "Initech", "employees": null, "country": "US"},
		{"region": "us", "account_id": 2, "name": "Umbrella Corp", "employees": 11, "country": "US"},
		{"region": "us", "account_id": 3, "name": "Hooli", "employees": 5, "country": null}]`)
	return f, before, after
}

func (f *fixture) diff(t *testing.T, tweak ...func(*DiffRequest)) (*DiffResult, error) {
	t.Helper()
	req := DiffRequest{Product: accounts, Ports: f.cat, Examples: 5, ScratchDir: t.TempDir()}
	for _, fn := range tweak {
		fn(&req)
	}
	return Diff(context.Background(), req)
}

// By default the current snapshot is compared with the one before it: every kind of
// change is counted, named and shown, and the added column is a schema change, not a
// change of every row.
func TestDiffOfTheLastPublish(t *testing.T) {
	f, before, after := publishAccounts(t)
	d, err := f.diff(t)
	if err != nil {
		t.Fatal(err)
	}
	if d.From.Snapshot != before.ID || d.To.Snapshot != after.ID || d.From.Rows != 5 || d.To.Rows != 5 || d.Table != "sales.accounts_v1" {
		t.Errorf("sides: from %+v to %+v of %s; want snapshots %d (5 rows) and %d (5 rows)", d.From, d.To, d.Table, before.ID, after.ID)
	}
	if d.Added != 1 || d.Removed != 1 || d.Changed != 2 || d.Unchanged != 2 {
		t.Errorf("added %d, removed %d, changed %d, unchanged %d; want 1, 1, 2, 2", d.Added, d.Removed, d.Changed, d.Unchanged)
	}
	if want := []ColumnChange{{"name", 1}, {"employees", 2}}; !slices.Equal(d.ChangedColumns, want) {
		t.Errorf("changed columns %v, want %v", d.ChangedColumns, want)
	}
	if want := []SchemaChange{{Column: "country", Change: "added", After: "VARCHAR"}}; !slices.Equal(d.Schema, want) {
		t.Errorf("schema changes %v, want %v", d.Schema, want)
	}
	wantLines(t, csvOf(t, d.AddedRows.Result), "region,account_id,name,employees,country", "us,4,Stark,900,US")
	wantLines(t, csvOf(t, d.RemovedRows.Result), "region,account_id,name,employees", "eu,2,Globex,40")
	wantLines(t, csvOf(t, d.ChangedRows.Result),
		"region,account_id,column,before,after",
		"eu,1,employees,120,150",
		"us,2,name,Umbrella,Umbrella Corp",
		"us,2,employees,10,11")
	if len(d.Warnings) != 0 {
		t.Errorf("warnings %v on unique keys", d.Warnings)
	}

	// The JSON carries the same, the examples typed.
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Added     int64            `json:"added"`
		AddedRows []map[string]any `json:"added_rows"`
		Changed   []map[string]any `json:"changed_values"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if back.Added != 1 || len(back.AddedRows) != 1 || back.AddedRows[0]["employees"] != float64(900) || len(back.Changed) != 3 || back.Changed[1]["after"] != "Umbrella Corp" {
		t.Errorf("JSON: %s", js)
	}

	// Backwards (--from newer --to older) every change is mirrored.
	d, err = f.diff(t, func(r *DiffRequest) { r.From, r.To = after.ID, before.ID })
	if err != nil {
		t.Fatal(err)
	}
	if d.Added != 1 || d.Removed != 1 || d.Changed != 2 || len(d.Schema) != 1 || d.Schema[0].Change != "removed" {
		t.Errorf("reversed: added %d, removed %d, changed %d, schema %v", d.Added, d.Removed, d.Changed, d.Schema)
	}
	wantLines(t, csvOf(t, d.AddedRows.Result), "region,account_id,name,employees", "eu,2,Globex,40")

	// Examples 0: the counts alone.
	d, err = f.diff(t, func(r *DiffRequest) { r.Examples = 0 })
	if err != nil || d.Changed != 2 || d.AddedRows.Result != nil || d.ChangedRows.Result != nil {
		t.Errorf("Examples 0: %v, %+v", err, d)
	}
}

// Each way a diff cannot be made says what exists and what to run.
func TestDiffErrors(t *testing.T) {
	f, before, after := publishAccounts(t)
	_, err := f.diff(t, func(r *DiffRequest) { r.From = 42 })
	wantErr(t, err, errs.NotFound, "sales.accounts_v1 has no snapshot 42 (--from)", "its recent snapshots are "+strconv.FormatInt(after.ID, 10), strconv.FormatInt(before.ID, 10), "mesh show sales.accounts")
	_, err = f.diff(t, func(r *DiffRequest) { r.To = 7 })
	wantErr(t, err, errs.NotFound, "no snapshot 7 (--to)")
	_, err = f.diff(t, func(r *DiffRequest) { r.To = before.ID })
	wantErr(t, err, errs.NotFound, "snapshot "+strconv.FormatInt(before.ID, 10)+" is the first of sales.accounts_v1", "give --from")
	orgs := mesh.Entry{Domain: testMesh.Domains[1], Product: testMesh.Domains[1].Products[0]}
	_, err = f.diff(t, func(r *DiffRequest) { r.Product = orgs })
	wantErr(t, err, errs.NotFound, "market_intelligence.organizations_v1 has only one snapshot", "after the next run of market_intelligence.organizations, `mesh diff market_intelligence.organizations` shows what that run changed")

	never := accounts
	never.Product.Name = "leads"
	_, err = f.diff(t, func(r *DiffRequest) { r.Product = never })
	wantErr(t, err, errs.NotFound, "sales.leads_v1 has never been published", "run `mesh run sales.leads` first")

	keyless := accounts
	keyless.Product.PrimaryKey = nil
	_, err = f.diff(t, func(r *DiffRequest) { r.Product = keyless })
	wantErr(t, err, errs.Invalid, "declares no primary key")

	// A refusal stops the diff before any snapshot is looked up.
	refused := errors.New("sales.accounts is restricted")
	_, err = f.diff(t, func(r *DiffRequest) {
		r.To = 7 // would be NotFound if looked up
		r.Authorize = func(context.Context, mesh.Entry, port.TableID) error { return refused }
	})
	wantErr(t, err, errs.Permission, "restricted")
}

// A model's output that was never published is compared with the current snapshot;
// a column the model types differently is a schema change, compared as text.
func TestDiffOfAProposedOutput(t *testing.T) {
	f, _, after := publishAccounts(t)
	out := filepath.Join(t.TempDir(), "model.parquet")
	db, err := transform.Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`COPY (SELECT * FROM (VALUES
		('eu', 1::BIGINT, 'Acme', 150::INTEGER, 'DE'),
		('us', 1, 'Initech', NULL, 'US'),
		('us', 2, 'Umbrella Corp', 12, 'US'),
		('us', 3, 'Hooli', 5, NULL),
		('us', 4, 'Stark', 900, 'US')) AS t(region, account_id, name, employees, country)) TO ` + quality.Literal(out) + ` (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	d, err := f.diff(t, func(r *DiffRequest) { r.Proposed = out })
	if err != nil {
		t.Fatal(err)
	}
	if d.From.Snapshot != after.ID || !d.To.Proposed || d.To.Snapshot != 0 || d.To.Rows != 5 {
		t.Errorf("sides: %+v → %+v; want snapshot %d → the proposed output", d.From, d.To, after.ID)
	}
	if d.Added != 0 || d.Removed != 0 || d.Changed != 1 || d.Unchanged != 4 {
		t.Errorf("added %d, removed %d, changed %d, unchanged %d; want 0, 0, 1, 4", d.Added, d.Removed, d.Changed, d.Unchanged)
	}
	if want := []SchemaChange{{Column: "employees", Change: "retyped", Before: "BIGINT", After: "INTEGER"}}; !slices.Equal(d.Schema, want) {
		t.Errorf("schema changes %v, want %v", d.Schema, want)
	}
	wantLines(t, csvOf(t, d.ChangedRows.Result), "region,account_id,column,before,after", "us,2,employees,11,12")

	_, err = f.diff(t, func(r *DiffRequest) { r.Proposed, r.To = out, after.ID })
	wantErr(t, err, errs.Invalid, "To must be 0")

	// A model that repeats a key is still compared, and the diff says its counts are
	// not one per key.
	repeated := filepath.Join(t.TempDir(), "repeated.parquet")
	if _, err := db.Exec(`COPY (SELECT * FROM read_parquet(` + quality.Literal(out) + `) UNION ALL SELECT 'us', 4, 'Stark', 901, 'US') TO ` + quality.Literal(repeated) + ` (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	d, err = f.diff(t, func(r *DiffRequest) { r.Proposed = repeated })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 keys (region, account_id) repeat in the newer side: their rows are matched pairwise, so the counts are not one per key"}; !slices.Equal(d.Warnings, want) || d.Changed != 2 {
		t.Errorf("a repeated key: changed %d, warnings %q; want 2 and %q", d.Changed, d.Warnings, want)
	}
}
