package rest

import (
	"bytes"
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Spec is a declarative REST source read from a YAML file and validated: everything
// a source.Connector needs, without Go. SPEC.md documents every key.
type Spec struct {
	file    string
	name    string
	title   string
	doc     string
	prefix  string
	baseURL string
	vars    []variable
	auth    *authSpec
	headers []kv
	rate    *rateSpec
	timeout time.Duration
	rules   []rule
	check   *request
	streams []*streamDef
}

// variable is one declared configuration variable.
type variable struct {
	name, doc, def, how         string
	secret, credential, locates bool
	required                    bool
	integer                     bool  // type: integer, from lo to hi
	lo, hi                      int64 //
}

type authSpec struct {
	kind                                 string
	token, username, password, value     template
	clientID, clientSecret, refreshToken template
	key, tokenURL, subject               template
	in, name, prefix, scheme, style      string
	scopes                               []string
	params                               []kv
	refused                              []int // token endpoint statuses that refuse the credentials, besides 400, 401, 403
}

type rateSpec struct {
	perMinute bool
	def, max  float64
	doc       string
}

// request is how one request is made.
type request struct {
	method  string
	path    template
	query   []kv
	headers []kv
	body    jsonTree // nil: no body
}

type kv struct {
	name  string
	value template
}

type streamDef struct {
	name    string
	doc     string
	req     request
	records []string
	page    *paginator
	inc     *incremental
	parent  *parentDef
	keys    *keysDef
	pk      []string
	fields  []source.Field
}

// keysDef drives a stream from the mesh's own data (source.StreamSpec.Keys): one
// request per row its query selects.
type keysDef struct {
	inputs []string // ports, as domain.product
	sql    template // variables only, each written as a SQL string literal
}

type paginator struct {
	kind      string // page_number, offset, cursor, link, keyset
	param     string
	in        string // query, body
	sizeParam string
	size      int
	start     int
	next      []string // cursor: the token's path in the body
	nextHdr   string   // cursor: or the header holding it
	field     string   // keyset: the field whose last value the next request starts after
	stop      []stopRule
}

type stopRule struct {
	kind string   // short_page, empty_page, total, has_more, total_pages
	path []string // total, has_more, total_pages
}

type incremental struct {
	field    string
	lookback time.Duration
	format   string // rfc3339, rfc3339_ms, date, epoch_s, epoch_ms, or a Go layout
	unit     string // an int64 field's unit: s or ms
	req      request
}

type parentDef struct {
	stream  string
	include []string
}

// rule classifies matching answers ahead of the default classification.
type rule struct {
	line     int
	statuses []int
	contains string // lower case
	kind     string // permission, invalid, not_found, transient, rate_limited, quota, skip, record
	waits    []wait
	zone     *time.Location
	jitter   [2]time.Duration
	limit    string
	message  string
}

type wait struct {
	kind   string // retry_after, header, next_minute, next_hour, next_day, fixed
	d      time.Duration
	header string
}

var (
	sourceName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fieldName  = sourceName
)

// The keys of each mapping of a spec.
var (
	topKeys       = []string{"source", "title", "doc", "env_prefix", "base_url", "variables", "auth", "headers", "rate_limit", "http_timeout", "errors", "check", "streams"}
	variableKeys  = []string{"doc", "secret", "credential", "locates", "required", "default", "how", "type", "min", "max"}
	rateKeys      = []string{"requests_per_second", "requests_per_minute", "max", "doc"}
	requestKeys   = []string{"method", "path", "query", "headers", "body"}
	streamKeys    = []string{"doc", "request", "records", "paginate", "incremental", "parent", "keys", "primary_key", "fields"}
	keysKeys      = []string{"inputs", "sql"}
	fieldKeys     = []string{"type", "path", "doc"}
	parentKeys    = []string{"stream", "include"}
	ruleKeys      = []string{"status", "body_contains", "kind", "wait", "zone", "jitter", "limit", "message"}
	ruleKinds     = []string{"permission", "invalid", "not_found", "transient", "rate_limited", "quota", "skip", "record"}
	incrementKeys = []string{"field", "lookback", "format", "unit", "request"}
	authTypes     = []string{"bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_refresh_token", "service_account"}
	pageTypes     = []string{"page_number", "offset", "cursor", "link", "keyset"}
	fieldTypes    = []source.Type{source.String, source.Int64, source.Float64, source.Bool, source.Timestamp, source.Date}
)

// authKeys are the keys each auth type takes besides type.
var authKeys = map[string][]string{
	"bearer":                    {"token"},
	"basic":                     {"username", "password"},
	"api_key":                   {"in", "name", "value", "prefix"},
	"oauth2_client_credentials": {"token_url", "client_id", "client_secret", "scopes", "auth_style", "params", "scheme", "refused"},
	"oauth2_refresh_token":      {"token_url", "client_id", "client_secret", "refresh_token", "scopes", "auth_style", "scheme", "refused"},
	"service_account":           {"key", "scopes", "token_url", "subject", "scheme"},
}

// pageKeys are the keys each paginator type takes besides type.
var pageKeys = map[string][]string{
	"page_number": {"param", "in", "start", "size_param", "size", "stop"},
	"offset":      {"param", "in", "size_param", "size", "stop"},
	"cursor":      {"param", "in", "next", "next_header", "size_param", "size", "stop"},
	"link":        {"size_param", "size", "stop"},
	"keyset":      {"field", "param", "in", "size_param", "size", "stop"},
}

// Load reads and validates the spec file at path.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.E(errs.Invalid, "rest spec", err)
	}
	return Parse(path, b)
}

// Must parses an embedded spec and panics on an error: for a spec compiled into a
// binary, which `go test ./...` has validated (see TestEverySpecInTheTree).
func Must(file string, data []byte) *Spec {
	s, err := Parse(file, data)
	if err != nil {
		panic(err)
	}
	return s
}

// Parse reads and validates a spec; file names it in errors. The error lists every
// problem, one a line, as FILE:LINE: FIELD: what is wrong and how to fix it.
func Parse(file string, data []byte) (*Spec, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, errs.Errorf(errs.Invalid, "rest spec", "%s: not YAML: %v", file, err)
	}
	p := &problems{file: file}
	if len(root.Content) == 0 {
		return nil, errs.Errorf(errs.Invalid, "rest spec", "%s: the file is empty: a spec starts with source:, title:, base_url: and streams:", file)
	}
	s := &Spec{file: file}
	s.read(p, root.Content[0])
	if len(p.list) > 0 {
		return nil, errs.Errorf(errs.Invalid, "rest spec", "%d problem(s):\n%s", len(p.list), strings.Join(p.list, "\n"))
	}
	return s, nil
}

// Name is the source's name, as raw inputs name it.
func (s *Spec) Name() string { return s.name }

// File is where the spec was read from.
func (s *Spec) File() string { return s.file }

func (s *Spec) read(p *problems, n *yaml.Node) {
	o := p.mapping(n, "")
	if o == nil {
		return
	}
	s.name = o.str("source", true)
	if s.name != "" && !sourceName.MatchString(s.name) {
		p.add(o.get("source"), "source", "%q is not a source name: use lower case letters, digits and _ (hubspot, people_data_labs)", s.name)
	}
	s.title = o.str("title", true)
	s.doc = o.str("doc", false)
	s.prefix = o.str("env_prefix", false)
	if s.prefix == "" {
		s.prefix = strings.ToUpper(s.name)
	} else if !varName.MatchString(s.prefix) {
		p.add(o.get("env_prefix"), "env_prefix", "%q is not a variable prefix: use upper case letters, digits and _ (GA4)", s.prefix)
	}
	s.baseURL = strings.TrimRight(o.str("base_url", true), "/")
	if u, err := url.Parse(s.baseURL); s.baseURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		p.add(o.get("base_url"), "base_url", "%q is not an absolute http(s) URL such as https://api.example.com/v1 (it is %s's default)", s.baseURL, s.baseURLVar())
	}
	s.readVariables(p, o)
	s.timeout = o.duration("http_timeout", source.DefaultHTTPTimeout)
	if s.timeout < source.MinHTTPTimeout || s.timeout > source.MaxHTTPTimeout {
		p.add(o.get("http_timeout"), "http_timeout", "%v is outside %v to %v", s.timeout, source.MinHTTPTimeout, source.MaxHTTPTimeout)
	}
	s.readRate(p, o)
	s.readAuth(p, o)
	if h := o.get("headers"); h != nil {
		s.headers = s.readKVs(p, h, "headers", varsOnly)
	}
	s.readRules(p, o)
	s.readStreams(p, o)
	if c := o.get("check"); c != nil {
		s.check = s.readRequest(p, c, "check", requestKeys, varsOnly)
	} else if !slices.ContainsFunc(s.streams, func(st *streamDef) bool { return st.parent == nil && st.keys == nil }) && len(s.streams) > 0 {
		p.add(o.node, "check", "is missing: every stream asks once per parent record or per key, so none has a request that proves the credentials alone. "+
			"Give the cheapest authenticated call, one that spends no credits (check: {path: /me})")
	}
	o.done(topKeys...)
	s.checkVariables(p, o)
}

// Auto variables every spec source has.
func (s *Spec) baseURLVar() string { return s.prefix + "_BASE_URL" }
func (s *Spec) timeoutVar() string { return s.prefix + "_HTTP_TIMEOUT" }
func (s *Spec) paceVar() string {
	if s.rate != nil && s.rate.perMinute {
		return s.prefix + "_REQUESTS_PER_MINUTE"
	}
	return s.prefix + "_REQUESTS_PER_SECOND"
}

func (s *Spec) readVariables(p *problems, o *object) {
	vo := p.mapping(o.get("variables"), "variables")
	if vo == nil {
		return
	}
	for _, name := range vo.keys {
		field := vo.at(name)
		if !varName.MatchString(name) || !strings.HasPrefix(name, s.prefix+"_") {
			p.add(vo.knode[name], field, "%q is not a variable of this source: name it %s_… in upper case (env_prefix sets the prefix)", name, s.prefix)
		}
		if slices.Contains([]string{s.baseURLVar(), s.timeoutVar(), s.prefix + "_REQUESTS_PER_SECOND", s.prefix + "_REQUESTS_PER_MINUTE"}, name) {
			p.add(vo.knode[name], field, "every spec source has %s already (from base_url, http_timeout and rate_limit): remove it here", name)
		}
		vm := p.mapping(vo.get(name), field)
		if vm == nil {
			continue
		}
		v := variable{name: name, doc: vm.str("doc", true), secret: vm.boolean("secret"), credential: vm.boolean("credential"),
			locates: vm.boolean("locates"), required: vm.boolean("required"), def: vm.str("default", false), how: vm.str("how", false)}
		if v.secret && v.def != "" {
			p.add(vm.get("default"), join(field, "default"), "a secret has no default: remove it")
		}
		readVariableType(p, vm, field, &v)
		v.credential = v.credential || v.secret
		vm.done(variableKeys...)
		s.vars = append(s.vars, v)
	}
}

// readVariableType reads a variable's type (string, or integer from min to max) and
// holds its default to it.
func readVariableType(p *problems, vm *object, field string, v *variable) {
	switch vm.oneOf("type", false, "string", "integer") {
	case "integer":
		v.integer, v.lo, v.hi = true, math.MinInt64, math.MaxInt64
		if vm.has("min") {
			v.lo = int64(vm.integer("min", 0, math.MinInt, math.MaxInt))
		}
		if vm.has("max") {
			v.hi = int64(vm.integer("max", 0, math.MinInt, math.MaxInt))
		}
		if v.lo > v.hi {
			p.add(vm.get("max"), join(field, "max"), "%d is below min %d", v.hi, v.lo)
		}
		if v.def != "" {
			if err := v.check(v.def); err != nil {
				p.add(vm.get("default"), join(field, "default"), "%v", err)
			}
		}
	default:
		for _, k := range []string{"min", "max"} {
			if vm.has(k) {
				p.add(vm.get(k), join(field, k), "only an integer variable has bounds: add type: integer")
			}
		}
	}
}

// check refuses a value the variable cannot take; nil for a string variable.
func (v *variable) check(value string) error {
	if !v.integer {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil || n < v.lo || n > v.hi {
		return errs.Errorf(errs.Invalid, "configure", "%s=%q is not %s", v.name, value, v.bounds())
	}
	return nil
}

// bounds says what an integer variable takes, for its doc and its error.
func (v *variable) bounds() string {
	switch {
	case v.lo != math.MinInt64 && v.hi != math.MaxInt64:
		return fmt.Sprintf("a whole number from %d to %d", v.lo, v.hi)
	case v.lo != math.MinInt64:
		return fmt.Sprintf("a whole number from %d", v.lo)
	case v.hi != math.MaxInt64:
		return fmt.Sprintf("a whole number up to %d", v.hi)
	}
	return "a whole number"
}

func (s *Spec) variable(name string) *variable {
	for i := range s.vars {
		if s.vars[i].name == name {
			return &s.vars[i]
		}
	}
	return nil
}

// checkVariables: every ${VAR} is a variable of the source, auth's are credentials,
// one credential at least, and no secret goes into a URL outside auth.
func (s *Spec) checkVariables(p *problems, o *object) {
	if s.auth != nil {
		for _, t := range s.auth.templates() {
			for _, r := range t.refs() {
				if v := s.variable(r.name); v != nil {
					v.credential, v.required = true, true
				}
			}
		}
	}
	for _, v := range s.vars {
		if v.credential {
			return
		}
	}
	p.add(o.node, "variables", "no variable is a credential: the source counts as configured when one is set. Declare the variable holding the key or token (secret: true) and use it in auth")
}

// placeholders a context allows.
type scope struct {
	parent *streamDef // the parent stream whose fields ${parent.F} may name
	keyed  bool       // ${key.C}
	window bool       // ${since} and ${until}
	url    bool       // the template goes into a URL: no secret
	sql    bool       // the template is a keys query: variables only, none secret
}

var varsOnly = scope{}

// checkTemplate reports the placeholders t may not use where it is.
func (s *Spec) checkTemplate(p *problems, n *yaml.Node, field string, t template, sc scope) {
	for _, r := range t.refs() {
		if sc.sql && r.ns != "var" {
			p.add(n, field, "%s: a keys query takes variables only (${NAME}); it reads its keys from the ports it names", r)
			continue
		}
		switch r.ns {
		case "var":
			v := s.variable(r.name)
			auto := r.name == s.baseURLVar()
			if v == nil && !auto {
				p.add(n, field, "%s is not a variable of this source: declare it under variables", r)
			}
			if v != nil && v.secret && sc.url {
				p.add(n, field, "%s is a secret and would be written into URLs, which end up in logs: pass it through auth instead", r)
			}
			if v != nil && v.secret && sc.sql {
				p.add(n, field, "%s is a secret: a keys query is no place for a credential (queries end up in errors)", r)
			} else if v != nil && sc.sql && v.def == "" && !v.required {
				p.add(n, field, "%s has no default: the keys query needs a value, so give it one (default: …) or make it required", r)
			}
		case "key":
			if !sc.keyed {
				p.add(n, field, "%s names a key, but this stream has no keys: add keys: {inputs: […], sql: …}", r)
			}
		case "parent":
			if sc.parent == nil {
				p.add(n, field, "%s names a parent record, but this stream has no parent: add parent: {stream: …}", r)
			} else if !slices.ContainsFunc(sc.parent.fields, func(f source.Field) bool { return f.Name == r.name }) {
				p.add(n, field, "%s: the parent stream %s has no field %q (it has %s)", r, sc.parent.name, r.name, fieldNames(sc.parent.fields))
			}
		case "since", "until":
			if !sc.window {
				p.add(n, field, "%s is only known inside incremental.request: move it there", r)
			}
		}
	}
}

func fieldNames(fs []source.Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func (s *Spec) template(p *problems, n *yaml.Node, field string, sc scope) template {
	if n == nil {
		return template{}
	}
	if n.Kind != yaml.ScalarNode {
		p.add(n, field, "is %s, want a text value", kindName(n))
		return template{}
	}
	t, err := parseTemplate(n.Value)
	if err != nil {
		p.add(n, field, "%v", err)
		return template{}
	}
	s.checkTemplate(p, n, field, t, sc)
	return t
}

func (s *Spec) readKVs(p *problems, n *yaml.Node, field string, sc scope) []kv {
	m := p.mapping(n, field)
	if m == nil {
		return nil
	}
	var out []kv
	for _, k := range m.keys {
		out = append(out, kv{name: k, value: s.template(p, m.get(k), m.at(k), sc)})
	}
	return out
}

func (s *Spec) readRate(p *problems, o *object) {
	r := p.mapping(o.get("rate_limit"), "rate_limit")
	if r == nil {
		return
	}
	s.rate = &rateSpec{doc: r.str("doc", true)}
	perSecond, perMinute := r.number("requests_per_second"), r.number("requests_per_minute")
	switch {
	case perSecond > 0 && perMinute > 0:
		p.add(r.node, "rate_limit", "gives both requests_per_second and requests_per_minute: keep the one the vendor's limit is counted in")
	case perMinute > 0:
		s.rate.perMinute, s.rate.def = true, perMinute
		if perMinute != float64(int(perMinute)) {
			p.add(r.get("requests_per_minute"), "rate_limit.requests_per_minute", "%v is not a whole number", perMinute)
		}
	case perSecond > 0:
		s.rate.def = perSecond
	default:
		p.add(r.node, "rate_limit", "says no pace: give requests_per_second or requests_per_minute (the default, under the vendor's limit)")
	}
	s.rate.max = r.number("max")
	if s.rate.max == 0 {
		s.rate.max = s.rate.def
		if !s.rate.perMinute {
			s.rate.max = max(s.rate.def, source.MaxRequestsPerSecond)
		}
	}
	if s.rate.max < s.rate.def {
		p.add(r.get("max"), "rate_limit.max", "%v is below the default pace %v: max is the vendor's ceiling, which the default stays under", s.rate.max, s.rate.def)
	}
	r.done(rateKeys...)
}

func (s *Spec) readAuth(p *problems, o *object) {
	a := p.mapping(o.get("auth"), "auth")
	if a == nil {
		return
	}
	kind := a.oneOf("type", true, authTypes...)
	if kind == "" {
		return
	}
	au := &authSpec{kind: kind}
	tmpl := func(key string, required bool) template {
		n := a.get(key)
		if n == nil && required {
			p.add(a.node, a.at(key), "is missing (auth type %s)", kind)
		}
		return s.template(p, n, a.at(key), varsOnly)
	}
	switch kind {
	case "bearer":
		au.token = tmpl("token", true)
	case "basic":
		au.username, au.password = tmpl("username", true), tmpl("password", true)
	case "api_key":
		au.in = a.oneOf("in", true, "header", "query")
		au.name = a.str("name", true)
		au.value = tmpl("value", true)
		au.prefix = a.str("prefix", false)
	case "oauth2_client_credentials", "oauth2_refresh_token", "service_account":
		au.tokenURL = tmpl("token_url", kind != "service_account")
		au.scopes = a.strs("scopes")
		au.scheme = a.str("scheme", false)
		if kind == "service_account" {
			au.key, au.subject = tmpl("key", true), tmpl("subject", false)
			break
		}
		au.clientID, au.clientSecret = tmpl("client_id", true), tmpl("client_secret", kind == "oauth2_client_credentials")
		au.style = a.oneOf("auth_style", false, "header", "params")
		for _, st := range a.strs("refused") {
			code, err := strconv.Atoi(st)
			if err != nil || code < 400 || code > 499 {
				p.add(a.get("refused"), a.at("refused"), "%q is not an HTTP status from 400 to 499 (the statuses by which the token endpoint refuses the credentials, besides 400, 401 and 403)", st)
			}
			au.refused = append(au.refused, code)
		}
		if kind == "oauth2_refresh_token" {
			au.refreshToken = tmpl("refresh_token", true)
		} else if n := a.get("params"); n != nil {
			au.params = s.readKVs(p, n, a.at("params"), varsOnly)
		}
	}
	a.done(append([]string{"type"}, authKeys[kind]...)...)
	s.auth = au
}

func (a *authSpec) templates() []template {
	all := []template{a.token, a.username, a.password, a.value, a.clientID, a.clientSecret, a.refreshToken, a.key, a.tokenURL, a.subject}
	for _, p := range a.params {
		all = append(all, p.value)
	}
	return all
}

func (s *Spec) readRules(p *problems, o *object) {
	n := o.get("errors")
	if n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, "errors", "is %s, want a list of rules (- status: 429 …)", kindName(n))
		return
	}
	for i, e := range n.Content {
		field := fmt.Sprintf("errors[%d]", i)
		m := p.mapping(e, field)
		if m == nil {
			continue
		}
		r := rule{line: e.Line, kind: m.oneOf("kind", true, ruleKinds...), limit: m.str("limit", false), message: m.str("message", false),
			contains: strings.ToLower(m.str("body_contains", false))}
		for _, st := range m.strs("status") {
			code, err := strconv.Atoi(st)
			if err != nil || code < 100 || code > 599 {
				p.add(m.get("status"), m.at("status"), "%q is not an HTTP status (100 to 599)", st)
			}
			r.statuses = append(r.statuses, code)
		}
		if len(r.statuses) == 0 && r.contains == "" {
			p.add(e, field, "matches every answer: give status, body_contains or both")
		}
		for _, w := range m.strs("wait") {
			r.waits = append(r.waits, readWait(p, m.get("wait"), m.at("wait"), w))
		}
		if z := m.str("zone", false); z != "" {
			loc, err := time.LoadLocation(z)
			if err != nil {
				p.add(m.get("zone"), m.at("zone"), "%q is not a time zone such as America/Los_Angeles", z)
			}
			r.zone = loc
		}
		if j := m.str("jitter", false); j != "" {
			r.jitter = readJitter(p, m.get("jitter"), m.at("jitter"), j)
		}
		switch {
		case r.kind == "quota" && (len(r.waits) == 0 || !r.waits[len(r.waits)-1].always()):
			p.add(e, field, "a quota needs a wait that always gives its reset: end wait with next_minute, next_hour, next_day or a duration")
		case len(r.waits) > 0 && r.kind != "quota" && r.kind != "rate_limited" && r.kind != "transient":
			p.add(m.get("wait"), m.at("wait"), "only rate_limited, quota and transient answers wait")
		}
		m.done(ruleKeys...)
		s.rules = append(s.rules, r)
	}
}

func readWait(p *problems, n *yaml.Node, field, w string) wait {
	switch w {
	case "retry_after", "next_minute", "next_hour", "next_day":
		return wait{kind: w}
	}
	if h, ok := strings.CutPrefix(w, "header:"); ok && strings.TrimSpace(h) != "" {
		return wait{kind: "header", header: strings.TrimSpace(h)}
	}
	if d, err := time.ParseDuration(w); err == nil && d > 0 {
		return wait{kind: "fixed", d: d}
	}
	p.add(n, field, "%q is not a wait: use retry_after, header:NAME (a reset time or seconds), next_minute, next_hour, next_day or a duration such as 30s", w)
	return wait{kind: "fixed"}
}

func (w wait) always() bool { return w.kind != "retry_after" && w.kind != "header" }

func readJitter(p *problems, n *yaml.Node, field, j string) [2]time.Duration {
	lo, hi, ok := strings.Cut(j, "..")
	if !ok {
		lo, hi = "0s", j
	}
	a, err1 := time.ParseDuration(strings.TrimSpace(lo))
	b, err2 := time.ParseDuration(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || a < 0 || b < a {
		p.add(n, field, "%q is not a jitter: write the most added (4s) or a range (1s..4s)", j)
	}
	return [2]time.Duration{a, b}
}

func (s *Spec) readRequest(p *problems, n *yaml.Node, field string, keys []string, sc scope) *request {
	m := p.mapping(n, field)
	if m == nil {
		return &request{}
	}
	r := &request{method: strings.ToUpper(m.str("method", false))}
	if r.method == "" {
		r.method = "GET"
	}
	if !slices.Contains([]string{"GET", "POST"}, r.method) {
		p.add(m.get("method"), m.at("method"), "%q is not GET or POST", r.method)
	}
	if slices.Contains(keys, "path") {
		urlScope := sc
		urlScope.url = true
		r.path = s.template(p, m.get("path"), m.at("path"), urlScope)
		if !m.has("path") {
			p.add(m.node, m.at("path"), "is missing: the request's path below base_url (/v1/things)")
		}
		if q := m.get("query"); q != nil {
			r.query = s.readKVs(p, q, m.at("query"), urlScope)
		}
	} else if q := m.get("query"); q != nil {
		urlScope := sc
		urlScope.url = true
		r.query = s.readKVs(p, q, m.at("query"), urlScope)
	}
	if h := m.get("headers"); h != nil {
		r.headers = s.readKVs(p, h, m.at("headers"), sc)
	}
	if b := m.get("body"); b != nil {
		r.body = p.readTree(b, m.at("body"), func(n *yaml.Node, f string, t template) { s.checkTemplate(p, n, f, t, sc) })
	}
	m.done(keys...)
	return r
}
