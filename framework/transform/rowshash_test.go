package transform

import (
	"context"
	"path/filepath"
	"testing"
)

// TestRowsHashIdentifiesTheRowSet: the same rows in another order (another landing
// order) hash alike; a changed value, a repeated row or a missing row do not.
func TestRowsHashIdentifiesTheRowSet(t *testing.T) {
	dir := t.TempDir()
	hash := func(name, values string) string {
		t.Helper()
		f := rawFile(t, dir, name+".parquet", values)
		res, err := Run(context.Background(), Request{Product: product(), Output: filepath.Join(dir, name+".out.parquet"),
			Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.RowsHash == "" {
			t.Fatal("no rows hash")
		}
		return res.RowsHash
	}
	a := `('1','a@x.test','lead','2024-01-01 00:00:00'), ('2','b@x.test','lead','2024-01-02 00:00:00')`
	base := hash("base", a)
	if got := hash("reordered", `('2','b@x.test','lead','2024-01-02 00:00:00'), ('1','a@x.test','lead','2024-01-01 00:00:00')`); got != base {
		t.Errorf("the same rows in another order hash to %s, want %s", got, base)
	}
	for name, values := range map[string]string{
		"changed": `('1','a@x.test','customer','2024-01-01 00:00:00'), ('2','b@x.test','lead','2024-01-02 00:00:00')`,
		"fewer":   `('1','a@x.test','lead','2024-01-01 00:00:00')`,
		"more":    a + `, ('3','c@x.test','lead','2024-01-03 00:00:00')`,
	} {
		if got := hash(name, values); got == base {
			t.Errorf("%s rows hash like the base rows (%s)", name, got)
		}
	}
}
