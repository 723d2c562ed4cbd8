package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Row is one line of the table.
type Row struct {
	Benchmark string    `json:"benchmark"`
	Size      string    `json:"size"`
	Figures   string    `json:"figures"`
	Unit      string    `json:"unit"`
	Goal      string    `json:"goal"`   // the ratio against its goal, or "—"
	Result    string    `json:"result"` // pass, miss, or "—" for a figure without a goal
	Values    []float64 `json:"values"` // Figures as numbers, for scripts and the smoke test
}

const none = "—"

// verdict is pass when ok, else miss.
func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "miss"
}

func printTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCHMARK\tSIZE\tFIGURE(S)\tUNIT\tRATIO / GOAL\tRESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Benchmark, r.Size, r.Figures, r.Unit, r.Goal, r.Result)
	}
	tw.Flush()
}

// count writes 1000000 as 1M, 2000 as 2k, 1500 as 1.5k.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1_000 && n%100 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.Itoa(n)
}

// num writes a figure with thousands separators and sensible precision.
func num(v float64) string {
	switch {
	case math.Abs(v) >= 1000:
		return group(strconv.FormatInt(int64(math.Round(v)), 10))
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func group(digits string) string {
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func figures(vs ...float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	return strings.Join(s, " · ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
func mb(b int64) float64  { return float64(b) / 1e6 }

// ratio writes 0.31×.
func ratio(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "×" }
