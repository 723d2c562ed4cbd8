package files

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var fuzzSpec = Must("fuzz.yaml", []byte(`
source: fuzz_files
title: Fuzz
doc: Fuzzed files.
bucket: {variable: FUZZ_FILES_URL, doc: where}
streams:
  rows:
    doc: Rows.
    files: "*"
    primary_key: [id]
    columns:
      - {name: id, header: ID, type: string, doc: id}
      - {name: n, header: N, type: int64, doc: n}
      - {name: x, header: X, type: float64, doc: x}
      - {name: on, header: On, type: date, doc: on}
      - {name: at, header: At, type: timestamp, doc: at}
      - {name: ok, header: OK, type: bool, doc: ok}
`))

// checkParsed: a file either is refused with a message naming it, or becomes
// records that are JSON objects holding every field, _file and _row.
func checkParsed(t *testing.T, format string, data []byte) {
	st := fuzzSpec.streams[0]
	tbl, err := read(format, data, "")
	if err != nil {
		if err.Error() == "" {
			t.Fatal("a refusal without a message")
		}
		return
	}
	records, problem := st.records("f."+format, time.Unix(0, 0), tbl)
	if problem != "" {
		if !strings.Contains(problem, "expected header") && !strings.Contains(problem, "row ") {
			t.Fatalf("a refusal that names neither the header nor the row: %s", problem)
		}
		return
	}
	if len(records) != len(tbl.rows) {
		t.Fatalf("%d records of %d rows", len(records), len(tbl.rows))
	}
	for _, r := range records {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatalf("record %s is not JSON: %v", r, err)
		}
		for _, f := range st.fields() {
			if _, ok := m[f.Name]; !ok {
				t.Fatalf("record %s lacks %s", r, f.Name)
			}
		}
	}
}

func FuzzCSVHeaderAndRows(f *testing.F) {
	f.Add([]byte("ID,N,X,On,At,OK\na,1,1.5,2026-01-02,2026-01-02T03:04:05Z,yes\n"))
	f.Add([]byte("\xef\xbb\xbfok,at,on,x,n,id\ntrue,,,,,b\n\n"))
	f.Add([]byte("ID,N,X,On,At,OK,\n\"a,\"\"b\",2,NaN,20260102,1700000000000,no,\n"))
	f.Add([]byte("ID,N\na,1\n"))
	f.Add([]byte("ID,ID,N,X,On,At,OK\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsed(t, CSV, data)
		checkParsed(t, TSV, data)
		checkParsed(t, JSONL, data)
	})
}

func FuzzXLSXHeaderAndRows(f *testing.F) {
	good, err := XLSXFile("Sheet", [][]any{{"ID", "N", "X", "On", "At", "OK"}, {"a", 1, 2.5, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "2026-01-02T03:04:05Z", true}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	bad, _ := XLSXFile("Sheet", [][]any{{"ID", "N"}, {"a", "x"}})
	f.Add(bad)
	f.Add([]byte("PK\x03\x04 not a workbook"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsed(t, XLSX, data)
	})
}

func FuzzCursor(f *testing.F) {
	f.Add([]byte(`{"v":1,"newest":"2026-01-02T03:04:05Z","seen":[{"f":"abc","t":"2026-01-02T03:04:05Z"}]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"at":{"key":"a","f":"x","records":-5}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCursor(data)
		if err != nil {
			if !strings.Contains(err.Error(), "files cursor") {
				t.Fatalf("error %v does not say what it is", err)
			}
			return
		}
		next := c.landed(dropped{key: "k", fp: "fp", modified: c.Newest.Add(time.Minute)})
		if again, err := decodeCursor(next.encode()); err != nil || !again.done(next.Newest, "fp") {
			t.Fatalf("a cursor after a landing does not read back as having it: %v", err)
		}
	})
}
