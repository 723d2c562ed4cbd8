package googleanalytics

import (
	"bytes"
	"cmp"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportRequest is the runReport body, as far as the imitation understands it.
type ReportRequest struct {
	Property            string      `json:"property,omitempty"`
	DateRanges          []DateRange `json:"dateRanges"`
	Dimensions          []Named     `json:"dimensions,omitempty"`
	Metrics             []Named     `json:"metrics,omitempty"`
	Limit               Int64       `json:"limit,omitempty"`
	Offset              Int64       `json:"offset,omitempty"`
	OrderBys            []OrderBy   `json:"orderBys,omitempty"`
	KeepEmptyRows       bool        `json:"keepEmptyRows,omitempty"`
	ReturnPropertyQuota bool        `json:"returnPropertyQuota,omitempty"`
	CurrencyCode        string      `json:"currencyCode,omitempty"`

	// Real fields the imitation does not implement: a request using them is
	// refused with INVALID_ARGUMENT naming the field, rather than answered wrongly.
	DimensionFilter    json.RawMessage `json:"dimensionFilter,omitempty"`
	MetricFilter       json.RawMessage `json:"metricFilter,omitempty"`
	MetricAggregations json.RawMessage `json:"metricAggregations,omitempty"`
	CohortSpec         json.RawMessage `json:"cohortSpec,omitempty"`
	Comparisons        json.RawMessage `json:"comparisons,omitempty"`
}

// DateRange is inclusive; dates are YYYY-MM-DD, "today", "yesterday" or "NdaysAgo"
// in the property's time zone.
type DateRange struct {
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate"`
	Name      string `json:"name,omitempty"`
}

// Named is a dimension or metric of a request.
type Named struct {
	Name string `json:"name"`
}

// OrderBy sorts rows by a dimension or a metric.
type OrderBy struct {
	Desc      bool `json:"desc,omitempty"`
	Dimension *struct {
		DimensionName string `json:"dimensionName"`
		OrderType     string `json:"orderType,omitempty"` // ALPHANUMERIC (default), CASE_INSENSITIVE_ALPHANUMERIC, NUMERIC
	} `json:"dimension,omitempty"`
	Metric *struct {
		MetricName string `json:"metricName"`
	} `json:"metric,omitempty"`
}

// Int64 is a proto3 int64 in JSON: a number or a decimal string.
type Int64 int64

// UnmarshalJSON accepts 5 and "5".
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}

// Report is the runReport answer. Zero values are left out as proto3 JSON does,
// so an empty report has neither `rows` nor `rowCount`.
type Report struct {
	DimensionHeaders []Header       `json:"dimensionHeaders,omitempty"`
	MetricHeaders    []MetricHeader `json:"metricHeaders,omitempty"`
	Rows             []Row          `json:"rows,omitempty"`
	RowCount         int            `json:"rowCount,omitempty"`
	Metadata         Metadata       `json:"metadata"`
	PropertyQuota    *PropertyQuota `json:"propertyQuota,omitempty"`
	Kind             string         `json:"kind"`
}

// Header names a dimension column.
type Header struct {
	Name string `json:"name"`
}

// MetricHeader names and types a metric column (TYPE_INTEGER, TYPE_FLOAT, ...).
type MetricHeader struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Row is one report row; every value is a string.
type Row struct {
	DimensionValues []Value `json:"dimensionValues,omitempty"`
	MetricValues    []Value `json:"metricValues,omitempty"`
}

// Value is one cell.
type Value struct {
	Value string `json:"value"`
}

// Metadata describes the report's property.
type Metadata struct {
	CurrencyCode string `json:"currencyCode,omitempty"`
	TimeZone     string `json:"timeZone,omitempty"`
}

const (
	maxDimensions = 9
	maxMetrics    = 10
	maxDateRanges = 4
	defaultLimit  = 10_000
	maxLimit      = 250_000
)

var daysAgo = regexp.MustCompile(`^([0-9]+)daysAgo$`)

// runReport is POST /v1beta/properties/{id}:runReport.
func (a *API) runReport(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("call"), ":runReport")
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
		return
	}
	p, ok := a.property(w, id)
	if !ok {
		return
	}
	var req ReportRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	a.mu.Lock()
	now := a.nowLocked()
	fail := a.failingDayLocked(req)
	var rep *Report
	if fail == nil {
		rep, fail = a.compute(p, req, now, a.reportSeq.Add(1))
	}
	if fail == nil {
		a.malformLocked(id, req, rep)
	}
	if fail == nil {
		var q *PropertyQuota
		q, fail = a.charge(p, now)
		if req.ReturnPropertyQuota {
			rep.PropertyQuota = q
		}
	}
	a.mu.Unlock()
	if fail != nil {
		writeError(w, fail.Code, fail.Status, fail.Message)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// FailDays makes every runReport whose date range starts on one of days
// ("YYYY-MM-DD") fail with INVALID_ARGUMENT until ClearFailures: a fault that is not
// retried, so a backfill's chosen partitions fail at once. Tests of rerun-failed use it.
func (a *API) FailDays(days ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failDays == nil {
		a.failDays = map[string]bool{}
	}
	for _, d := range days {
		a.failDays[d] = true
	}
}

// MalformDay makes property's report of day ("YYYY-MM-DD", a date range starting on
// it) carry a malformed first row until ClearFailures: the first metric's value is
// "n/a" instead of a number, as when an API changes a field's type under its
// clients. The request succeeds; the client is the one that must notice. Report is
// unaffected.
func (a *API) MalformDay(property, day string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.malformed == nil {
		a.malformed = map[[2]string]bool{}
	}
	a.malformed[[2]string{property, day}] = true
}

// ClearFailures undoes FailDays and MalformDay.
func (a *API) ClearFailures() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failDays = nil
	a.malformed = nil
}

// malformLocked applies MalformDay to a computed report; its first row is on the
// first page only.
func (a *API) malformLocked(property string, req ReportRequest, rep *Report) {
	if len(req.DateRanges) == 0 || !a.malformed[[2]string{property, req.DateRanges[0].StartDate}] {
		return
	}
	if req.Offset == 0 && len(rep.Rows) > 0 && len(rep.Rows[0].MetricValues) > 0 {
		rep.Rows[0].MetricValues[0].Value = "n/a"
	}
}

func (a *API) failingDayLocked(req ReportRequest) *Error {
	for _, dr := range req.DateRanges {
		if a.failDays[dr.StartDate] {
			return &Error{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: "sandbox: reports starting on " + dr.StartDate + " are set to fail (FailDays)"}
		}
	}
	return nil
}

// Report computes what runReport would answer for property now, without
// authentication, quota or counting: tests use it to know what to expect.
func (a *API) Report(property string, req ReportRequest) (*Report, error) {
	p, ok := a.props[property]
	if !ok {
		return nil, &Error{Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Message: "unknown property " + property}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rep, fail := a.compute(p, req, a.nowLocked(), 0)
	if fail != nil {
		return nil, fail
	}
	return rep, nil
}

// group is one report row being summed.
type group struct {
	dims []string
	c    counts
}

// compute builds the report. seq varies the order of ties when the request has
// no orderBys, as GA4 promises no order then. The caller holds a.mu.
func (a *API) compute(p *property, req ReportRequest, now time.Time, seq uint64) (*Report, *Error) {
	if fail := validate(req); fail != nil {
		return nil, fail
	}
	type span struct {
		from, to time.Time
		name     string
	}
	var spans []span
	for i, dr := range req.DateRanges {
		from, err := resolveDate(dr.StartDate, now, p.loc)
		if err != nil {
			return nil, err
		}
		to, err := resolveDate(dr.EndDate, now, p.loc)
		if err != nil {
			return nil, err
		}
		if to.Before(from) {
			return nil, badRequest("Invalid date range: startDate %s is after endDate %s.", dr.StartDate, dr.EndDate)
		}
		name := dr.Name
		if name == "" {
			name = "date_range_" + strconv.Itoa(i)
		}
		spans = append(spans, span{from, to, name})
	}
	dims := make([]string, 0, len(req.Dimensions)+1)
	for _, d := range req.Dimensions {
		dims = append(dims, d.Name)
	}
	if len(spans) > 1 { // several ranges: GA4 adds a dateRange column
		dims = append(dims, "dateRange")
	}
	groups := map[string]*group{}
	var order []*group
	for _, sp := range spans {
		// Days outside the history have no cells; skip them without looking.
		from, to := later(sp.from, p.first), earlier(sp.to, civil(now, p.loc))
		for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
			cells := a.cells(p, day, now)
			for i, c := range cells {
				vals := make([]string, len(dims))
				for j, d := range dims {
					if d == "dateRange" {
						vals[j] = sp.name
					} else {
						vals[j] = dimValue(d, p.segs[i], day)
					}
				}
				k := strings.Join(vals, "\x00")
				g := groups[k]
				if g == nil {
					g = &group{dims: vals}
					groups[k] = g
					order = append(order, g)
				}
				g.c.add(c)
			}
		}
	}
	rep := &Report{
		Metadata: Metadata{CurrencyCode: p.CurrencyCode, TimeZone: p.TimeZone},
		Kind:     "analyticsData#runReport",
	}
	for _, d := range dims {
		rep.DimensionHeaders = append(rep.DimensionHeaders, Header{d})
	}
	for _, m := range req.Metrics {
		rep.MetricHeaders = append(rep.MetricHeaders, MetricHeader{m.Name, metricTypes[m.Name]})
	}
	type row struct {
		dims []string
		nums []float64
		vals []string
	}
	var rows []row
	for _, g := range order {
		rw := row{dims: g.dims}
		zero := true
		for _, m := range req.Metrics {
			v, s := metricValue(m.Name, g.c)
			zero = zero && v == 0
			rw.nums = append(rw.nums, v)
			rw.vals = append(rw.vals, s)
		}
		if zero && len(req.Metrics) > 0 && !req.KeepEmptyRows {
			continue
		}
		rows = append(rows, rw)
	}

	byDims := func(x, y row) int { return slices.Compare(x.dims, y.dims) }
	if len(req.OrderBys) == 0 {
		// GA4 promises no order without orderBys; the imitation sorts by the first
		// metric and breaks ties differently on every request, so offset paging
		// without orderBys can skip and repeat rows, as it can against GA4.
		slices.SortFunc(rows, func(x, y row) int {
			if len(x.nums) > 0 {
				if c := cmp.Compare(y.nums[0], x.nums[0]); c != 0 {
					return c
				}
			}
			if c := cmp.Compare(tieHash(x.dims, seq), tieHash(y.dims, seq)); c != 0 {
				return c
			}
			return byDims(x, y)
		})
	} else {
		slices.SortStableFunc(rows, func(x, y row) int {
			for _, ob := range req.OrderBys {
				var c int
				if ob.Metric != nil {
					i := slices.IndexFunc(req.Metrics, func(n Named) bool { return n.Name == ob.Metric.MetricName })
					c = cmp.Compare(x.nums[i], y.nums[i])
				} else {
					i := slices.Index(dims, ob.Dimension.DimensionName)
					c = compareDim(x.dims[i], y.dims[i], ob.Dimension.OrderType)
				}
				if ob.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return byDims(x, y)
		})
	}

	rep.RowCount = len(rows)
	limit := int(req.Limit)
	if limit == 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	from := min(int(req.Offset), len(rows))
	to := min(from+limit, len(rows))
	for _, rw := range rows[from:to] {
		out := Row{}
		for _, d := range rw.dims {
			out.DimensionValues = append(out.DimensionValues, Value{d})
		}
		for _, v := range rw.vals {
			out.MetricValues = append(out.MetricValues, Value{v})
		}
		rep.Rows = append(rep.Rows, out)
	}
	return rep, nil
}

func validate(req ReportRequest) *Error {
	for name, v := range map[string]json.RawMessage{
		"dimensionFilter": req.DimensionFilter, "metricFilter": req.MetricFilter,
		"metricAggregations": req.MetricAggregations, "cohortSpec": req.CohortSpec, "comparisons": req.Comparisons,
	} {
		if len(v) > 0 && !bytes.Equal(v, []byte("null")) {
			return badRequest("%s is not imitated by the sandbox.", name)
		}
	}
	switch {
	case len(req.DateRanges) == 0:
		return badRequest("dateRanges is required: add at least one {startDate, endDate}.")
	case len(req.DateRanges) > maxDateRanges:
		return badRequest("Requests are limited to %d dateRanges.", maxDateRanges)
	case len(req.Dimensions) > maxDimensions:
		return badRequest("Requests are limited to %d dimensions within a request. This request had %d dimensions.", maxDimensions, len(req.Dimensions))
	case len(req.Metrics) > maxMetrics:
		return badRequest("Requests are limited to %d metrics within a request. This request had %d metrics.", maxMetrics, len(req.Metrics))
	case len(req.Dimensions)+len(req.Metrics) == 0:
		return badRequest("Requests must have at least one dimension or metric.")
	case req.Limit < 0:
		return badRequest("limit must be positive; got %d.", req.Limit)
	case req.Offset < 0:
		return badRequest("offset must be non-negative; got %d.", req.Offset)
	}
	seen := map[string]bool{}
	for _, d := range req.Dimensions {
		if !slices.Contains(Dimensions, d.Name) {
			return badRequest("Field %s is not a valid dimension. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema ", d.Name)
		}
		if seen[d.Name] {
			return badRequest("Duplicate dimension name: %s.", d.Name)
		}
		seen[d.Name] = true
	}
	for _, m := range req.Metrics {
		if _, ok := metricTypes[m.Name]; !ok {
			return badRequest("Field %s is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema ", m.Name)
		}
		if seen[m.Name] {
			return badRequest("Duplicate metric name: %s.", m.Name)
		}
		seen[m.Name] = true
	}
	for _, ob := range req.OrderBys {
		switch {
		case (ob.Dimension == nil) == (ob.Metric == nil):
			return badRequest("An orderBy must name exactly one of dimension or metric.")
		case ob.Dimension != nil && !slices.ContainsFunc(req.Dimensions, func(n Named) bool { return n.Name == ob.Dimension.DimensionName }):
			return badRequest("orderBys: dimension %s is not in the request's dimensions.", ob.Dimension.DimensionName)
		case ob.Metric != nil && !slices.ContainsFunc(req.Metrics, func(n Named) bool { return n.Name == ob.Metric.MetricName }):
			return badRequest("orderBys: metric %s is not in the request's metrics.", ob.Metric.MetricName)
		}
		if ob.Dimension != nil {
			switch ob.Dimension.OrderType {
			case "", "ORDER_TYPE_UNSPECIFIED", "ALPHANUMERIC", "CASE_INSENSITIVE_ALPHANUMERIC", "NUMERIC":
			default:
				return badRequest("Invalid orderType %q.", ob.Dimension.OrderType)
			}
		}
	}
	return nil
}

// resolveDate reads a date of a dateRange in loc's calendar.
func resolveDate(s string, now time.Time, loc *time.Location) (time.Time, *Error) {
	today := civil(now, loc)
	switch s {
	case "today":
		return today, nil
	case "yesterday":
		return today.AddDate(0, 0, -1), nil
	}
	if m := daysAgo.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil {
			return today.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d, nil
	}
	return time.Time{}, badRequest("Invalid date: %q. Date must be in the format YYYY-MM-DD, NdaysAgo, yesterday, or today.", s)
}

// metricValue is a metric of summed counts, as a number (for ordering and the
// all-zero test) and as the string GA4 sends.
func metricValue(name string, c counts) (float64, string) {
	ratio := func(n, d float64) float64 {
		if d == 0 {
			return 0
		}
		return n / d
	}
	var n int64
	switch name {
	case "sessions":
		n = c.sessions
	case "totalUsers":
		n = c.users
	case "activeUsers":
		n = c.active
	case "newUsers":
		n = c.newUsers
	case "engagedSessions":
		n = c.engaged
	case "conversions", "keyEvents":
		n = c.conversions
	case "screenPageViews":
		n = c.views
	case "eventCount":
		n = c.events
	default:
		var f float64
		switch name {
		case "engagementRate":
			f = ratio(float64(c.engaged), float64(c.sessions))
		case "bounceRate":
			if c.sessions > 0 {
				f = 1 - ratio(float64(c.engaged), float64(c.sessions))
			}
		case "averageSessionDuration":
			f = ratio(c.duration, float64(c.sessions))
		case "totalRevenue":
			f = math.Round(c.revenue*100) / 100
		}
		return f, strconv.FormatFloat(f, 'f', -1, 64)
	}
	return float64(n), strconv.FormatInt(n, 10)
}

func compareDim(x, y, orderType string) int {
	switch orderType {
	case "CASE_INSENSITIVE_ALPHANUMERIC":
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case "NUMERIC":
		a, errA := strconv.ParseFloat(x, 64)
		b, errB := strconv.ParseFloat(y, 64)
		if errA == nil && errB == nil {
			return cmp.Compare(a, b)
		}
	}
	return strings.Compare(x, y)
}

func tieHash(dims []string, seq uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(seq, 10)))
	for _, d := range dims {
		h.Write([]byte{0})
		h.Write([]byte(d))
	}
	return h.Sum64()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
