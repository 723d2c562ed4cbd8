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
