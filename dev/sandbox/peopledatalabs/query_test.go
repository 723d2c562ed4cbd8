package peopledatalabs

import (
	"strings"
	"testing"
)

var queryRec = map[string]any{
	"name": "nimbus labs", "employee_count": 42, "founded": 2015, "ticker": nil,
	"tags":      []string{"saas", "b2b"},
	"location":  map[string]any{"country": "germany", "locality": "berlin"},
	"emails":    []map[string]any{{"address": "a@nimbus.example"}, {"address": "b@nimbus.example"}},
	"summary":   "Edge data tooling for industrial teams",
	"is_public": false,
}

func TestSQLPredicates(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT * FROM company": true,
		"select name, size from COMPANY where name = 'nimbus labs' limit 3;":            true,
		"SELECT * FROM company WHERE employee_count > 41 AND employee_count <= 42":      true,
		"SELECT * FROM company WHERE employee_count <> 42":                              false,
		"SELECT * FROM company WHERE location.country IN ('france', 'germany')":         true,
		"SELECT * FROM company WHERE location.country NOT IN ('germany')":               false,
		"SELECT * FROM company WHERE tags = 'b2b'":                                      true,
		"SELECT * FROM company WHERE emails.address = 'b@nimbus.example'":               true,
		"SELECT * FROM company WHERE name LIKE 'nim%' AND name NOT LIKE '%corp'":        true,
		"SELECT * FROM company WHERE name LIKE 'n_mbus labs'":                           true,
		"SELECT * FROM company WHERE ticker IS NULL AND founded IS NOT NULL":            true,
		"SELECT * FROM company WHERE NOT (founded < 2000 OR founded > 2020)":            true,
		"SELECT * FROM company WHERE founded < 2000 OR name = 'o''brien' OR tags = 'x'": false,
		"SELECT * FROM company WHERE missing_field = 'x'":                               false,
		"SELECT * FROM company WHERE is_public = FALSE":                                 true,
	} {
		p, err := compileSQL(sql)
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			continue
		}
		if got := p(queryRec); got != want {
			t.Errorf("%s = %v, want %v", sql, got, want)
		}
	}
}

func TestSQLErrorsNameTheProblem(t *testing.T) {
	for sql, want := range map[string]string{
		"DELETE FROM company":                             "must start with SELECT",
		"SELECT * FROM person":                            "table must be company",
		"SELECT * WHERE x = 1":                            "FROM company is missing",
		"SELECT * FROM company WHERE (founded = 1":        "not closed",
		"SELECT * FROM company WHERE founded ~ 1":         "cannot read",
		"SELECT * FROM company WHERE founded = ":          "value was expected",
		"SELECT * FROM company WHERE name IN 'a'":         "list in parentheses",
		"SELECT * FROM company WHERE name IS 'a'":         "[NOT] NULL",
		"SELECT * FROM company WHERE name = 'a' ORDER BY": "unexpected",
	} {
		_, err := compileSQL(sql)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "SQL query is malformed") {
			t.Errorf("%s: %v, want %q", sql, err, want)
		}
	}
}

func TestElasticsearchPredicates(t *testing.T) {
	q := func(clause string) string { return `{"query": ` + clause + `}` }
	for clause, want := range map[string]bool{
		`{"match_all": {}}`:                                                                   true,
		`{"term": {"name": "nimbus labs"}}`:                                                   true,
		`{"term": {"name": {"value": "nimbus"}}}`:                                             false,
		`{"terms": {"tags": ["x", "b2b"]}}`:                                                   true,
		`{"match": {"summary": "INDUSTRIAL robots"}}`:                                         true,
		`{"match_phrase": {"summary": {"query": "data tooling"}}}`:                            true,
		`{"range": {"founded": {"gte": 2015, "lt": 2016}}}`:                                   true,
		`{"range": {"founded": {"gt": 2015}}}`:                                                false,
		`{"exists": {"field": "ticker"}}`:                                                     false,
		`{"prefix": {"location.locality": "ber"}}`:                                            true,
		`{"bool": {"should": [{"term": {"tags": "x"}}]}}`:                                     false,
		`{"bool": {"must": {"term": {"tags": "saas"}}, "should": [{"term": {"tags": "x"}}]}}`: true,
		`{"bool": {"should": [{"term": {"tags": "saas"}}, {"term": {"tags": "b2b"}}], "minimum_should_match": 2}}`: true,
		`{"bool": {"must_not": [{"term": {"location.country": "germany"}}]}}`:                                      false,
	} {
		p, err := compileES(q(clause))
		if err != nil {
			t.Errorf("%s: %v", clause, err)
			continue
		}
		if got := p(queryRec); got != want {
			t.Errorf("%s = %v, want %v", clause, got, want)
		}
	}
	for _, bad := range []string{`not json`, `{"bool": {}}`, `{"query": {"term": {"a": 1, "b": 2}}}`, `{"query": {"range": {"a": {"near": 1}}}}`, `{"query": {"bool": {"must": 3}}}`} {
		if _, err := compileES(bad); err == nil || err != errMalformedES {
			t.Errorf("%s: %v, want %v", bad, err, errMalformedES)
		}
	}
	if _, err := compileES(q(`{"fuzzy": {"name": "x"}}`)); err == nil || !strings.Contains(err.Error(), `"fuzzy"`) {
		t.Errorf("fuzzy: %v", err)
	}
}
