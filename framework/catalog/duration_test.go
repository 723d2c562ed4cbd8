package catalog

import (
	"strings"
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		8 * 24 * time.Hour:             "8d",
		26 * time.Hour:                 "26h",
		48 * time.Hour:                 "2d",
		50*time.Hour + 13*time.Minute:  "2d 2h",
		72*time.Hour + 40*time.Minute:  "3d 1h",
		90 * time.Minute:               "1h 30m",
		time.Hour + 20*time.Second:     "1h",
		5 * time.Minute:                "5m",
		5*time.Minute + 30*time.Second: "5m 30s",
		45 * time.Second:               "45s",
		1500 * time.Millisecond:        "2s",
		250 * time.Millisecond:         "250ms",
		0:                              "0ms",
		-(26 * time.Hour):              "-26h",
		23*time.Hour + 59*time.Minute + 50*time.Second: "24h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSampleSortedByPrimaryKey(t *testing.T) {
	s := Sample{Columns: []string{"name", "id", "day"}, Rows: [][]string{{"c", "10", "2026-01-02"}, {"a", "9", "2026-01-02"}, {"b", "10", "2026-01-01"}, {"z", "", "2026-01-01"}}}
	sortByKey([]string{"id", "day"}, &s)
	var got []string
	for _, r := range s.Rows {
		got = append(got, r[0])
	}
	if strings.Join(got, "") != "zabc" {
		t.Errorf("rows in key order (NULL first, 9 before 10, then by day): %v", s.Rows)
	}
}
