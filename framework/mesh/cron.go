package mesh

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of a 5-field cron expression, read the way Temporal's
// schedules read it: its range, and for months and weekdays the names it accepts
// (any prefix of at least minPrefix letters, in any case: jan, January, mo, MON).
type cronField struct {
	name      string
	min, max  int
	names     []string // names[i] stands for min+i
	minPrefix int
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, minPrefix: 3, names: []string{"january", "february", "march", "april", "may", "june",
		"july", "august", "september", "october", "november", "december"}},
	// 7 is Sunday too, as in most crons.
	{name: "day of week", min: 0, max: 7, minPrefix: 2, names: []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}},
}

// validateCron checks each field of a 5-field cron expression: lists of *, a value
// or a range, each with an optional /step (a value with a step runs to the field's
// end, 5/15 = 5-59/15), within the field's range. It accepts what Temporal's schedules
// accept, less steps longer than the field (*/90 in minutes: a typo, not a cadence),
// so a typo is caught when the product is declared, not at `mesh schedules apply`.
func validateCron(c string) error {
	fs := strings.Fields(c)
	if len(fs) != len(cronFields) {
		return fmt.Errorf("cadence %q must be @hourly, @daily, @weekly or a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. \"0 6 * * *\")", c)
	}
	for i, f := range fs {
		if err := cronFields[i].validate(f); err != nil {
			return fmt.Errorf("cadence %q: %s field %q: %v", c, cronFields[i].name, f, err)
		}
	}
	return nil
}

func (cf cronField) validate(f string) error {
	for _, part := range strings.Split(f, ",") {
		span, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > cf.max-cf.min+1 {
				return fmt.Errorf("step %q is not a number from 1 to %d", step, cf.max-cf.min+1)
			}
		}
		if span == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(span, "-")
		a, err := cf.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := cf.value(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q runs backwards", span)
		}
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	if len(cf.names) > 0 && len(s) >= cf.minPrefix {
		for i, n := range cf.names {
			if strings.HasPrefix(n, strings.ToLower(s)) {
				return cf.min + i, nil
			}
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < cf.min || n > cf.max {
		what := fmt.Sprintf("a number from %d to %d", cf.min, cf.max)
		if len(cf.names) > 0 {
			what += " or a name (" + cf.names[0][:3] + ", " + cf.names[1][:3] + ", …)"
		}
		return 0, fmt.Errorf("%q is not %s", s, what)
	}
	return n, nil
}
