package looker

import (
	"testing"
	"time"
)

func TestDateFilterExpressions(t *testing.T) {
	now := time.Date(2026, 11, 25, 15, 30, 0, 0, time.UTC) // a Wednesday
	d := func(s string) time.Time {
		t, err := time.Parse(time.DateTime, s)
		if err != nil {
			t, _ = time.Parse(time.DateOnly, s)
		}
		return t
	}
	for _, c := range []struct {
		expr    string
		in, out []string
	}{
		// "N days" is today and the N-1 days before it.
		{"7 days", []string{"2026-11-19", "2026-11-25 23:59:59"}, []string{"2026-11-18 23:59:59", "2026-11-26"}},
		{"1 day", []string{"2026-11-25"}, []string{"2026-11-24 23:59:59"}},
		{"3 days ago", []string{"2026-11-22", "2026-11-22 23:00:00"}, []string{"2026-11-21", "2026-11-23"}},
		{"3 days ago for 2 days", []string{"2026-11-22", "2026-11-23 12:00:00"}, []string{"2026-11-24", "2026-11-21"}},
		// A range excludes its end.
		{"2026-11-01 to 2026-11-08", []string{"2026-11-01", "2026-11-07 23:59:59"}, []string{"2026-11-08", "2026-10-31"}},
		{"2026/11/01 to 2026/11/02", []string{"2026-11-01 10:00:00"}, []string{"2026-11-02"}},
		{"after 2026-11-20", []string{"2026-11-20", "2030-01-01"}, []string{"2026-11-19 23:59:59"}},
		{"before 2026-11-20", []string{"2026-11-19 23:59:59"}, []string{"2026-11-20"}},
		{"after 2 days ago", []string{"2026-11-23"}, []string{"2026-11-22"}},
		{"today", []string{"2026-11-25"}, []string{"2026-11-24"}},
		{"yesterday", []string{"2026-11-24 08:00:00"}, []string{"2026-11-25"}},
		{"this week", []string{"2026-11-23"}, []string{"2026-11-22"}}, // weeks start on Monday
		{"last month", []string{"2026-10-01", "2026-10-31"}, []string{"2026-11-01", "2026-09-30"}},
		{"2026-11", []string{"2026-11-30"}, []string{"2026-12-01"}},
		{"2 hours", []string{"2026-11-25 14:00:00"}, []string{"2026-11-25 13:59:59"}},
	} {
		p, err := parseDateFilter(c.expr, now)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		for _, s := range c.in {
			if !p(d(s)) {
				t.Errorf("%q leaves out %s", c.expr, s)
			}
		}
		for _, s := range c.out {
			if p(d(s)) {
				t.Errorf("%q keeps %s", c.expr, s)
			}
		}
		if p(nil) {
			t.Errorf("%q keeps NULL", c.expr)
		}
	}
	for _, bad := range []string{"last fortnight", "7 dayz", "2026-13-01", "3 days ago for"} {
		if _, err := parseDateFilter(bad, now); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if p, _ := parseFilter(kDate, "NULL", now); !p(nil) || p(now) {
		t.Error("NULL")
	}
}

func TestNumberAndStringFilterExpressions(t *testing.T) {
	for _, c := range []struct {
		k       kind
		expr    string
		in, out []any
	}{
		{kNumber, ">1200", []any{int64(1201)}, []any{int64(1200), nil}},
		{kNumber, "5,7", []any{int64(5), 7.0}, []any{int64(6)}},
		{kNumber, "NOT 5", []any{int64(6), nil}, []any{int64(5)}}, // NULL passes a negation
		{kNumber, "5 to 10", []any{int64(5), int64(10)}, []any{int64(11)}},
		{kNumber, "[5,10)", []any{int64(5)}, []any{int64(10)}},
		{kNumber, "NOT NULL", []any{int64(0)}, []any{nil}},
		{kString, "dashboard", []any{"dashboard", "Dashboard"}, []any{"dashboards", nil}},
		{kString, "dashboard,look", []any{"look"}, []any{"explore"}},
		{kString, "%Funnel%", []any{"Legacy Funnel (2025)"}, []any{"Pipeline"}},
		{kString, "-scheduled_task", []any{"dashboard", nil}, []any{"scheduled_task"}},
		{kString, "-NULL", []any{""}, []any{nil}},
		{kString, "EMPTY", []any{"", nil}, []any{"x"}},
		{kString, "a^,b", []any{"a,b"}, []any{"a", "b"}},
		{kString, "_ook", []any{"look"}, []any{"ook"}},
		{kYesNo, "Yes", []any{true}, []any{false}},
	} {
		p, err := parseFilter(c.k, c.expr, time.Now())
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		for _, v := range c.in {
			if !p(v) {
				t.Errorf("%q leaves out %v", c.expr, v)
			}
		}
		for _, v := range c.out {
			if p(v) {
				t.Errorf("%q keeps %v", c.expr, v)
			}
		}
	}
	for _, bad := range []string{">x", "[1,2", "1 to"} {
		if _, err := parseFilter(kNumber, bad, time.Now()); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
