package peopledatalabs

import "testing"

// FuzzCompileQueries: no search text makes the query compilers panic, and a
// compiled predicate evaluates any record shape.
func FuzzCompileQueries(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM company WHERE name LIKE 'a%' AND (founded > 2000 OR tags IN ('x', 'y'))",
		"SELECT * FROM company WHERE ticker IS NOT NULL LIMIT 5;",
		"SELECT `location.country` FROM company WHERE NOT x <> 'it''s'",
		`{"query": {"bool": {"must": [{"range": {"employee_count": {"gte": 10}}}], "should": {"match": {"summary": "data"}}}}}`,
		`{"query": {"terms": {"location.country": ["germany"]}}}`,
		"SELECT * FROM company WHERE (", "'", "`", `{"query": null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, compile := range []func(string) (predicate, error){compileSQL, func(s string) (predicate, error) { return compileES(s) }} {
			if p, err := compile(s); err == nil {
				p(queryRec)
				p(map[string]any{})
			}
		}
	})
}
