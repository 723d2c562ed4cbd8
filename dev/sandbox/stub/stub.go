// Package stub is a small, generic REST API to start a new source from: records
// ("things") paged every way a declarative spec can describe (one endpoint per
// paginator), an incremental filter, a child collection per record, bearer auth and
// injected faults — everything the conformance suite exercises. `mesh new source`
// points a scaffolded spec at it until the team writes a faithful imitation of its
// vendor's API; the REST engine's tests reach every paginator with it.
package stub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/source"
)

// API serves a collection of things under /v1/<collection>/… (see route).
type API struct {
	collection string
	token      string
	things     []*thing // ascending id
	now        func() time.Time

	mu       sync.Mutex
	requests atomic.Int64
	faults   conformance.Faults
	rng      *rand.Rand
}

type thing struct {
	ID      int64
	Name    string
	Updated time.Time
	Notes   []*note // some things have none: their notes answer 404
}

type note struct {
	ID      string
	Text    string
	Updated time.Time
}

// Token is the bearer token the API accepts unless Options say another.
const Token = "things-token-0123456789abcdef"

// Options size the API and choose its token and faults.
type Options struct {
	Things     int    // how many records [30]
	Collection string // the path segment of the collection ["things"]
	Token      string // the bearer token it accepts [Token]
	Faults     conformance.Faults
	// Now is the API's clock: the upper bound of an incremental filter and the time
	// Mutate and TouchAll write [time.Now].
	Now func() time.Time
}

// New returns the API with o.Things records, updated a minute apart over the last ten
// days, three of four with notes.
func New(o Options) *API {
	n := o.Things
	if n <= 0 {
		n = 30
	}
	if o.Collection == "" {
		o.Collection = "things"
	}
	if o.Token == "" {
		o.Token = Token
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &API{collection: o.Collection, token: o.Token, now: o.Now, faults: o.Faults, rng: rand.New(rand.NewPCG(7, uint64(n)))}
	base := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -10)
	for i := range n {
		t := &thing{ID: int64(100 + i*3), Name: fmt.Sprintf("thing %d", i), Updated: base.Add(time.Duration(i) * time.Minute)}
		if i%4 != 3 {
			for j := range 1 + i%3 {
				t.Notes = append(t.Notes, &note{ID: fmt.Sprintf("n%d-%d", t.ID, j), Text: "note", Updated: t.Updated.Add(time.Second)})
			}
		}
		a.things = append(a.things, t)
	}
	return a
}

func (t *thing) json() map[string]any {
	return map[string]any{"id": t.ID, "name": t.Name, "meta": map[string]any{"updated_at": t.Updated.Format(time.RFC3339)}}
}

// Requests counts the requests it answered.
func (a *API) Requests() int { return int(a.requests.Load()) }

// Total is how many records the stream ("things", or "notes") holds.
func (a *API) Total(stream string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if stream == "notes" {
		n := 0
		for _, t := range a.things {
			n += len(t.Notes)
		}
		return n
	}
	return len(a.things)
}

// Mutate changes n records of the stream, stamping them with the current second.
func (a *API) Mutate(stream string, n int) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UTC().Truncate(time.Second)
	var keys []string
	for _, t := range a.things {
		if len(keys) == n {
			break
		}
		if a.rng.IntN(3) != 0 {
			continue
		}
		if stream == "notes" {
			if len(t.Notes) == 0 {
				continue
			}
			t.Notes[0].Text, t.Notes[0].Updated = "changed", now
			keys = append(keys, t.Notes[0].ID)
			continue
		}
		t.Name, t.Updated = t.Name+"'", now
		keys = append(keys, strconv.FormatInt(t.ID, 10))
	}
	if len(keys) < n {
		return keys, fmt.Errorf("only %d of %d records changed", len(keys), n)
	}
	return keys, nil
}

// TouchAll changes every thing at the current second: a bulk update.
func (a *API) TouchAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UTC().Truncate(time.Second)
	for _, t := range a.things {
		t.Name, t.Updated = t.Name+"'", now
	}
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		writeJSON(w, 401, map[string]any{"message": "bad token " + r.Header.Get("Authorization")})
		return
	}
	a.mu.Lock()
	f, u := a.faults, a.rng.Float64()
	a.mu.Unlock()
	switch {
	case u < f.RateLimited:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, 429, map[string]any{"message": "slow down"})
		return
	case u < f.RateLimited+f.ServerError:
		w.WriteHeader(503)
		w.Write([]byte("<html>busy</html>"))
		return
	case u < f.RateLimited+f.ServerError+f.Slow:
		// Consume the body first: net/http notices a client that hangs up only
		// once the body is read, and the wait must end when it does.
		if b, err := io.ReadAll(r.Body); err == nil {
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(f.SlowDelay):
		}
	}
	truncate := u >= f.RateLimited+f.ServerError+f.Slow && u < f.RateLimited+f.ServerError+f.Slow+f.Truncate
	a.mu.Lock()
	status, body, header := a.route(r)
	a.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	// A cut body announces its full length: the client reads an unexpected EOF, as
	// when a proxy drops a connection.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if truncate {
		b = b[:len(b)/2]
	}
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// since filters things (or notes) on updated_at ≥ the bound.
func since(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

func (a *API) matching(bound string) []*thing {
	lo, ok := since(bound)
	var out []*thing
	for _, t := range a.things {
		if !ok || !t.Updated.Before(lo) {
			out = append(out, t)
		}
	}
	return out
}

func page(list []*thing, from, n int) []map[string]any {
	out := []map[string]any{}
	for i := from; i < min(from+n, len(list)) && i >= 0; i++ {
		out = append(out, list[i].json())
	}
	return out
}

func intParam(q url.Values, name string, def int) int {
	if v, err := strconv.Atoi(q.Get(name)); err == nil {
		return v
	}
	return def
}

func (a *API) route(r *http.Request) (int, any, http.Header) {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	if rest, ok := strings.CutPrefix(path, "/"+a.collection); ok {
		path = "/things" + rest // the routes below name the collection things
	}
	switch {
	case path == "/things/page": // page_number from 1, meta.total_pages
		list := a.matching(q.Get("updated_since"))
		per := intParam(q, "per_page", 10)
		p := intParam(q, "page", 1)
		return 200, map[string]any{"data": page(list, (p-1)*per, per), "meta": map[string]any{"total_pages": (len(list) + per - 1) / per}}, nil
	case path == "/things/offset": // offset/limit, total
		list := a.matching(q.Get("updated_since"))
		return 200, map[string]any{"items": page(list, intParam(q, "offset", 0), intParam(q, "limit", 10)), "total": len(list)}, nil
	case path == "/things/cursor": // a token in the body
		list := a.matching(q.Get("updated_since"))
		from := 0
		if tok := q.Get("cursor"); tok != "" {
			b, err := base64.StdEncoding.DecodeString(tok)
			if err != nil {
				return 400, map[string]any{"message": "bad cursor"}, nil
			}
			from, _ = strconv.Atoi(string(b))
		}
		n := intParam(q, "limit", 10)
		body := map[string]any{"results": page(list, from, n)}
		if from+n < len(list) {
			body["paging"] = map[string]any{"next": base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(from + n)))}
		}
		return 200, body, nil
	case path == "/things/link": // a bare array and a Link header
		list := a.matching(q.Get("updated_since"))
		per, p := intParam(q, "per_page", 10), intParam(q, "page", 1)
		h := http.Header{}
		if p*per < len(list) {
			next := *r.URL
			nq := next.Query()
			nq.Set("page", strconv.Itoa(p+1))
			next.RawQuery = nq.Encode()
			h.Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, next.RequestURI()))
		}
		return 200, page(list, (p-1)*per, per), h
	case path == "/things/search" && r.Method == http.MethodPost: // keyset after id
		var body struct {
			After *int64 `json:"after"`
			Limit int    `json:"limit"`
			Since string `json:"since"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || body.Limit < 1 {
			return 400, map[string]any{"message": "bad search " + string(b)}, nil
		}
		list := a.matching(body.Since)
		from := 0
		if body.After != nil {
			from = slices.IndexFunc(list, func(t *thing) bool { return t.ID > *body.After })
			if from < 0 {
				from = len(list)
			}
		}
		return 200, map[string]any{"hits": page(list, from, body.Limit), "count": len(list)}, nil
	case path == "/lookup": // one thing by its name, flat; 404 when none has it (a keyed stream's lookup)
		for _, t := range a.things {
			if t.Name == q.Get("name") {
				return 200, t.json(), nil
			}
		}
		return 404, map[string]any{"message": "no match for " + q.Get("name")}, nil
	case strings.HasPrefix(path, "/things/") && strings.HasSuffix(path, "/notes"):
		id, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(path, "/things/"), "/notes"), 10, 64)
		i := slices.IndexFunc(a.things, func(t *thing) bool { return t.ID == id })
		if i < 0 || len(a.things[i].Notes) == 0 {
			return 404, map[string]any{"message": "no notes"}, nil
		}
		lo, filtered := since(q.Get("updated_since"))
		var notes []map[string]any
		for _, n := range a.things[i].Notes {
			if !filtered || !n.Updated.Before(lo) {
				notes = append(notes, map[string]any{"id": n.ID, "text": n.Text, "updated_at": n.Updated.Format(time.RFC3339)})
			}
		}
		p, per := intParam(q, "page", 1), 2
		out := []map[string]any{}
		for j := (p - 1) * per; j < min(p*per, len(notes)); j++ {
			out = append(out, notes[j])
		}
		return 200, map[string]any{"notes": out}, nil
	}
	return 404, map[string]any{"message": "no route " + r.URL.Path}, nil
}

// Sandbox returns the source.Connector Sandbox of a scaffolded source reading this
// API: it accepts Token, and points the connector at it through its token and base-URL
// variables.
func Sandbox(collection, tokenVar, baseURLVar string) func(source.SandboxOptions) (source.Sandbox, error) {
	return func(source.SandboxOptions) (source.Sandbox, error) {
		api := New(Options{Things: 1000, Collection: collection})
		return &source.Imitation{API: api, Point: func(baseURL string) source.Values {
			return source.Values{tokenVar: Token, baseURLVar: baseURL + "/v1"}
		}}, nil
	}
}

// Server is the API on a local HTTP server, as the conformance suite starts one.
type Server struct {
	*API
	ts *httptest.Server
}

// Start serves a new API on a local port.
func Start(o Options) *Server {
	api := New(o)
	return &Server{API: api, ts: httptest.NewServer(api)}
}

// URL is the API's base URL.
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }
