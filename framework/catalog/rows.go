package catalog

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strconv"
	"strings"
)

// RowsHTML is the listing's table body. It is written here rather than as a template
// range: html/template escapes every action through reflection, which for a thousand
// products was most of the home page's time (BenchmarkCatalogPages). Every value is
// escaped with html.EscapeString; the markup is what the template wrote.
func (pg listPage) RowsHTML() template.HTML {
	if len(pg.Products) == 0 {
		return `<tr><td colspan="10">No product matches.</td></tr>`
	}
	e := html.EscapeString
	var b strings.Builder
	b.Grow(len(pg.Products) * 700)
	for _, s := range pg.Products {
		ref := e(s.Domain + "." + s.Name)
		fmt.Fprintf(&b, `<tr>
<td><a href="/products/%s">%s</a>`, ref, e(s.Name))
		if s.Classification == "restricted" {
			b.WriteString(` <span class="tag">restricted</span>`)
		}
		fmt.Fprintf(&b, ` <small>v%s</small>`, e(s.Version))
		for _, l := range s.Legacy {
			until := ", sunset"
			if l.Publishing {
				until = ", until " + e(l.Sunset)
			}
			fmt.Fprintf(&b, `<br><small class="deprecated">v%s deprecated%s</small>`, e(l.Version), until)
		}
		if s.Problem != "" {
			fmt.Fprintf(&b, `<br><small class="fail" role="alert">%s</small>`, e(s.Problem))
		}
		fmt.Fprintf(&b, `</td><td><a href="/domains/%s">%s</a></td><td>%s</td><td>%s</td>
<td>`, e(s.Domain), e(s.Domain), e(s.Owner), e(s.Description))
		for _, t := range pg.Tags[s.Domain+"."+s.Name] {
			fmt.Fprintf(&b, `<span class="tag">%s</span>`, e(t))
		}
		fmt.Fprintf(&b, `</td>
<td class="%[1]s">%[1]s</td><td class="%[2]s">%[2]s</td>
<td>`, e(string(s.Freshness.Status)), e(string(s.Quality.Status)))
		if r := s.LastRun; r != nil {
			class := "pass"
			if r.Failed() {
				class = "fail"
			}
			fmt.Fprintf(&b, `<span class="%s">%s</span> <small>%s</small>`, class, e(r.Status), r.FinishedAt.UTC().Format("2006-01-02 15:04"))
		} else {
			b.WriteString(`<span class="unknown">none</span>`)
		}
		b.WriteString("</td>\n<td>")
		if s.OpenAlerts > 0 {
			fmt.Fprintf(&b, `<a class="fail" href="/products/%s">%d open</a>`, ref, s.OpenAlerts)
		}
		fmt.Fprintf(&b, "</td><td>%d</td></tr>\n", s.Rows)
	}
	return template.HTML(b.String())
}

// sortByKey orders the sample's rows by the primary key's columns, numbers as numbers:
// a sample is the first rows read, in no order a reader would guess.
func sortByKey(key []string, s *Sample) {
	var cols []int
	for _, k := range key {
		if i := slices.Index(s.Columns, k); i >= 0 {
			cols = append(cols, i)
		}
	}
	slices.SortStableFunc(s.Rows, func(a, b []string) int {
		for _, i := range cols {
			if c := compareValues(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// compareValues compares two values as numbers when both are, else as text; an
// empty value (NULL) sorts first.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}
