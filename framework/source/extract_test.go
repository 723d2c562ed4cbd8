package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// extractByMap is how Extract worked before it walked tokens: decode the whole
// record into a map, then look each path up. The Extractor must agree with it.
func extractByMap(rec json.RawMessage, fields []Field) ([]any, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w", err)
	}
	out := make([]any, len(fields))
	for i, f := range fields {
		v, err := Convert(lookup(root, f.Path), f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s (%s): %w", f.Name, strings.Join(f.Path, "."), err)
		}
		out[i] = v
	}
	return out, nil
}

// agreementFields cover every type, nesting, a path that is also a prefix of another,
// and a field that reads an object or array as its JSON text.
var agreementFields = []Field{
	{Name: "id", Type: String, Path: []string{"id"}},
	{Name: "n", Type: Int64, Path: []string{"p", "n"}},
	{Name: "x", Type: Float64, Path: []string{"p", "x"}},
	{Name: "ok", Type: Bool, Path: []string{"p", "ok"}},
	{Name: "when", Type: Timestamp, Path: []string{"p", "when"}},
	{Name: "day", Type: Date, Path: []string{"day"}},
	{Name: "deep", Type: String, Path: []string{"a", "b", "c"}},
	{Name: "whole_p", Type: String, Path: []string{"p"}},
	{Name: "labels", Type: String, Path: []string{"labels"}},
	{Name: "also_id", Type: String, Path: []string{"id"}},
	{Name: "record", Type: String}, // no path: the whole record as JSON text
}

var agreementRecords = []string{
	`{"id":51,"p":{"n":"42","x":"1.5","ok":"true","when":"2024-03-02T09:15:44.123-0500"},"day":"20240301"}`,
	`{"id":"a","p":{"n":12345678901234567,"x":1e3,"ok":false,"when":1709370944000},"a":{"b":{"c":"deep"}}}`,
	`{"id":"dup","p":{"n":1},"p":{"x":2}}`,                // the last "p" wins whole
	`{"id":"first","id":"last"}`,                          // the last key wins
	`{"p":null,"a":{"b":[1,2]},"labels":["x",{"k":"v"}]}`, // a path through null or an array is null
	`{"p":"not an object","a":"neither"}`,
	`{"p":{"n":"","x":"  ","ok":null},"day":""}`,                                      // empty strings are null
	`{"id":"\u00e9\ud83d\ude00 \"quoted\"","p":{"w\u0068en":"2024-01-01T00:00:00Z"}}`, // escapes in keys and values
	"{\"id\":\"bad \xff utf8\"}",
	`{"p":{"b":{"c":1},"n":3},"a":{"b":{"c":{"nested":[1,2,{"z":null}]}}}}`,
	`{"id":true}`,
	`{"extra":{"skipped":[1,2,3,{"deep":{"deeper":"x"}}]},"id":7}`,
	`{}`,
	` {"id": 1 , "p" : { "n" : 2 } } `,
	`{"id":1}trailing`,
	`[]`, `"str"`, `42`, `null`, ``, `{`, `{"id":}`, `{"id":1,}`, `{"p":{"n":"4x2"}}`, `{"p":{"ok":"maybe"}}`,
	`{"p":{"n":1.5}}`, `{"day":"2024-13-45"}`, `{"p":{"when":"yesterday"}}`, `{"extra":[1,2}`,
}

func TestExtractorAgreesWithDecodingToAMap(t *testing.T) {
	x := NewExtractor(agreementFields)
	for _, rec := range agreementRecords {
		checkAgreement(t, x, []byte(rec))
	}
}

func checkAgreement(t *testing.T, x *Extractor, rec []byte) {
	t.Helper()
	want, wantErr := extractByMap(rec, x.fields)
	got, gotErr := x.Extract(rec, nil)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: error %v, want %v", rec, gotErr, wantErr)
	}
	if wantErr != nil {
		// A conversion error names the field and value the same way; a syntax error
		// only needs to say the record is not a JSON object.
		if strings.HasPrefix(wantErr.Error(), "field ") && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, want %q", rec, gotErr, wantErr)
		}
		if strings.HasPrefix(wantErr.Error(), "record ") && !strings.HasPrefix(gotErr.Error(), "record is not a JSON object") {
			t.Fatalf("%q: error %q, want one saying it is not a JSON object", rec, gotErr)
		}
		return
	}
	for i := range want {
		w, g := want[i], got[i]
		if wt, ok := w.(time.Time); ok {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
				t.Fatalf("%q: %s = %#v, want %v", rec, x.fields[i].Name, g, wt)
			}
			continue
		}
		if !reflect.DeepEqual(w, g) {
			t.Fatalf("%q: %s = %#v, want %#v", rec, x.fields[i].Name, g, w)
		}
	}
}

func TestExtractorReusesOut(t *testing.T) {
	x := NewExtractor(agreementFields[:2])
	out, err := x.Extract([]byte(`{"id":"a","p":{"n":1}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := x.Extract([]byte(`{"id":"b"}`), out)
	if err != nil {
		t.Fatal(err)
	}
	if &again[0] != &out[0] || again[0] != "b" || again[1] != nil {
		t.Fatalf("second extract = %#v (reused: %v), want [b <nil>] in the same slice", again, &again[0] == &out[0])
	}
}

// contactRecord is shaped like a HubSpot contact, as landing benchmarks use.
const contactRecord = `{"id":"1000001","properties":{"associatedcompanyid":"5000000012","company":"Globex 3","country":"Japan","createdate":"2023-05-01T10:11:12.345Z","email":"anna.schmidt1000001@example.test","firstname":"Anna","hs_object_id":"1000001","lastmodifieddate":"2023-05-09T10:11:12.345Z","lastname":"Schmidt","lifecyclestage":"lead","phone":"+49 30 1234567"},"createdAt":"2023-05-01T10:11:12.345Z","updatedAt":"2023-05-09T10:11:12.345Z","archived":false}`

var contactFields = []Field{
	{Name: "id", Type: String, Path: []string{"id"}},
	{Name: "email", Type: String, Path: []string{"properties", "email"}},
	{Name: "firstname", Type: String, Path: []string{"properties", "firstname"}},
	{Name: "lastname", Type: String, Path: []string{"properties", "lastname"}},
	{Name: "company_id", Type: Int64, Path: []string{"properties", "associatedcompanyid"}},
	{Name: "country", Type: String, Path: []string{"properties", "country"}},
	{Name: "lifecyclestage", Type: String, Path: []string{"properties", "lifecyclestage"}},
	{Name: "created_at", Type: Timestamp, Path: []string{"createdAt"}},
	{Name: "updated_at", Type: Timestamp, Path: []string{"updatedAt"}},
	{Name: "archived", Type: Bool, Path: []string{"archived"}},
}

func TestContactRecordAgrees(t *testing.T) {
	checkAgreement(t, NewExtractor(contactFields), []byte(contactRecord))
}

// BenchmarkExtract compares the token walk with decoding the record into a map.
func BenchmarkExtract(b *testing.B) {
	rec := []byte(contactRecord)
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			if _, err := extractByMap(rec, contactFields); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("extractor", func(b *testing.B) {
		x := NewExtractor(contactFields)
		var out []any
		for b.Loop() {
			var err error
			if out, err = x.Extract(rec, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
