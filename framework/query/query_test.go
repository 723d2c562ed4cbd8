package query

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
)

// testMesh declares two ports that get published and a restricted one that never is.
var testMesh = mesh.Mesh{Domains: []mesh.Domain{
	{Name: "marketing", Owner: "marketing-analytics", Products: []mesh.Product{{
		Name: "crm_companies", Version: "1.0.0", PrimaryKey: []string{"company_id"}, Classification: mesh.Internal,
		Schema: []mesh.Column{{Name: "company_id", Type: mesh.String}, {Name: "name", Type: mesh.String}, {Name: "web_domain", Type: mesh.String}, {Name: "employees", Type: mesh.Int64}},
	}}},
	{Name: "market_intelligence", Owner: "market-intelligence", Products: []mesh.Product{{
		Name: "organizations", Version: "1.0.0", PrimaryKey: []string{"organization_id"}, Classification: mesh.Internal,
		Schema: []mesh.Column{{Name: "organization_id", Type: mesh.String}, {Name: "web_domain", Type: mesh.String}, {Name: "funding_total_usd", Type: mesh.Float64}, {Name: "founded_on", Type: mesh.Date}, {Name: "updated_at", Type: mesh.Timestamp}},
	}}},
	{Name: "hr", Owner: "people", Products: []mesh.Product{{
		Name: "salaries", Version: "2.1.0", PrimaryKey: []string{"employee_id"}, Classification: mesh.Restricted, AllowedGroups: []string{"hr"},
		Schema: []mesh.Column{{Name: "employee_id", Type: mesh.String}, {Name: "salary", Type: mesh.Float64}},
	}}},
}}

var (
	companies     = port.PortTable("marketing", "crm_companies", 1)
	organizations = port.PortTable("market_intelligence", "organizations", 1)

	companiesSchema = arrow.NewSchema([]arrow.Field{
		{Name: "company_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "web_domain", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "employees", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	orgsSchema = arrow.NewSchema([]arrow.Field{
		{Name: "organization_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "web_domain", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "funding_total_usd", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "founded_on", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
)

type fixture struct {
	cat            *port.Catalog
	dir            string
	first, current port.Snapshot // of crm_companies_v1
}

// newFixture publishes crm_companies_v1 twice (acme+globex, then acme+initech) and
// organizations_v1 once.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cat.Close(); err != nil {
			t.Error(err)
		}
	})
	f := &fixture{cat: cat, dir: dir}
	f.first = publish(t, cat, companies, companiesSchema, `[
		{"company_id": "c1", "name": "Acme", "web_domain": "acme.com", "employees": 120},
		{"company_id": "c2", "name": "Globex", "web_domain": "globex.com", "employees": 40}]`)
	// SnapshotAsOf has millisecond resolution: the next snapshot must be a later one.
	for time.Now().UnixMilli() <= f.first.Timestamp.UnixMilli() {
		time.Sleep(100 * time.Microsecond)
	}
	f.current = publish(t, cat, companies, companiesSchema, `[
		{"company_id": "c1", "name": "Acme", "web_domain": "acme.com", "employees": 150},
		{"company_id": "c3", "name": "Initech", "web_domain": "initech.com", "employees": null}]`)
	if !f.current.Timestamp.After(f.first.Timestamp) {
		t.Fatalf("snapshots in the same millisecond: %v, %v", f.first.Timestamp, f.current.Timestamp)
	}
	publish(t, cat, organizations, orgsSchema, `[
		{"organization_id": "o1", "web_domain": "acme.com", "funding_total_usd": 2500000.5, "founded_on": "2001-02-03", "updated_at": "2026-01-02T03:04:05.123456"},
		{"organization_id": "o9", "web_domain": "other.com", "funding_total_usd": null, "founded_on": null, "updated_at": "2026-01-01T00:00:00"}]`)
	return f
}

func publish(t *testing.T, cat *port.Catalog, id port.TableID, sc *arrow.Schema, rowsJSON string) port.Snapshot {
	t.Helper()
	return publishOn(t, cat, id, "", sc, rowsJSON)
}

// publishOn publishes to branch ("" = main).
func publishOn(t *testing.T, cat *port.Catalog, id port.TableID, branch string, sc *arrow.Schema, rowsJSON string) port.Snapshot {
	t.Helper()
	return porttest.PublishJSON(t, cat, id, sc, rowsJSON, port.PublishRequest{Mode: port.Replace{}, Branch: branch})
}

func (f *fixture) run(t *testing.T, sql string, tweak ...func(*Request)) (*Result, error) {
	t.Helper()
	req := Request{SQL: sql, Mesh: testMesh, Ports: f.cat, ScratchDir: t.TempDir()}
	for _, fn := range tweak {
		fn(&req)
	}
	return Run(context.Background(), req)
}

func (f *fixture) mustRun(t *testing.T, sql string, tweak ...func(*Request)) *Result {
	t.Helper()
	res, err := f.run(t, sql, tweak...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// csvOf is the result as CSV lines, the simplest faithful view of it for assertions.
func csvOf(t *testing.T, res *Result) []string {
	t.Helper()
	var b bytes.Buffer
	if err := res.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantErr(t *testing.T, err error, kind errs.Kind, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want a %s error saying %q", kind, parts)
	}
	if errs.KindOf(err) != kind {
		t.Errorf("error kind = %s, want %s: %v", errs.KindOf(err), kind, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not say %q: %v", p, err)
		}
	}
}

func TestCrossPortJoin(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, `
		SELECT c.name, c.employees, o.funding_total_usd
		FROM marketing.crm_companies_v1 c
		LEFT JOIN "Market_Intelligence".ORGANIZATIONS_V1 o USING (web_domain) -- identifiers are case-insensitive
		ORDER BY c.name;`)
	wantLines(t, csvOf(t, res),
		"name,employees,funding_total_usd",
		"Acme,150,2500000.5",
		"Initech,,")
	if len(res.Read) != 2 || res.Read[0].Table != organizations || res.Read[1].Table != companies || res.Read[1].Snapshot.ID != f.current.ID {
		t.Errorf("Read = %+v; want both ports at their current snapshots", res.Read)
	}
	wantTypes := []Column{{"name", "VARCHAR"}, {"employees", "BIGINT"}, {"funding_total_usd", "DOUBLE"}}
	if !slices.Equal(res.Columns, wantTypes) {
		t.Errorf("Columns = %v, want %v", res.Columns, wantTypes)
	}
	if v := res.Rows[0][1]; v != int64(150) {
		t.Errorf("employees = %#v, want int64 150", v)
	}
}

func TestAsOf(t *testing.T) {
	f := newFixture(t)
	id := strconv.FormatInt(f.first.ID, 10)

	res := f.mustRun(t, "SELECT name, employees FROM marketing.crm_companies_v1 AS OF "+id+" ORDER BY name")
	wantLines(t, csvOf(t, res), "name,employees", "Acme,120", "Globex,40")
	if len(res.Read) != 1 || res.Read[0].Snapshot.ID != f.first.ID || res.Read[0].AsOf != id {
		t.Errorf("Read = %+v", res.Read)
	}

	at := f.first.Timestamp.UTC().Format(time.RFC3339Nano)
	res = f.mustRun(t, "SELECT name FROM marketing.crm_companies_v1 AS OF '"+at+"' ORDER BY name")
	wantLines(t, csvOf(t, res), "name", "Acme", "Globex")

	// The port now and then in one query, and an unaliased AS OF still answers to the
	// port's name.
	res = f.mustRun(t, `SELECT now.company_id, crm_companies_v1.employees AS was, now.employees AS is
		FROM marketing.crm_companies_v1 AS now
		FULL JOIN marketing.crm_companies_v1 AS OF `+id+` USING (company_id) ORDER BY 1`)
	wantLines(t, csvOf(t, res), "company_id,was,is", "c1,120,150", "c3,,", ",40,")
	if len(res.Read) != 2 {
		t.Errorf("Read = %+v; want the current and the old snapshot", res.Read)
	}

	res = f.mustRun(t, "SELECT count(*) AS n FROM marketing.crm_companies_v1 AS OF '2999-01-01 00:00:00'")
	wantLines(t, csvOf(t, res), "n", "2")

	_, err := f.run(t, "SELECT * FROM marketing.crm_companies_v1 AS OF 42")
	wantErr(t, err, errs.NotFound, "marketing.crm_companies_v1 has no snapshot 42", strconv.FormatInt(f.current.ID, 10), id)

	_, err = f.run(t, "SELECT * FROM marketing.crm_companies_v1 AS OF '2001-01-01 00:00:00'")
	wantErr(t, err, errs.NotFound, "had no snapshot yet at 2001-01-01T00:00:00Z", "its first is "+id)

	_, err = f.run(t, "SELECT * FROM marketing.crm_companies_v1 AS OF 'last tuesday'")
	wantErr(t, err, errs.Invalid, "RFC 3339")

	_, err = f.run(t, "SELECT * FROM crm_companies_v1 AS OF 1")
	wantErr(t, err, errs.Invalid, "must follow a port named domain.product_vN")
}

func TestUnknownPortsAreNamed(t *testing.T) {
	f := newFixture(t)
	for sql, want := range map[string]string{
		"SELECT * FROM marketing.crm_company_v1":              "no port marketing.crm_company_v1: did you mean marketing.crm_companies_v1?",
		"SELECT * FROM marketing.crm_companies":               "did you mean marketing.crm_companies_v1?",
		"SELECT * FROM marketting.crm_companies_v1":           "did you mean marketing.crm_companies_v1?",
		"SELECT * FROM marketing.web_traffic_v1":              "that domain's ports are marketing.crm_companies_v1",
		"SELECT * FROM marketing.crm_companies_v2 AS OF 1":    "did you mean marketing.crm_companies_v1?",
		"SELECT * FROM (SELECT 1) JOIN nowhere.x_v1 ON true":  "no port nowhere.x_v1",
		"WITH c AS (SELECT * FROM marketing.nope_v1) FROM c":  "no port marketing.nope_v1",
		"SELECT 1 WHERE 1 IN (SELECT 1 FROM marketing.zz_v1)": "no port marketing.zz_v1",
	} {
		_, err := f.run(t, sql)
		wantErr(t, err, errs.NotFound, want, "`mesh products` lists them")
	}
	_, err := f.run(t, "SELECT * FROM crm_companies_v1")
	wantErr(t, err, errs.NotFound, "name ports with their domain: marketing.crm_companies_v1")
}

func TestNotPublishedPort(t *testing.T) {
	f := newFixture(t)
	_, err := f.run(t, "SELECT * FROM hr.salaries_v2")
	wantErr(t, err, errs.NotFound, "hr.salaries_v2 is not published yet: run `mesh run hr.salaries`")
}

func TestAuthorizeSeesOnlyTheNamedPorts(t *testing.T) {
	f := newFixture(t)
	var asked []string
	allowMarketing := func(r *Request) {
		r.Authorize = func(_ context.Context, e mesh.Entry, id port.TableID) error {
			asked = append(asked, e.Ref().String()+"→"+id.String()+":"+string(e.Product.Classification))
			if e.Domain.Name != "marketing" {
				return errs.Errorf(errs.Permission, "access", "%s is not readable by you", id)
			}
			return nil
		}
	}
	res := f.mustRun(t, "SELECT count(*) AS n FROM marketing.crm_companies_v1", allowMarketing)
	wantLines(t, csvOf(t, res), "n", "2")
	// The restricted, unpublished hr port is neither asked about nor touched.
	wantLines(t, asked, "marketing.crm_companies→marketing.crm_companies_v1:internal")

	asked = nil
	_, err := f.run(t, "SELECT * FROM marketing.crm_companies_v1 JOIN market_intelligence.organizations_v1 AS OF 1 USING (web_domain)", allowMarketing)
	wantErr(t, err, errs.Permission, "market_intelligence.organizations_v1 is not readable by you")
	// Refused before AS OF 1 is looked up: that would be a not-found error.
	wantLines(t, asked, "market_intelligence.organizations→market_intelligence.organizations_v1:internal")

	_, err = f.run(t, "SELECT * FROM market_intelligence.organizations_v1", func(r *Request) {
		r.Authorize = func(context.Context, mesh.Entry, port.TableID) error { return errors.New("not in group hr") }
	})
	wantErr(t, err, errs.Permission, "query: read market_intelligence.organizations_v1: not in group hr")
}

func TestOnlyOneSelectRuns(t *testing.T) {
	f := newFixture(t)
	for _, sql := range []string{
		"COPY marketing.crm_companies_v1 TO '/tmp/out.csv'",
		"ATTACH '/tmp/other.db' AS other",
		"INSTALL httpfs",
		"LOAD httpfs",
		"CREATE TABLE x AS SELECT * FROM marketing.crm_companies_v1",
		"INSERT INTO marketing.crm_companies_v1 VALUES ('x', 'y', 'z', 1)",
		"SET enable_external_access = true",
		"PRAGMA enable_profiling",
		"CALL pragma_version()",
		"EXPORT DATABASE '/tmp/x'",
		"DROP VIEW marketing.crm_companies_v1",
	} {
		_, err := f.run(t, sql)
		wantErr(t, err, errs.Invalid, "only a read-only query can run")
	}
	_, err := f.run(t, "SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'")
	wantErr(t, err, errs.Invalid)
	_, err = f.run(t, "SELECT 1; SELECT 2")
	wantErr(t, err, errs.Invalid, "2 statements: run one query at a time")
	_, err = f.run(t, "SELEC 1")
	wantErr(t, err, errs.Invalid, "does not parse", "SELEC")
	_, err = f.run(t, "  -- nothing\n")
	wantErr(t, err, errs.Invalid, "no SQL")

	// The other read-only forms run.
	res := f.mustRun(t, "FROM marketing.crm_companies_v1 SELECT count(*) AS n")
	wantLines(t, csvOf(t, res), "n", "2")
	res = f.mustRun(t, "DESCRIBE marketing.crm_companies_v1")
	if len(res.Rows) != 4 || res.Rows[0][0] != "company_id" {
		t.Errorf("DESCRIBE = %v", res.Rows)
	}
	res = f.mustRun(t, "VALUES (1), (2)")
	if len(res.Rows) != 2 {
		t.Errorf("VALUES = %v", res.Rows)
	}
}

func TestNoFileAccess(t *testing.T) {
	f := newFixture(t)
	_, err := f.run(t, "SELECT * FROM read_csv('/etc/passwd')")
	wantErr(t, err, errs.Permission, `Cannot access file "/etc/passwd"`, "reads only ports")

	// The data files of a port the query does not name are out of reach too, though
	// those of the port it names are read through its view.
	files, err := f.cat.DataFiles(context.Background(), organizations, 0)
	if err != nil || len(files) == 0 {
		t.Fatalf("DataFiles = %v, %v", files, err)
	}
	_, err = f.run(t, "SELECT count(*) FROM marketing.crm_companies_v1, read_parquet('"+files[0]+"')")
	wantErr(t, err, errs.Permission, "Cannot access file")
	_, err = f.run(t, "SELECT * FROM glob('"+f.dir+"/*')")
	wantErr(t, err, errs.Permission)
}

func TestMaxRowsKeepsTheOrder(t *testing.T) {
	f := newFixture(t)
	sql := "SELECT range AS n FROM range(1000) ORDER BY n DESC"
	res := f.mustRun(t, sql, func(r *Request) { r.MaxRows = 3 })
	wantLines(t, csvOf(t, res), "n", "999", "998", "997")
	if !res.Truncated {
		t.Error("Truncated = false with 997 rows left")
	}
	res = f.mustRun(t, "SELECT * FROM marketing.crm_companies_v1", func(r *Request) { r.MaxRows = 2 })
	if res.Truncated || len(res.Rows) != 2 {
		t.Errorf("exactly MaxRows rows: Truncated = %v, %d rows", res.Truncated, len(res.Rows))
	}
}

// typesSQL has one column of every kind of value the writers format.
const typesSQL = `SELECT o.organization_id AS id, o.funding_total_usd AS funding, o.founded_on, o.updated_at,
	sum(c.employees) OVER () AS total_employees, 1.50::DECIMAL(10,2) AS price, c.name || ', "Inc"' || chr(10) || 'x' AS label,
	[1, 2] AS list, {'k': 'v'} AS struct, INTERVAL 3 DAY AS wait, true AS ok, 'NaN'::DOUBLE AS nan
	FROM market_intelligence.organizations_v1 o LEFT JOIN marketing.crm_companies_v1 c USING (web_domain)
	ORDER BY id`

func TestCSV(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, typesSQL)
	var b bytes.Buffer
	if err := res.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b.String())
	}
	want := [][]string{
		{"id", "funding", "founded_on", "updated_at", "total_employees", "price", "label", "list", "struct", "wait", "ok", "nan"},
		{"o1", "2500000.5", "2001-02-03", "2026-01-02 03:04:05.123456", "150", "1.50", "Acme, \"Inc\"\nx", "[1, 2]", "{'k': v}", "3 days", "true", "NaN"},
		{"o9", "", "", "2026-01-01 00:00:00", "150", "1.50", "", "[1, 2]", "{'k': v}", "3 days", "true", "NaN"},
	}
	if !slices.EqualFunc(recs, want, slices.Equal) {
		t.Fatalf("CSV read back as\n%q\nwant\n%q", recs, want)
	}
}

func TestJSON(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, typesSQL)
	var b bytes.Buffer
	if err := res.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if len(rows) != 2 {
		t.Fatalf("%d objects, want 2:\n%s", len(rows), b.String())
	}
	got, _ := json.Marshal(rows[0])
	want := `{"founded_on":"2001-02-03","funding":2500000.5,"id":"o1","label":"Acme, \"Inc\"\nx","list":[1,2],"nan":"NaN","ok":true,"price":1.50,"struct":{"k":"v"},"total_employees":150,"updated_at":"2026-01-02T03:04:05.123456Z","wait":"3 days"}`
	if string(got) != want {
		t.Errorf("first object\n got %s\nwant %s", got, want)
	}
	if rows[1]["funding"] != nil || rows[1]["founded_on"] != nil {
		t.Errorf("NULLs are not null: %v", rows[1])
	}
	// Keys come in column order, which a map cannot show.
	first := b.String()[:strings.Index(b.String(), "}")]
	if strings.Index(first, `"id"`) > strings.Index(first, `"funding"`) || strings.Index(first, `"ok"`) > strings.Index(first, `"nan"`) {
		t.Errorf("keys out of column order: %s", first)
	}
	var empty bytes.Buffer
	if err := (&Result{Columns: res.Columns}).WriteJSON(&empty); err != nil || empty.String() != "[]\n" {
		t.Errorf("empty result = %q, %v", empty.String(), err)
	}
}

func TestTable(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, "SELECT name, employees, web_domain FROM marketing.crm_companies_v1 ORDER BY name")
	var b bytes.Buffer
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"name     employees  web_domain\n" +
		"Acme           150  acme.com\n" +
		"Initech       NULL  initech.com\n" +
		"(2 rows)\n"
	if b.String() != want {
		t.Errorf("table\n%s\nwant\n%s", b.String(), want)
	}
	res = f.mustRun(t, "SELECT repeat('x', 100) AS long, 'a' || chr(10) || 'b' AS two_lines FROM range(3)", func(r *Request) { r.MaxRows = 1 })
	b.Reset()
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want = "long" + strings.Repeat(" ", 56) + "  two_lines\n" + strings.Repeat("x", 59) + "…  a\\nb\n(first 1 rows; there are more)\n"
	if b.String() != want {
		t.Errorf("table\n%q\nwant\n%q", b.String(), want)
	}
}

func TestParquet(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(t.TempDir(), "result.parquet")
	res := f.mustRun(t, "SELECT o.organization_id, o.founded_on, o.updated_at, c.employees FROM market_intelligence.organizations_v1 o LEFT JOIN marketing.crm_companies_v1 c USING (web_domain) ORDER BY 1",
		func(r *Request) { r.Parquet = out })
	if res.Written != 2 || len(res.Rows) != 0 {
		t.Fatalf("Written = %d, %d rows held; want 2 written, none held", res.Written, len(res.Rows))
	}
	rdr, err := file.OpenParquetFile(out, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var got []string
	for i, fld := range tbl.Schema().Fields() {
		col := tbl.Column(i).Data().Chunk(0)
		got = append(got, fld.Name+" "+fld.Type.String()+" "+col.ValueStr(0)+" "+col.ValueStr(1))
	}
	wantLines(t, got,
		"organization_id utf8 o1 o9",
		"founded_on date32 2001-02-03 (null)",
		"updated_at timestamp[us] 2026-01-02T03:04:05.123456 2026-01-01T00:00:00", // naive UTC, as ports store it
		"employees int64 150 (null)")
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("the output directory holds %d entries, want only the result", len(entries))
	}
}

func TestEmptySnapshotAndScratchCleanup(t *testing.T) {
	f := newFixture(t)
	publish(t, f.cat, organizations, orgsSchema, `[]`)
	scratch := t.TempDir()
	res := f.mustRun(t, "SELECT count(*) AS n, count(web_domain) AS d FROM market_intelligence.organizations_v1", func(r *Request) { r.ScratchDir = scratch })
	wantLines(t, csvOf(t, res), "n,d", "0,0")
	if entries, _ := os.ReadDir(scratch); len(entries) != 0 {
		t.Errorf("scratch directory not cleaned up: %v", entries)
	}
}

func TestDuplicateColumnNamesAreMadeUnique(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, `SELECT c.web_domain, o.web_domain FROM marketing.crm_companies_v1 c
		JOIN market_intelligence.organizations_v1 o ON c.web_domain = o.web_domain`)
	// JSON objects need distinct keys; DuckDB's own renaming keeps every column.
	wantLines(t, csvOf(t, res), "web_domain,web_domain_1", "acme.com,acme.com")
}

// A table shows what a terminal would act on as escapes, so source data cannot
// recolour the screen or move the cursor; CSV and JSON keep the value exact.
func TestTableEscapesControlCharacters(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(t, `SELECT chr(27) || '[31mred' || chr(27) || '[0m' AS "col`+"\x07"+`", 'a' || chr(9) || 'b' || chr(13) || chr(10) || chr(8238) || 'c' || chr(127) || chr(155) AS v`)
	var b bytes.Buffer
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "col\\x07" + strings.Repeat(" ", 11) + "  v\n" +
		"\\x1b[31mred\\x1b[0m  a\\tb\\r\\n\\u202ec\\x7f\\u009b\n(1 row)\n"
	if b.String() != want {
		t.Errorf("table\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := res.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[31mred\x1b[0m,") {
		t.Errorf("CSV changed the value: %q", b.String())
	}
	for in, want := range map[string]string{"plain é ✓": "plain é ✓", "bad\xffbyte": `bad\xffbyte`, "\x00\x1b]0;title\x07": `\x00\x1b]0;title\x07`} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// A query over its memory limit fails with ErrMemoryLimit, saying the limit.
func TestMemoryLimit(t *testing.T) {
	f := newFixture(t)
	// A list aggregate holds every value in memory at once: DuckDB cannot spill it.
	_, err := f.run(t, "SELECT list(i) FROM range(50000000) t(i)", func(r *Request) { r.MemoryMB = 16 })
	if !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), "of 16 MB") || !strings.Contains(err.Error(), "Out of Memory Error") {
		t.Fatalf("err = %v, want ErrMemoryLimit naming 16 MB", err)
	}
}

// A query past its time limit is interrupted with ErrTimeout.
func TestTimeout(t *testing.T) {
	f := newFixture(t)
	// About 10^12 rows: no machine finishes this within the test's time.
	_, err := f.run(t, "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b", func(r *Request) { r.Timeout = 300 * time.Millisecond })
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "300ms") || errs.Is(err, errs.Canceled) {
		t.Fatalf("err = %v, want ErrTimeout naming 300ms", err)
	}
}
