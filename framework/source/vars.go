package source

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// Bounds shared by the connectors' pacing and timeout variables.
const (
	// MaxRequestsPerSecond bounds the pace of a source whose vendor publishes no
	// ceiling (Jira, GitHub Enterprise, GA4): past it, pacing paces nothing.
	MaxRequestsPerSecond = 1000
	// MinHTTPTimeout and MaxHTTPTimeout bound a request's timeout: below a second
	// nothing answers, and a landing heartbeats on its own while a request waits.
	MinHTTPTimeout = time.Second
	MaxHTTPTimeout = 30 * time.Minute
)

// Unpaced is a setting no variable carries: an in-process caller sets it ("true")
// in a connector's Values to send its requests unpaced — a sandbox whose limits are
// off. PaceVar.Read then answers -1, which the connectors take as unpaced.
const Unpaced = "unpaced"

// ReadVar reads one variable through getenv: NAME, or the file NAME_FILE names when
// v.File (a mounted secret; never both), or the contents of the file NAME names
// when v.FileContents. A secret's value and a file's name are trimmed. An error
// names the variable and the fix.
func ReadVar(v Var, getenv func(string) string) (string, error) {
	name := v.Name
	val := getenv(name)
	if v.FileContents {
		if val == "" {
			return "", nil
		}
		b, err := os.ReadFile(val)
		if err != nil {
			return "", errs.Errorf(errs.Invalid, "configure", "read %s: %v", name, err)
		}
		return string(b), nil
	}
	if !v.File {
		return val, nil
	}
	file := getenv(name + "_FILE")
	if val != "" && file != "" {
		return "", errs.Errorf(errs.Invalid, "configure", "both %s and %s_FILE are set: keep one", name, name)
	}
	if file == "" {
		return strings.TrimSpace(val), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", errs.Errorf(errs.Invalid, "configure", "read %s_FILE: %v", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadVars reads every variable of vars through getenv (see ReadVar) and runs each
// set value's Check.
func ReadVars(vars []Var, getenv func(string) string) (Values, error) {
	out := Values{}
	for _, v := range vars {
		val, err := ReadVar(v, getenv)
		if err != nil {
			return nil, err
		}
		if v.Check != nil && strings.TrimSpace(val) != "" {
			if err := v.Check(val); err != nil {
				return nil, err
			}
		}
		out[v.Name] = val
	}
	return out, nil
}

// Literal is the variable's default when its Default is one code span ("`30s`"),
// the value the connector applies when it is unset.
func (v Var) Literal() (string, bool) {
	lit, ok := strings.CutPrefix(v.Default, "`")
	if !ok || !strings.HasSuffix(lit, "`") || strings.Count(lit, "`") != 1 {
		return "", false
	}
	return strings.TrimSuffix(lit, "`"), true
}

// PaceVar is a variable pacing a connector's requests: requests a second or, with
// PerMinute, a whole number a minute. Unset, the connector's Default applies; set,
// it must be more than 0 and at most Max (the vendor's own ceiling where it
// publishes one, else MaxRequestsPerSecond).
type PaceVar struct {
	Name         string
	Default, Max float64
	PerMinute    bool
}

// Var is the variable's line in the configuration; doc says what is paced and the
// vendor's limit.
func (p PaceVar) Var(doc string) Var {
	return Var{Name: p.Name, Default: "`" + number(p.Default) + "`", Doc: doc + " (" + p.bounds() + ")", Tuning: true}.
		withCheck(func(v Values) error { _, err := p.Read(v); return err })
}

func (p PaceVar) bounds() string {
	if p.PerMinute {
		return "a whole number from 1 to " + number(p.Max)
	}
	return "more than 0, at most " + number(p.Max)
}

// Read returns the variable's value in v: 0 when unset (the connector's default),
// -1 when v holds Unpaced.
func (p PaceVar) Read(v Values) (float64, error) {
	if v.Get(Unpaced) != "" {
		return -1, nil
	}
	s := v.Get(p.Name)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > p.Max || (p.PerMinute && f != math.Trunc(f)) {
		unit := "second"
		if p.PerMinute {
			unit = "minute"
		}
		return 0, errs.Errorf(errs.Invalid, "configure", "%s=%q is not requests a %s: %s (unset: %s)", p.Name, s, unit, p.bounds(), number(p.Default))
	}
	return f, nil
}

// TimeoutVar is a variable bounding one HTTP request of a connector, its answer
// read: a duration from MinHTTPTimeout to MaxHTTPTimeout.
type TimeoutVar struct {
	Name    string
	Default time.Duration
}

// Var is the variable's line in the configuration; vendor names the API.
func (t TimeoutVar) Var(vendor string) Var {
	return Var{Name: t.Name, Default: "`" + seconds(t.Default) + "`",
		Doc: "how long one request to " + vendor + " may take, its answer read (" + timeoutRange + ")", Tuning: true}.
		withCheck(func(v Values) error { _, err := t.Read(v); return err })
}

var timeoutRange = "a duration from " + seconds(MinHTTPTimeout) + " to " + MaxHTTPTimeout.String() + ", such as `90s`"

// Read returns the variable's value in v, 0 when unset (the connector's default).
func (t TimeoutVar) Read(v Values) (time.Duration, error) {
	s := v.Get(t.Name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < MinHTTPTimeout || d > MaxHTTPTimeout {
		return 0, errs.Errorf(errs.Invalid, "configure", "%s=%q is not %s (unset: %s)", t.Name, s, timeoutRange, seconds(t.Default))
	}
	return d, nil
}

// withCheck sets v's Check to read the value alone through read.
func (v Var) withCheck(read func(Values) error) Var {
	name := v.Name
	v.Check = func(value string) error { return read(Values{name: value}) }
	return v
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }
