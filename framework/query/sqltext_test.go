package query

import (
	"math/big"
	"strings"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func TestFindAsOfSkipsStringsAndComments(t *testing.T) {
	sql := `SELECT 'a.b AS OF 1', "x.y AS OF 2", E'it\'s a.b AS OF 3', $$a.b AS OF 4$$, $t$a.b AS OF 5$t$
		-- a.b AS OF 6
		/* a.b AS OF 7 /* nested */ a.b AS OF 8 */
		FROM Marketing."CRM_Companies_v1" as of '2026-01-02 03:04:05' AS c, m.p AS OF 123`
	toks, err := lex(sql)
	if err != nil {
		t.Fatal(err)
	}
	got, err := findAsOf(sql, toks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("found %d AS OF, want 2: %+v", len(got), got)
	}
	if a := got[0]; a.domain != "Marketing" || a.port != "CRM_Companies_v1" || a.arg.text != "'2026-01-02 03:04:05'" ||
		sql[a.start:a.end] != `Marketing."CRM_Companies_v1" as of '2026-01-02 03:04:05'` {
		t.Errorf("first = %+v (%q)", a, sql[a.start:a.end])
	}
	if a := got[1]; a.domain != "m" || a.port != "p" || a.arg.kind != tokNumber || sql[a.start:a.end] != "m.p AS OF 123" {
		t.Errorf("second = %+v", a)
	}
	out := splice(sql, got, []string{"X", "Y"})
	if !strings.HasSuffix(out, "FROM X AS c, Y") {
		t.Errorf("splice = %q", out)
	}
}

func TestAsOfNeedsATwoPartName(t *testing.T) {
	for _, sql := range []string{"SELECT * FROM t AS OF 1", "SELECT * FROM memory.marketing.t AS OF 1"} {
		toks, err := lex(sql)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := findAsOf(sql, toks); err == nil || !strings.Contains(err.Error(), "must follow a port named domain.product_vN") {
			t.Errorf("%s: err = %v", sql, err)
		}
	}
	// An alias named "of" is not time travel.
	toks, _ := lex("SELECT c.x AS of FROM t AS c")
	if got, err := findAsOf("", toks); err != nil || len(got) != 0 {
		t.Errorf("alias of: %v, %v", got, err)
	}
}

func TestLexRefusesUnclosedText(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT 'abc":           "string that starts at byte 7 is not closed",
		`SELECT "abc`:           "quoted identifier that starts at byte 7",
		"SELECT 1 /* x /* y */": "comment that starts at byte 9 is not closed",
		"SELECT $q$ x $p$":      "quoted with $q$",
	} {
		if _, err := lex(sql); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", sql, err, want)
		}
	}
}

func TestTrimTrailingSemicolons(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT 1":                "SELECT 1",
		"SELECT 1;":               "SELECT 1",
		"SELECT 1 ; ; -- done\n":  "SELECT 1 ",
		"SELECT ';' -- trailing ": "SELECT ';' -- trailing ",
	} {
		toks, err := lex(sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := trimTrailingSemicolons(sql, toks); got != want {
			t.Errorf("%q → %q, want %q", sql, got, want)
		}
	}
}

func TestDecimalText(t *testing.T) {
	for _, tc := range []struct {
		v     int64
		scale uint8
		want  string
	}{{150, 2, "1.50"}, {-5, 2, "-0.05"}, {0, 3, "0.000"}, {42, 0, "42"}, {-12345, 1, "-1234.5"}} {
		if got := decimalText(duckdb.Decimal{Width: 18, Scale: tc.scale, Value: big.NewInt(tc.v)}); got != tc.want {
			t.Errorf("%d scale %d = %s, want %s", tc.v, tc.scale, got, tc.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	if d := levenshtein("marketing.crm_companies", "marketing.crm_companies_v1"); d != 3 {
		t.Errorf("distance = %d", d)
	}
}
