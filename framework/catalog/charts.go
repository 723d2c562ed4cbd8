package catalog

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// Charts are the product page's pictures of its history, drawn here as SVG so the
// page needs no JavaScript: rows per snapshot, duration per run, data lag per
// snapshot, each check's result per run, and for a partitioned product a calendar of
// its days. RunURLs link each run to its workflow in the Temporal UI, when the
// catalog knows where that is.
type Charts struct {
	Rows, Durations, Lag, Checks, Calendar template.HTML
	RunURLs                                map[string]string // run id → its history in the Temporal UI
	// Contract is the port's contract history, oldest first: each version published
	// and what changed in its contract from the one before.
	Contract []ContractVersion
}

// ContractVersion is one version of a port's contract, as its snapshots recorded it.
type ContractVersion struct {
	Version string
	Since   time.Time // its first snapshot
	Changes []contract.Change
	First   bool // the port's first version in the snapshots kept
}

// chartRuns and chartSnapshots are how many of the newest the charts draw.
const (
	chartRuns      = 40
	chartSnapshots = 40
	calendarDays   = 12 * 7
	calendarRuns   = 400 // run records read for the calendar, newest first
)

// drawCharts fills det.Charts for the product page: only for a caller who may read
// the product (det.Withheld empty), from its run records and snapshots.
func (c *Catalog) drawCharts(ctx context.Context, det *Detail) {
	if det.Withheld != "" {
		return
	}
	d, p, err := c.Mesh.Find(det.Domain + "." + det.Name)
	if err != nil {
		return
	}
	n := chartRuns
	if p.PartitionBy != "" {
		n = calendarRuns
	}
	runs, _ := c.runs(ctx, d.Name, p.Name, n) // newest first; the charts draw what could be read
	snaps, _ := c.Ports.Snapshots(ctx, port.TableID{Domain: d.Name, Name: p.PortName()})
	ch := &Charts{RunURLs: map[string]string{}}
	for _, r := range runs {
		if u := c.WorkflowURL(r.WorkflowID, r.RunID); u != "" {
			ch.RunURLs[r.RunID] = u
		}
	}
	ch.Rows, ch.Lag = snapshotCharts(snaps, ch.RunURLs)
	ch.Contract = contractHistory(snaps)
	ch.Durations = durationChart(runs[:min(len(runs), chartRuns)], ch.RunURLs)
	ch.Checks = checkGrid(p, runs[:min(len(runs), chartRuns)], ch.RunURLs)
	if p.PartitionBy != "" {
		ch.Calendar = calendar(runs, c.now(), ch.RunURLs)
	}
	det.Charts = ch
	if u, ok := c.Audit.(access.UsageReader); ok {
		if use, err := u.Usage(ctx, d.Name+"."+p.Name, c.now().Add(-usageWindow)); err == nil {
			det.Usage = &use
		}
	}
}

// usageWindow is how far back the product page counts the port's reads.
const usageWindow = 30 * 24 * time.Hour

// bar is one bar of a chart.
type bar struct {
	at    time.Time
	value float64
	class string // pass, warn, fail or "" (neutral)
	title string
	href  string
}

var barColours = map[string]string{"pass": "#2e9e5b", "warn": "#d08a00", "fail": "#c62828", "": "#4f72b8"}

// barChart draws bars oldest first, with the largest value and the first and last
// dates as the axes' labels; label formats the largest value.
func barChart(name string, bars []bar, label func(float64) string) template.HTML {
	if len(bars) == 0 {
		return ""
	}
	const w, h, left, bottom, top = 640, 150, 64, 22, 8
	plotW, plotH := float64(w-left-8), float64(h-bottom-top)
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.value)
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(name))
	fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#9aa4b2"/>`, left, h-bottom, w-8, h-bottom)
	fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s</text>`, left-6, top+10, html.EscapeString(label(maxV)))
	fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="11">0</text>`, left-6, h-bottom)
	step := plotW / float64(len(bars))
	for i, b := range bars {
		bh := 0.0
		if maxV > 0 {
			bh = b.value / maxV * plotH
		}
		bh = max(bh, 1) // a zero still shows as a sliver: there was a run
		x := float64(left) + float64(i)*step
		bar := fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x+step*0.1, float64(h-bottom)-bh, step*0.8, bh, barColours[b.class], html.EscapeString(b.title))
		if b.href != "" {
			bar = fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(b.href), bar)
		}
		s.WriteString(bar)
	}
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11">%s</text>`, left, h-6, bars[0].at.UTC().Format("2006-01-02 15:04"))
	if len(bars) > 1 {
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s</text>`, w-8, h-6, bars[len(bars)-1].at.UTC().Format("2006-01-02 15:04"))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// snapshotCharts draws the rows of each snapshot and, where the publish recorded its
// data's watermark, how far behind its publish the data was (the data lag).
func snapshotCharts(snaps []port.Snapshot, runURLs map[string]string) (rows, lag template.HTML) {
	snaps = slices.Clone(snaps[:min(len(snaps), chartSnapshots)]) // newest first
	slices.Reverse(snaps)
	var rb, lb []bar
	for _, s := range snaps {
		at := s.Timestamp
		if t, err := time.Parse(time.RFC3339, s.Properties[flow.PropPublishedAt]); err == nil {
			at = t
		}
		href := runURLs[s.Properties[flow.PropRunID]]
		rb = append(rb, bar{at: at, value: float64(s.Rows), href: href,
			title: fmt.Sprintf("snapshot %d, %s UTC: %d rows (%s)", s.ID, at.UTC().Format("2006-01-02 15:04"), s.Rows, s.Operation)})
		if wm, err := time.Parse(time.RFC3339, s.Properties[flow.PropWatermark]); err == nil && !at.Before(wm) {
			lag := at.Sub(wm)
			lb = append(lb, bar{at: at, value: lag.Seconds(), href: href,
				title: fmt.Sprintf("snapshot %d, published %s UTC with data up to %s UTC: %s behind", s.ID, at.UTC().Format("2006-01-02 15:04"), wm.UTC().Format("2006-01-02 15:04"), humanDuration(lag))})
		}
	}
	secs := func(v float64) string { return humanDuration(time.Duration(v * float64(time.Second))) }
	return barChart("rows per snapshot", rb, func(v float64) string { return fmt.Sprintf("%.0f rows", v) }), barChart("data lag per snapshot", lb, secs)
}

// runClass colours a run by its outcome.
func runClass(status string) string {
	switch status {
	case flow.StatusPublished, flow.StatusUnchanged:
		return "pass"
	case flow.StatusWaiting:
		return "warn"
	}
	return "fail"
}

// durationChart draws each run's duration, coloured by its outcome.
func durationChart(runs []flow.RunRecord, runURLs map[string]string) template.HTML {
	var bars []bar
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		took := r.FinishedAt.Sub(r.StartedAt)
		title := fmt.Sprintf("%s UTC: %s in %s", r.FinishedAt.UTC().Format("2006-01-02 15:04"), r.Status, humanDuration(took))
		if r.Partition != "" {
			title += ", partition " + r.Partition
		}
		if r.Trigger != "" {
			title += ", started by " + r.Trigger
		}
		bars = append(bars, bar{at: r.FinishedAt, value: took.Seconds(), class: runClass(r.Status), title: title, href: runURLs[r.RunID]})
	}
	return barChart("duration per run", bars, func(v float64) string { return humanDuration(time.Duration(v * float64(time.Second))) })
}

// checkGrid draws each declared check's result in each run that ran checks, oldest
// left, with the first and last run's dates.
func checkGrid(p mesh.Product, runs []flow.RunRecord, runURLs map[string]string) template.HTML {
	var checked []flow.RunRecord
	for i := len(runs) - 1; i >= 0; i-- {
		if len(runs[i].Checks) > 0 {
			checked = append(checked, runs[i])
		}
	}
	checks := p.AllChecks()
	if len(checked) == 0 || len(checks) == 0 {
		return ""
	}
	const cell, left, top = 14, 230, 4
	w, h := left+len(checked)*cell+8, top+len(checks)*cell+22
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="check results per run">`, w, h, w, h)
	for i, ch := range checks {
		y := top + i*cell
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s</text>`, left-6, y+11, html.EscapeString(ch.Name))
		for j, r := range checked {
			status := ""
			for _, res := range r.Checks {
				if res.Name == ch.Name {
					status = string(res.Status)
				}
			}
			fill, title := "#e5e7eb", "not run (declared later)"
			if status != "" {
				fill, title = barColours[status], status
			}
			rect := fmt.Sprintf(`<rect x="%d" y="%d" width="%d" height="%d" rx="2" fill="%s"><title>%s — %s UTC: %s</title></rect>`,
				left+j*cell+1, y+1, cell-2, cell-2, fill, html.EscapeString(ch.Name), r.FinishedAt.UTC().Format("2006-01-02 15:04"), title)
			if u := runURLs[r.RunID]; u != "" {
				rect = fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(u), rect)
			}
			s.WriteString(rect)
		}
	}
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11">%s</text>`, left, h-6, checked[0].FinishedAt.UTC().Format("2006-01-02"))
	if len(checked) > 1 {
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s</text>`, w-8, h-6, checked[len(checked)-1].FinishedAt.UTC().Format("2006-01-02"))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// calendar draws the last calendarDays days of a partitioned product, a column a
// week: published (its newest run of the day published or found it unchanged),
// failed (blocked or failed), waiting, or missing (no run of the day read).
func calendar(runs []flow.RunRecord, now time.Time, runURLs map[string]string) template.HTML {
	newest := map[string]flow.RunRecord{} // runs are newest first: keep the first of each day
	for _, r := range runs {
		if _, seen := newest[r.Partition]; r.Partition != "" && !seen {
			newest[r.Partition] = r
		}
	}
	today := now.UTC().Truncate(24 * time.Hour)
	// Start on the Monday calendarDays ago, so rows are weekdays.
	start := today.AddDate(0, 0, -calendarDays+1)
	start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
	const cell, left, top = 14, 30, 4
	weeks := int(today.Sub(start).Hours()/24)/7 + 1
	w, h := left+weeks*cell+8, top+7*cell+22
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart calendar" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="days published">`, w, h, w, h)
	for i, name := range []string{"Mon", "", "Wed", "", "Fri", "", "Sun"} {
		if name != "" {
			fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="10">%s</text>`, left-4, top+i*cell+11, name)
		}
	}
	counts := map[string]int{}
	for day := start; !day.After(today); day = day.AddDate(0, 0, 1) {
		i := int(day.Sub(start).Hours() / 24)
		key := day.Format(time.DateOnly)
		fill, state, href := "#e5e7eb", "missing", ""
		if r, ok := newest[key]; ok {
			state = map[string]string{"pass": "published", "warn": "waiting", "fail": "failed"}[runClass(r.Status)]
			fill, href = barColours[runClass(r.Status)], runURLs[r.RunID]
		}
		counts[state]++
		rect := fmt.Sprintf(`<rect class="day %s" x="%d" y="%d" width="%d" height="%d" rx="2" fill="%s"><title>%s: %s</title></rect>`,
			state, left+(i/7)*cell+1, top+(i%7)*cell+1, cell-2, cell-2, fill, key, state)
		if href != "" {
			rect = fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(href), rect)
		}
		s.WriteString(rect)
	}
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="11">%s to %s: %d published, %d failed, %d waiting, %d missing</text>`,
		left, h-6, start.Format(time.DateOnly), today.Format(time.DateOnly), counts["published"], counts["failed"], counts["waiting"], counts["missing"])
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

// contractHistory reads the contract each snapshot recorded (flow.PropContract) and
// lists each version once, with what changed in the contract since the one before:
// a version bump without a change says none. Snapshots are newest first; expired
// ones are gone, so the history starts at the oldest kept.
func contractHistory(snaps []port.Snapshot) []ContractVersion {
	var out []ContractVersion
	var prevText string
	var prev contract.Contract
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		text, version := s.Properties[flow.PropContract], s.Properties[flow.PropVersion]
		if text == "" || text == prevText && (len(out) == 0 || out[len(out)-1].Version == version) {
			continue
		}
		c, err := contract.Parse([]byte(text))
		if err != nil {
			continue
		}
		at := s.Timestamp
		if t, err := time.Parse(time.RFC3339, s.Properties[flow.PropPublishedAt]); err == nil {
			at = t
		}
		v := ContractVersion{Version: version, Since: at, First: prevText == ""}
		if !v.First {
			v.Changes = contract.Compare(prev, c)
		}
		if !v.First && len(v.Changes) == 0 && len(out) > 0 && out[len(out)-1].Version == version {
			prevText, prev = text, c // a wording change of the same version: nothing a consumer sees
			continue
		}
		out = append(out, v)
		prevText, prev = text, c
	}
	return out
}
