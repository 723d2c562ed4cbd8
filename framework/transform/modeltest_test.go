package transform

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// pipeline reads a raw stream (crm.deals, newest version of each deal) and a port
// (sales.owners): deals and amount per stage and week, with the stage's owner.
func pipeline(tests ...mesh.ModelTest) (mesh.Domain, Declarations) {
	owners := mesh.Product{Name: "owners", Schema: []mesh.Column{{Name: "stage", Type: mesh.String}, {Name: "owner", Type: mesh.String}}}
	p := checkedProduct("pipeline", `
		SELECT d.stage, CAST(date_trunc('week', d.updated_at) AS DATE) AS week, count(*) AS deals,
		       sum(d.amount) AS amount, any_value(o.owner) AS owner
		FROM crm.deals AS d LEFT JOIN sales.owners AS o USING (stage)
		GROUP BY ALL`,
		mesh.Column{Name: "stage", Type: mesh.String, Doc: "s"}, mesh.Column{Name: "week", Type: mesh.Date, Doc: "w"},
		mesh.Column{Name: "deals", Type: mesh.Int64, Doc: "n"}, mesh.Column{Name: "amount", Type: mesh.Float64, Doc: "a"},
		mesh.Column{Name: "owner", Type: mesh.String, Doc: "o"})
	p.Inputs = append(p.Inputs, mesh.FromProduct("sales", "owners"))
	p.Tests = tests
	files := fstest.MapFS{
		"tests/pipeline/deals.csv": {Data: []byte("id,stage,amount,updated_at\n" +
			"d1,won,100,2026-01-04 23:59:59\n" + // Sunday: the week of Monday 2025-12-29
			"d2,won,0.1,2026-01-05 00:00:00\n" + // Monday: a week of its own
			"d3,won,0.2,2026-01-06 10:00:00\n" +
			"d4,,5,2026-01-06 10:00:00\n")}, // an empty cell is NULL
		"tests/pipeline/owners.json": {Data: []byte(`[{"stage": "won", "owner": "ana"}, {"stage": "open"}]`)},
		"tests/pipeline/expected.csv": {Data: []byte("stage,week,deals,amount,owner\n" +
			"won,2025-12-29,1,100,ana\n" +
			"won,2026-01-05,2,0.3,ana\n" + // 0.1 + 0.2, compared to 6 decimals
			",2026-01-05,1,5.0,\n")},
	}
	dom := mesh.Domain{Name: "sales", Owner: "sales-ops", Files: files, Products: []mesh.Product{p, owners}}
	return dom, Declare(mesh.Mesh{Domains: []mesh.Domain{dom}}, []source.Connector{crm})
}

func runPipelineTest(t *testing.T, mt mesh.ModelTest) TestResult {
	t.Helper()
	dom, decl := pipeline(mt)
	tr, err := NewTester(t.Context(), decl)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	return tr.Run(t.Context(), dom, dom.Products[0], mt)
}

// A model test fills the inputs with its rows (from Go or from the domain's files), runs
// the model as a run does and finds the expected rows, in any order and on the columns
// named; a raw stream's given rows are landed versions of which the model reads the
// newest per key.
func TestModelTestPasses(t *testing.T) {
	versions := mesh.Given{Input: mesh.Raw("crm", "deals"), Columns: []string{"id", "stage", "amount", "updated_at"}, Rows: [][]any{
		{"d1", "open", 10, "2026-01-05 09:00:00"},
		{"d1", "won", 12.5, time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)}, // the newest version by the cursor
		{"d2", "open", 1, "2026-01-05 09:00:00"},
		{"d2", "lost", 2, "2026-01-05 09:00:00"}, // a tie of the cursor: the later landing wins
	}}
	for _, mt := range []mesh.ModelTest{
		{Name: "from_files", Given: []mesh.Given{{Input: mesh.Raw("crm", "deals"), File: "tests/pipeline/deals.csv"},
			{Input: mesh.FromProduct("sales", "owners"), File: "tests/pipeline/owners.json"}},
			Expect: mesh.Expect{File: "tests/pipeline/expected.csv"}},
		{Name: "newest_version", Given: []mesh.Given{versions},
			Expect: mesh.Expect{Columns: []string{"deals", "stage", "amount"}, Rows: [][]any{{1, "lost", 2.0}, {1, "won", "12.50"}}}},
		{Name: "nothing_given_nothing_returned"},
	} {
		r := runPipelineTest(t, mt)
		if r.Failed() {
			t.Errorf("%s: %v\n%s", r.Name(), r.Err, r.Diff)
		}
		if r.Name() != "sales.pipeline/"+mt.Name || r.Elapsed <= 0 {
			t.Errorf("result %q took %s", r.Name(), r.Elapsed)
		}
	}
}

// A wrong expectation fails with the rows that differ, column-aligned as text: the
// expected rows the model did not return (-) and those it returned unexpectedly (+),
// each next to its near-miss.
func TestModelTestDiff(t *testing.T) {
	r := runPipelineTest(t, mesh.ModelTest{Name: "wrong",
		Given: []mesh.Given{{Input: mesh.Raw("crm", "deals"), File: "tests/pipeline/deals.csv"}},
		Expect: mesh.Expect{Columns: []string{"stage", "week", "deals", "owner"}, Rows: [][]any{
			{"won", "2025-12-29", 1, nil},
			{"won", "2026-01-05", 3, nil}, // the model counts 2
			{"lost", "2026-01-05", 1, ""}, // never returned
			{nil, "2026-01-05", 1, nil},
		}}})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := `the model returned 3 rows, 4 expected: 2 missing (-), 1 unexpected (+)
  stage  week        deals  owner
- lost   2026-01-05  1      ''
+ won    2026-01-05  2      NULL
- won    2026-01-05  3      NULL
`
	if r.Diff != want || !r.Failed() {
		t.Errorf("diff:\n%s\nwant:\n%s", r.Diff, want)
	}
}

// A test that cannot run says why, naming the input, row, column or file and the fix;
// what it made is gone before the next test on the same Tester, which passes.
func TestModelTestErrors(t *testing.T) {
	deals := func(cols []string, rows ...[]any) []mesh.Given {
		return []mesh.Given{{Input: mesh.Raw("crm", "deals"), Columns: cols, Rows: rows}}
	}
	dom, decl := pipeline()
	tr, err := NewTester(t.Context(), decl)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, tc := range []struct {
		test mesh.ModelTest
		want string
	}{
		{mesh.ModelTest{Given: deals([]string{"id", "stag"}, []any{"d1", "won"})},
			`given crm.deals: no column "stag" — did you mean "stage"? (its columns: id, amount, stage, updated_at, epoch, closed, _extracted_at, _run_id, _raw)`},
		{mesh.ModelTest{Given: deals([]string{"id", "epoch"}, []any{"d1", 1}, []any{"d2", "soon"})},
			`given crm.deals: row 2, column epoch: "soon" is not a BIGINT`},
		{mesh.ModelTest{Given: []mesh.Given{{Input: mesh.FromProduct("sales", "owners"), File: "tests/pipeline/owner.json"}}},
			"given sales.owners: tests/pipeline/owner.json is not in the domain's folder: write it there (domains/<domain>/tests/pipeline/owner.json) and embed it with the models (`//go:embed models tests` in the domain's package)"},
		{mesh.ModelTest{Expect: mesh.Expect{Columns: []string{"stages"}}},
			`expect: column "stages" is not in pipeline's schema (its columns: stage, week, deals, amount, owner)`},
		{mesh.ModelTest{Given: deals([]string{"id", "stage"}, []any{"d1", "won"}), Expect: mesh.Expect{Columns: []string{"week"}, Rows: [][]any{{"monday"}}}},
			`expect: row 1, column week: "monday" is not a DATE`},
	} {
		tc.test.Name = "broken"
		r := tr.Run(t.Context(), dom, dom.Products[0], tc.test)
		if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) || !r.Failed() {
			t.Errorf("want an error with %q, got %v", tc.want, r.Err)
		}
	}
	r := tr.Run(t.Context(), dom, dom.Products[0], mesh.ModelTest{Name: "after_failures",
		Given:  []mesh.Given{{Input: mesh.Raw("crm", "deals"), File: "tests/pipeline/deals.csv"}, {Input: mesh.FromProduct("sales", "owners"), File: "tests/pipeline/owners.json"}},
		Expect: mesh.Expect{File: "tests/pipeline/expected.csv"}})
	if r.Failed() {
		t.Errorf("a test after failed ones on the same Tester: %v\n%s", r.Err, r.Diff)
	}
}
