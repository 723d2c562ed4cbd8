package rest_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// validSpec is a correct spec; each case of TestSpecErrors breaks one thing in it.
const validSpec = `source: things
title: Things
base_url: https://things.example/v1
variables:
  THINGS_TOKEN: {doc: Things API token, secret: true}
auth: {type: bearer, token: "${THINGS_TOKEN}"}
streams:
  things:
    doc: Every thing.
    request: {path: /things}
    records: data
    paginate: {type: page_number, param: page, size_param: per_page, size: 50, stop: [short_page]}
    incremental: {field: updated_at, lookback: 1h, request: {query: {updated_since: "${since}"}}}
    primary_key: [id]
    fields:
      id: {type: int64, doc: The thing's id.}
      updated_at: {type: timestamp, doc: When it last changed.}
  notes:
    doc: Each thing's notes.
    parent: {stream: things}
    request: {path: "/things/${parent.id}/notes"}
    records: notes
    primary_key: [id]
    fields:
      id: {type: string, doc: The note's id.}
`

// Every mistake is reported with the file, the line, the field, and how to fix it.
func TestSpecErrors(t *testing.T) {
	if _, err := rest.Parse("things.yaml", []byte(validSpec)); err != nil {
		t.Fatalf("the valid spec: %v", err)
	}
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown key", "    records: data\n", "    records: data\n    recrods: data\n",
			[]string{`things.yaml:12: streams.things.recrods: unknown key: did you mean "records"?`}},
		{"cursor field not declared", "field: updated_at", "field: modified_at",
			[]string{`things.yaml:13: streams.things.incremental.field: "modified_at" is not a field of the stream: declare it under fields, or name one of id, updated_at`}},
		{"paginator without a stop rule", ", stop: [short_page]}", "}",
			[]string{`things.yaml:12: streams.things.paginate.stop: is missing: without a stop rule, the page_number paginator asks for pages for ever. Add stop: [short_page]`}},
		{"parent that does not exist", "parent: {stream: things}", "parent: {stream: thing}",
			[]string{`things.yaml:20: streams.notes.parent.stream: "thing" is not a stream of this source (they are things, notes)`}},
		{"parent field that does not exist", "${parent.id}", "${parent.uuid}",
			[]string{`things.yaml:21: streams.notes.request.path: ${parent.uuid}: the parent stream things has no field "uuid" (it has id, updated_at)`}},
		{"a secret in a URL", "{path: /things}", `{path: /things, query: {key: "${THINGS_TOKEN}"}}`,
			[]string{`things.yaml:10: streams.things.request.query.key: ${THINGS_TOKEN} is a secret and would be written into URLs`}},
		{"since outside the window", "{path: /things}", `{path: /things, query: {from: "${since}"}}`,
			[]string{`things.yaml:10: streams.things.request.query.from: ${since} is only known inside incremental.request: move it there`}},
		{"an undeclared variable", `"${THINGS_TOKEN}"}`, `"${THINGS_KEY}"}`,
			[]string{`things.yaml:6: auth.token: ${THINGS_KEY} is not a variable of this source: declare it under variables`}},
		{"a field without doc", "id: {type: string, doc: The note's id.}", "id: {type: string}",
			[]string{`things.yaml:25: streams.notes.fields.id.doc: is missing`}},
		{"an unknown type", "{type: int64, doc: The thing's id.}", "{type: integer, doc: The thing's id.}",
			[]string{`things.yaml:16: streams.things.fields.id.type: "integer" is not a type: use string, int64, float64, bool, timestamp or date`}},
		{"a primary key that is no field", "    primary_key: [id]\n    fields:\n      id: {type: string", "    primary_key: [note_id]\n    fields:\n      id: {type: string",
			[]string{`things.yaml:23: streams.notes.primary_key: "note_id" is not a field of the stream (it has id)`}},
		{"a quota without a reset", "streams:\n", "errors:\n  - {status: 402, kind: quota, wait: retry_after}\nstreams:\n",
			[]string{`things.yaml:8: errors[0]: a quota needs a wait that always gives its reset`}},
		{"a string cursor field", "updated_at: {type: timestamp", "updated_at: {type: string",
			[]string{`streams.things.incremental.field: updated_at is a string: the cursor field is a timestamp, a date, or an int64 epoch with unit: s or ms`}},
		{"a variable of another source", "  THINGS_TOKEN: {doc", "  OTHER_TOKEN: {doc: x}\n  THINGS_TOKEN: {doc",
			[]string{`things.yaml:5: variables.OTHER_TOKEN: "OTHER_TOKEN" is not a variable of this source: name it THINGS_…`}},
		{"a keyset field that is no field", "{type: page_number, param: page, size_param: per_page, size: 50, stop: [short_page]}",
			"{type: keyset, field: uuid, param: after, size_param: limit, size: 50, stop: [short_page]}",
			[]string{`things.yaml:12: streams.things.paginate.field: "uuid" is not a field of the stream (it has id, updated_at)`}},
		{"a key of another paginator", "param: page, size_param", "param: page, next: x, size_param",
			[]string{`things.yaml:12: streams.things.paginate.next: unknown key: the keys here are type, param, in, start, size_param, size, stop`}},
		{"two problems at once", "title: Things\n", "title: Things\nbase_url2: x\n",
			[]string{`things.yaml:3: base_url2: unknown key: did you mean "base_url"?`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			y := strings.Replace(validSpec, c.old, c.new, 1)
			if y == validSpec {
				t.Fatalf("the case changes nothing: %q not found", c.old)
			}
			_, err := rest.Parse("things.yaml", []byte(y))
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("got %v, want an invalid spec", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error\n%v\ndoes not say\n%s", err, w)
				}
			}
		})
	}
}

// A source must have a credential: "no credential" above keeps one through auth; a
// spec without auth and without a credential variable is refused.
func TestSpecNeedsACredential(t *testing.T) {
	y := strings.Replace(strings.Replace(validSpec, "secret: true", "secret: false", 1), "auth: {type: bearer, token: \"${THINGS_TOKEN}\"}\n", "", 1)
	_, err := rest.Parse("things.yaml", []byte(y))
	if err == nil || !strings.Contains(err.Error(), "things.yaml:1: variables: no variable is a credential") {
		t.Errorf("got %v", err)
	}
	if _, err := rest.Parse("things.yaml", []byte(strings.Replace(validSpec, "secret: true", "secret: false", 1))); err != nil {
		t.Errorf("a variable auth uses is a credential: %v", err)
	}
}

// TestEverySpecInTheTree loads every spec the repository holds — each *.yaml under
// connectors/ and domains/*/sources/ — so that a broken spec fails `go test ./...`
// before a worker refuses to start with it.
func TestEverySpecInTheTree(t *testing.T) {
	root := filepath.Join("..", "..")
	var specs []string
	for _, dir := range []string{"connectors", "domains"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel(root, path)
			parts := strings.Split(filepath.ToSlash(rel), "/")
			isSpec := strings.HasSuffix(path, ".yaml") &&
				(parts[0] == "connectors" || (len(parts) == 4 && parts[2] == "sources"))
			if isSpec && !filesSpec(t, path) {
				specs = append(specs, path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if len(specs) == 0 {
		t.Fatal("no spec found: the walk is broken (connectors/crunchbase/crunchbase.yaml exists)")
	}
	for _, path := range specs {
		spec, err := rest.Load(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		c := spec.Connector()
		if c.Name == "" || len(c.Streams) == 0 || len(c.Vars) == 0 || c.Open == nil {
			t.Errorf("%s: connector %+v", path, c)
		}
		t.Logf("%s: source %s, %d streams, %d variables", path, c.Name, len(c.Streams), len(c.Vars))
	}
}

// filesSpec reports whether the YAML at path is a files spec (connectors/files: a
// bucket: where a REST spec has base_url:), which its domain's package loads.
func filesSpec(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^bucket:`).Match(b)
}

// A spec's variables are the source's configuration: what is missing or wrong is
// named when the source is built.
func TestNewNamesTheVariable(t *testing.T) {
	spec, err := rest.Parse("things.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		vals source.Values
		want string
	}{
		{source.Values{}, "THINGS_TOKEN is not set"},
		{source.Values{"THINGS_TOKEN": "a b"}, "THINGS_TOKEN contains whitespace"},
		{source.Values{"THINGS_TOKEN": "t", "THINGS_BASE_URL": "things.example"}, `THINGS_BASE_URL "things.example" is not an absolute http(s) URL`},
		{source.Values{"THINGS_TOKEN": "t", "THINGS_HTTP_TIMEOUT": "5h"}, `THINGS_HTTP_TIMEOUT="5h" is not a duration from 1s`},
	} {
		_, err := spec.New(c.vals, nil)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an invalid error saying %q", c.vals, err, c.want)
		}
	}
	if _, err := spec.New(source.Values{"THINGS_TOKEN": "t"}, nil); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
