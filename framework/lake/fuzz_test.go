package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

var fuzzRef = StreamRef{Domain: "marketing", Source: "hubspot", Stream: "contacts"}

// FuzzManifest puts arbitrary bytes where the newest manifest of a stream lives, after
// a good one. Reading the stream's cursor and manifests never panics: a manifest that
// is not a v1 manifest is an Invalid error naming its key, never a silent "no cursor"
// (which would start a full refresh).
func FuzzManifest(f *testing.F) {
	good := Manifest{
		V: 1, Stream: fuzzRef, Seq: 2, RunID: "marketing.crm_contacts/current/0193a", Rows: 3,
		Files:       []DataFile{{Key: "raw/marketing/hubspot/contacts/run=r/part-00000.parquet", Rows: 3}},
		CursorStart: json.RawMessage(`{"v":1,"phase":"idle","mark":0}`), CursorEnd: json.RawMessage(`{"v":1,"phase":"idle","mark":1}`),
		PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fakeFields,
	}
	b, _ := json.Marshal(good)
	for _, seed := range []string{
		string(b), ``, `null`, `{}`, `[]`, `"x"`, `{"v":2}`, `{"v":1}`, `{"v":1,"cursor_end":null}`,
		`{"v":1,"cursor_end":{"v":1,"after":"MTAx"},"files":null,"rows":-1}`,
		`{"v":1,"cursor_end":"not an object","seq":-7,"committed_at":"yesterday"}`,
		`{"v":1,"files":[{"key":"../../etc/passwd","rows":9223372036854775807}]}`,
		strings.Replace(string(b), `"v":1`, `"v":1.5`, 1), string(b[:len(b)/2]),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx := context.Background()
		l := openMem(t)
		first := good
		first.Seq = 1
		if err := l.PutJSON(ctx, manifestKey(fuzzRef, 1, "r1"), first); err != nil {
			t.Fatal(err)
		}
		key := manifestKey(fuzzRef, 2, "r2")
		if err := l.Bucket.WriteAll(ctx, key, raw, nil); err != nil {
			t.Fatal(err)
		}
		clear := func(what string, err error) bool {
			t.Helper()
			if err == nil {
				return false
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), key) {
				t.Fatalf("%s of manifest %q: %v, want an Invalid error naming %s", what, raw, err, key)
			}
			return true
		}
		cursor, err := l.Cursor(ctx, fuzzRef)
		if !clear("cursor", err) && len(cursor) > 0 && !json.Valid(cursor) {
			t.Fatalf("cursor %q of manifest %q is not JSON", cursor, raw)
		}
		m, ok, err := l.LatestManifest(ctx, fuzzRef)
		if !clear("latest", err) && (!ok || m.V != 1) {
			t.Fatalf("manifest %q read as %+v (ok=%v)", raw, m, ok)
		}
		all, err := l.Manifests(ctx, fuzzRef)
		if !clear("list", err) && len(all) != 2 {
			t.Fatalf("manifest %q: %d manifests listed, want 2", raw, len(all))
		}
	})
}

// strictStream serves n records in pages of 2; its cursor is {"v":1,"off":N} and
// anything else is the Invalid error a connector gives for a cursor it cannot read.
type strictStream struct{ n int }

func (s strictStream) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "contacts", Fields: fakeFields, PrimaryKey: []string{"id"}, CursorField: "updated_at"}
}

func (s strictStream) NextPage(_ context.Context, req source.PageRequest) (source.Page, error) {
	var c struct {
		V   int `json:"v"`
		Off int `json:"off"`
	}
	if len(req.Cursor) > 0 && string(req.Cursor) != "null" {
		if err := json.Unmarshal(req.Cursor, &c); err != nil || c.V != 1 || c.Off < 0 {
			return source.Page{}, errs.Errorf(errs.Invalid, "fake: cursor", "not a fake cursor: %.40s", req.Cursor)
		}
	}
	var p source.Page
	for i := c.Off; i < c.Off+2 && i < s.n; i++ {
		p.Records = append(p.Records, fakeRecord(i))
	}
	next := min(c.Off+2, s.n)
	if c.Off >= s.n {
		next = c.Off
	}
	p.Next = json.RawMessage(fmt.Sprintf(`{"v":1,"off":%d}`, next))
	p.Done = next >= s.n
	return p, nil
}

// FuzzCheckpoint resumes a landing from an arbitrary checkpoint, decoded as the Land
// activity decodes its heartbeat details: no panic; a cursor the stream cannot read
// is its Invalid error; otherwise the manifest covers the resumed files and the new ones.
func FuzzCheckpoint(f *testing.F) {
	for _, seed := range []string{
		`{"files":[{"key":"raw/marketing/hubspot/contacts/run=r/part-00000.parquet","rows":2,"cursor":{"v":1,"off":2}}],"cursor":{"v":1,"off":2},"pages":1,"rows":2}`,
		`{"files":[],"cursor":{"v":1,"off":4}}`, `{}`, `null`, `{"files":null,"cursor":null}`,
		`{"files":[{"key":"k","rows":-3}],"cursor":{"v":1,"off":99}}`,
		`{"files":[{"key":"k","rows":1}],"cursor":"garbage"}`,
		`{"files":[{"key":"k","rows":1}],"cursor":{"v":2}}`,
		`{"files":[{"key":"","rows":9223372036854775807},{"key":"k2","rows":1}],"cursor":{"v":1,"off":-1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var cp Checkpoint
		if json.Unmarshal(raw, &cp) != nil {
			return // the activity starts over when the details do not decode
		}
		l := openMem(t)
		res, err := l.Land(context.Background(), strictStream{n: 5}, LandRequest{Stream: fuzzRef, RunID: "r", SyncStart: fixedNow(), Now: fixedNow, Resume: &cp})
		if err != nil {
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cursor") {
				t.Fatalf("checkpoint %q: %v, want the stream's Invalid cursor error", raw, err)
			}
			return
		}
		m := res.Manifest
		var rows int64
		for _, f := range m.Files {
			rows += f.Rows
		}
		if m.V != 1 || rows != m.Rows || len(m.Files) < len(cp.Files) || !json.Valid(m.CursorEnd) {
			t.Fatalf("checkpoint %q committed %+v", raw, m)
		}
		if _, err := l.Cursor(context.Background(), fuzzRef); err != nil {
			t.Fatalf("the committed manifest does not read back: %v", err)
		}
	})
}
