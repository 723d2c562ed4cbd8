package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQueryArguments(t *testing.T) {
	lake := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"query"}, "takes the SQL as one quoted argument"},
		{[]string{"query", "SELECT", "1"}, "takes the SQL as one quoted argument"},
		{[]string{"query", "SELECT 1", "--format", "xml"}, `unknown --format "xml"`},
		{[]string{"query", "SELECT 1", "--format", "parquet"}, "name it with -o FILE"},
		{[]string{"query", "SELECT 1", "--max-rows", "-5"}, "--max-rows -5"},
		{[]string{"query", "SELECT * FROM marketing.crm_companies_v1"}, "marketing.crm_companies_v1 is not published yet: run `mesh run marketing.crm_companies`"},
		{[]string{"query", "SELECT * FROM marketing.crm_company_v1"}, "did you mean marketing.crm_companies_v1?"},
		{[]string{"query", "DROP VIEW marketing.crm_companies_v1"}, "only a read-only query can run"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(tc.args, "--lake", lake), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}

func TestQueryFormats(t *testing.T) {
	lake := t.TempDir()
	for format, want := range map[string]string{
		"table": "answer  greeting\n    42  hello\n(1 row)\n",
		"csv":   "answer,greeting\n42,hello\n",
		"json":  "[\n  {\"answer\": 42, \"greeting\": \"hello\"}\n]\n",
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"query", "SELECT 42 AS answer, 'hello' AS greeting", "--format", format, "--lake", lake}, &out, &errOut)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if out.String() != want {
			t.Errorf("--format %s printed\n%q\nwant\n%q", format, out.String(), want)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"query", "FROM range(5)", "--max-rows", "2", "--format", "csv", "--lake", lake}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != "range\n0\n1\n" || !strings.Contains(errOut.String(), "--max-rows 0 returns all") {
		t.Errorf("--max-rows 2: stdout %q, stderr %q", out.String(), errOut.String())
	}
}

// The table escapes terminal control characters from the data; csv keeps them.
func TestQueryTableEscapesControlCharacters(t *testing.T) {
	lake := t.TempDir()
	const sql = `SELECT chr(27) || '[31mred' || chr(27) || '[0m' AS v`
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"query", sql, "--lake", lake}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if want := "v\n\\x1b[31mred\\x1b[0m\n(1 row)\n"; out.String() != want || strings.Contains(out.String(), "\x1b") {
		t.Errorf("table printed %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := run(context.Background(), []string{"query", sql, "--format", "csv", "--lake", lake}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if want := "v\n\x1b[31mred\x1b[0m\n"; out.String() != want {
		t.Errorf("csv printed %q, want the value exact, %q", out.String(), want)
	}
}

// A query over --memory-limit or --timeout fails naming the flag to raise; a bad
// limit is a usage error.
func TestQueryLimits(t *testing.T) {
	lake := t.TempDir()
	for _, tc := range []struct {
		args []string
		want []string
		code int
	}{
		{[]string{"query", "SELECT list(i) FROM range(50000000) t(i)", "--memory-limit", "16MB"},
			[]string{"needs more memory than its limit of 16 MB", "raise --memory-limit (now 16MB)"}, exitFailure},
		{[]string{"query", "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b", "--timeout", "300ms"},
			[]string{"ran longer than its time limit of 300ms: DuckDB interrupted it", "raise --timeout (now 300ms"}, exitFailure},
		{[]string{"query", "SELECT 1", "--memory-limit", "lots"}, []string{`--memory-limit "lots": give a size`}, exitUsage},
		{[]string{"query", "SELECT 1", "--timeout", "-1s"}, []string{"--timeout -1s"}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(tc.args, "--lake", lake), &out, &errOut)
		code := report(context.Background(), err, &errOut)
		for _, want := range tc.want {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%v: stderr %q does not say %q", tc.args, errOut.String(), want)
			}
		}
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	// The defaults are documented in the help.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"query", "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), `--memory-limit string   DuckDB's memory_limit, e.g. 512MB, 8GB, 1.5GiB (0 = DuckDB's default, 80% of the RAM) (default "2GB")`) || !strings.Contains(out.String(), "(default 5m0s)") {
		t.Errorf("mesh query --help:\n%s", out.String())
	}
}
