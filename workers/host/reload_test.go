package host

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/connectors/files"
	"github.com/meshflow/meshflow/framework/source"
)

const dropSpec = `source: drops
title: Drops
doc: Files dropped for a test.
bucket:
  variable: DROPS_URL
  doc: where the drops are
streams:
  a:
    doc: The a files.
    files: "a/*.csv"
    primary_key: [id]
    columns:
      - {name: id, header: ID, type: string, doc: The id.}
`

const dropStreamB = `  b:
    doc: The b files.
    files: "b/*.csv"
    primary_key: [id]
    columns:
      - {name: id, header: ID, type: string, doc: The id.}
`

// A spec-built source on a checkout reads its spec again when the file changed: a
// stream added to the saved spec is there at the next landing; a spec saved broken
// leaves the last good one in place.
func TestSavedSpecShowsAtTheNextLanding(t *testing.T) {
	root := t.TempDir()
	specPath := filepath.Join(root, "domains", "drops", "drops.yaml")
	if err := os.MkdirAll(filepath.Dir(specPath), 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(text string) {
		if err := os.WriteFile(specPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	save(dropSpec)
	conn := files.Must("domains/drops/drops.yaml", []byte(dropSpec)).Connector()
	values := source.Values{"DROPS_URL": "file://" + t.TempDir()}
	built, err := conn.Open(values)
	if err != nil {
		t.Fatal(err)
	}
	r := &reloading{path: specPath, conn: conn, values: values, src: built, log: zerolog.Nop()}
	names := func() []string {
		var out []string
		for _, st := range r.Streams() {
			out = append(out, st.Spec().Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("streams %v, want [a]", got)
	}
	save(dropSpec + dropStreamB)
	if got := names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after saving a second stream: streams %v, want [a b]", got)
	}
	save("source: drops\nstreams: {}\n")
	if got := names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after saving a broken spec: streams %v, want the last good [a b]", got)
	}
}
