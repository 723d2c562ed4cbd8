package mesh

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// A saved model is what FromDisk gives, without a rebuild; a new file in the folder
// is among the domain's files; a product whose model is not a file keeps it.
func TestFromDiskReadsTheSavedModels(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "domains", "salesfolder", "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("deals.sql", "SELECT 2 AS id -- saved\n")
	write("new.sql", "SELECT 3 AS id\n")
	built := Domain{Name: "sales", Files: fstest.MapFS{"models/deals.sql": {Data: []byte("SELECT 1 AS id\n")}},
		Products: []Product{{Name: "deals", Model: "SELECT 1 AS id\n"}, {Name: "inline", Model: "SELECT 9 AS id"}}}
	m, notes := Mesh{Domains: []Domain{built}}.FromDisk(root)
	d := m.Domains[0]
	if d.Products[0].Model != "SELECT 2 AS id -- saved\n" || d.Products[1].Model != "SELECT 9 AS id" || len(notes) != 0 {
		t.Fatalf("models %q and %q, notes %v; want the saved file's text and the inline model unchanged", d.Products[0].Model, d.Products[1].Model, notes)
	}
	if built.Products[0].Model != "SELECT 1 AS id\n" {
		t.Fatal("FromDisk changed the mesh it was given")
	}
	if b, err := fs.ReadFile(d.Files, "models/new.sql"); err != nil || !strings.Contains(string(b), "3") {
		t.Fatalf("the folder's new file: %q, %v", b, err)
	}
	if err := os.Remove(filepath.Join(dir, "deals.sql")); err != nil {
		t.Fatal(err)
	}
	write("other.sql", "SELECT 4")
	// A folder holding none of the built files is another domain's: the domain stays
	// as built.
	m, _ = Mesh{Domains: []Domain{built}}.FromDisk(root)
	if m.Domains[0].Products[0].Model != "SELECT 1 AS id\n" {
		t.Fatalf("model %q; want the built one when no folder holds the domain's files", m.Domains[0].Products[0].Model)
	}
}
