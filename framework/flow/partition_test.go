package flow

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// oneDay is a stream whose landing holds one record naming its partition.
type oneDay struct{ day string }

func (s oneDay) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "daily_report", PrimaryKey: []string{"date"},
		Fields: []source.Field{{Name: "date", Type: source.String, Path: []string{"date"}}}}
}

func (s oneDay) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	rec, _ := json.Marshal(map[string]string{"date": s.day})
	return source.Page{Records: []json.RawMessage{rec}, Next: json.RawMessage(`{"v":1}`), Done: true}, nil
}

// A partition run reads only its own partition's landings of a RawSamePartition input
// (and the unpartitioned ones), every landing of a Raw input, and refuses a partition
// that never landed.
func TestRawInputOfSamePartition(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ref := lake.StreamRef{Domain: "marketing", Source: "googleanalytics", Stream: "daily_report"}
	landed := map[string]string{} // landing's first file key → partition
	for i, day := range []string{"2026-05-01", "2026-05-02", "", "2026-05-02", "2026-05-03"} {
		res, err := l.Land(ctx, oneDay{day: day}, lake.LandRequest{Stream: ref, RunID: "run-" + string(rune('a'+i)), Partition: day,
			SyncStart: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		landed[res.Manifest.Files[0].Key] = day
	}
	a := &Activities{Lake: l}
	partitions := func(src mesh.Input, partition string) ([]string, error) {
		raw, err := a.rawInput(ctx, "marketing", src, partition, t.TempDir())
		if err != nil {
			return nil, err
		}
		var out []string
		for _, f := range raw.Files {
			for key, day := range landed {
				if strings.HasSuffix(filepath.ToSlash(f), key) {
					out = append(out, day)
				}
			}
		}
		slices.Sort(out)
		return out, nil
	}
	for _, tc := range []struct {
		src       mesh.Input
		partition string
		want      []string
	}{
		{mesh.RawSamePartition("googleanalytics", "daily_report"), "2026-05-02", []string{"", "2026-05-02", "2026-05-02"}},
		{mesh.RawSamePartition("googleanalytics", "daily_report"), "", []string{"", "2026-05-01", "2026-05-02", "2026-05-02", "2026-05-03"}},
		{mesh.Raw("googleanalytics", "daily_report"), "2026-05-02", []string{"", "2026-05-01", "2026-05-02", "2026-05-02", "2026-05-03"}},
	} {
		got, err := partitions(tc.src, tc.partition)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (same partition %v), partition %q: read the landings of %q, want %q", tc.src, tc.src.SamePartition, tc.partition, got, tc.want)
		}
	}
	// Without an unpartitioned landing, a day that never landed has nothing to read.
	ref2 := lake.StreamRef{Domain: "product", Source: "pendo", Stream: "page_events"}
	if _, err := l.Land(ctx, oneDay{day: "2026-05-01"}, lake.LandRequest{Stream: ref2, RunID: "run-x", Partition: "2026-05-01"}); err != nil {
		t.Fatal(err)
	}
	_, err = a.rawInput(ctx, "product", mesh.RawSamePartition("pendo", "page_events"), "2026-05-09", t.TempDir())
	if !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "nothing has landed for partition 2026-05-09") {
		t.Errorf("a partition that never landed: %v, want NotFound naming it", err)
	}
}
