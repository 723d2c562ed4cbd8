package tlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rs/zerolog"
)

func TestLoggerWritesStructuredFields(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf)).With("domain", "marketing")
	l.Error("activity failed", "attempt", 2, "error", errors.New("boom"), "dangling")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %s", buf.String())
	}
	want := map[string]any{"level": "error", "message": "activity failed", "domain": "marketing", "attempt": 2.0, "error": "boom", "dangling": "(missing value)"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
