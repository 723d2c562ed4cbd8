// Package access decides who may read a restricted output port and records every such
// read. Callers are identified by bearer tokens that an access file maps to named
// principals and their groups; the file keeps only the tokens' SHA-256 digests, so
// reading it never reveals a token.
//
// Public and internal ports are readable by every caller of the catalog (internal means
// "inside the company network", which is where the catalog runs). A restricted port is
// readable only by a principal in one of its AllowedGroups, and every read of it,
// allowed or refused, is written to the audit log.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Principal is an authenticated caller. The zero value is the anonymous caller.
type Principal struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`

	// unrecognised marks a caller that sent a token the policy does not know: it is
	// refused like an anonymous one, but told that its token is the problem.
	unrecognised bool
}

// Anonymous reports whether the caller sent no token the policy recognises.
func (p Principal) Anonymous() bool { return p.Name == "" }

// String names the principal for messages and the audit log; never the token.
func (p Principal) String() string {
	switch {
	case p.unrecognised:
		return "(unrecognised token)"
	case p.Name == "":
		return "(anonymous)"
	}
	return p.Name
}

// InGroup reports whether the principal is in any of groups.
func (p Principal) InGroup(groups []string) bool {
	for _, g := range p.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// Path is the way a read reached a port; the audit log records it.
type Path string

const (
	PathAPI   Path = "api"   // the catalog's JSON API
	PathPage  Path = "page"  // the catalog's HTML pages
	PathCLI   Path = "cli"   // the mesh command (mesh show, ...)
	PathQuery Path = "query" // SQL over ports (mesh query)
	// PathIceberg is the Iceberg REST catalog mesh serve offers engines (DuckDB,
	// Spark, Trino, PyIceberg) under /iceberg.
	PathIceberg Path = "iceberg"
)

// What is the part of a port a read touched; the audit log records it.
type What string

const (
	Schema What = "schema" // column names, types and docs
	Detail What = "detail" // the product page: schema, checks, runs, snapshots
	Sample What = "sample" // the detail with sample rows
	Query  What = "query"  // rows returned by a query
	Export What = "export" // the port's contract
	// Listing is a restricted product's line in a listing shown with what can quote its
	// data: its data time and its last run's error and check messages.
	Listing What = "listing"
	// Table is a port's Iceberg table metadata — schema, snapshots and the locations of
	// its data files — handed to an engine that then reads the files itself.
	Table What = "table"
)

// Policy maps tokens to principals. The zero value and a nil *Policy know no token,
// so nobody may read a restricted port; their refusals say to configure the file.
//
// A policy loaded from a file follows it: Reload (or Watch) swaps in what the file
// says now, so a running catalog honours added and revoked tokens without a restart.
type Policy struct {
	file  string // where the policy was loaded from ("" = none configured)
	state atomic.Pointer[policyState]
}

// policyState is what one reading of the file said; it is replaced whole, never edited.
type policyState struct {
	exists     bool // the file was there
	principals []entry
	sum        [sha256.Size]byte // of the file's bytes, to tell whether it changed
}

// current returns the policy's state; nil for a nil policy or one never loaded.
func (p *Policy) current() *policyState {
	if p == nil {
		return nil
	}
	return p.state.Load()
}

type entry struct {
	Principal
	digest [sha256.Size]byte
}

// File is the access file the policy was loaded from, or "".
func (p *Policy) File() string {
	if p == nil {
		return ""
	}
	return p.file
}

// Configured reports whether an access file was found, i.e. whether any token can work.
func (p *Policy) Configured() bool {
	st := p.current()
	return st != nil && st.exists
}

// Principals returns the names of the known principals, in file order.
func (p *Policy) Principals() []string {
	var out []string
	for _, pr := range p.List() {
		out = append(out, pr.Name)
	}
	return out
}

// List returns the known principals with their groups, in file order; never a digest.
func (p *Policy) List() []Principal {
	st := p.current()
	if st == nil {
		return nil
	}
	out := make([]Principal, len(st.principals))
	for i, e := range st.principals {
		out[i] = Principal{Name: e.Name, Groups: slices.Clone(e.Groups)}
	}
	return out
}

// Digest is the SHA-256 hex digest of a token, as the access file stores it.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the principal a token belongs to; "" is the anonymous caller.
// An unknown token is an unauthenticated error (HTTP 401), returned together with a
// principal that every restricted port refuses with that reason, so a caller may still
// serve public data to it.
func (p *Policy) Authenticate(token string) (Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, nil
	}
	if pr, ok := p.byDigest(sha256.Sum256([]byte(token))); ok {
		return pr, nil
	}
	return Principal{unrecognised: true}, deny(http.StatusUnauthorized, "the token sent is not in the access file (mistyped, or revoked): send a valid token, or ask the owner of the port you want to read for one")
}

// byDigest returns the principal whose token has the SHA-256 digest sum.
func (p *Policy) byDigest(sum [sha256.Size]byte) (Principal, bool) {
	return p.current().byDigest(sum)
}

// listsPrincipals reports whether the file this state was read from was there and
// listed principals. Only such a file can say that a token was revoked: one that is
// missing or lists nobody is as likely a file being rewritten in place (truncated,
// then written) by config management.
func (st *policyState) listsPrincipals() bool {
	return st != nil && st.exists && len(st.principals) > 0
}

func (st *policyState) byDigest(sum [sha256.Size]byte) (Principal, bool) {
	if st == nil {
		return Principal{}, false
	}
	found := -1
	// Every digest is compared, in constant time, so the time taken says nothing
	// about which entry, or how much of one, matched.
	for i, e := range st.principals {
		if subtle.ConstantTimeCompare(sum[:], e.digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	e := st.principals[found].Principal
	e.Groups = slices.Clone(e.Groups)
	return e, true
}

// Decide reports whether pr may read product prod of domain d: nil if it may, else an
// error for which IsDenied holds, whose message says why and what to do. Public and
// internal ports are readable by everyone.
func (p *Policy) Decide(pr Principal, d mesh.Domain, prod mesh.Product) error {
	_, err := p.decide(pr, d, prod)
	return err
}

// decide also returns a short reason for the audit log.
func (p *Policy) decide(pr Principal, d mesh.Domain, prod mesh.Product) (string, error) {
	if prod.Classification != mesh.Restricted {
		return string(prod.Classification) + " port", nil
	}
	name := d.Name + "." + prod.Name
	groups := strings.Join(prod.AllowedGroups, ", ")
	ask := "ask " + prod.EffectiveOwner(d)
	if d.Contact != "" {
		ask += " (" + d.Contact + ")"
	}
	granted := ""
	for _, g := range pr.Groups {
		if slices.Contains(prod.AllowedGroups, g) {
			granted = g
			break
		}
	}
	switch {
	case !p.Configured():
		how := "create it with `mesh access add-token --name NAME --groups " + first(prod.AllowedGroups) + "` (a running mesh serve loads it within seconds)"
		if p.File() == "" {
			return "no access file", deny(http.StatusForbidden, "%s is restricted to the groups %s, and no access file is configured, so nobody may read it: set MESHFLOW_ACCESS_FILE (or use a local lake, whose access file is <lake>/access.yaml) and %s", name, groups, how)
		}
		return "no access file", deny(http.StatusForbidden, "%s is restricted to the groups %s, and there is no access file at %s, so nobody may read it: %s", name, groups, p.File(), how)
	case pr.unrecognised:
		return "unrecognised token", deny(http.StatusUnauthorized, "%s is restricted to the groups %s, and the token sent is not in the access file (mistyped, or revoked): send a valid token; to get one, %s", name, groups, ask)
	case pr.Anonymous():
		return "no token", deny(http.StatusUnauthorized, "%s is restricted to the groups %s: send a token (the HTTP header `Authorization: Bearer TOKEN`, the catalog's sign-in page /login, or MESHFLOW_TOKEN for the mesh command); to get one, %s", name, groups, ask)
	case granted == "":
		in := "no group"
		if len(pr.Groups) > 0 {
			in = "the groups " + strings.Join(pr.Groups, ", ")
		}
		return "not in an allowed group", deny(http.StatusForbidden, "%s may not read %s: it is restricted to the groups %s and %s is in %s; %s to add %s to one of those groups", pr.Name, name, groups, pr.Name, in, ask, pr.Name)
	}
	return "in group " + granted, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return "GROUP"
	}
	return s[0]
}

// Read is one attempt to read a port.
type Read struct {
	Principal Principal
	Domain    mesh.Domain
	Product   mesh.Product
	What      What
	Path      Path
}

// Authorize decides whether r may proceed and, when the port is restricted, records it
// in audit, allowed or not. An allowed read that cannot be recorded is refused (an
// internal error): a restricted read never happens unaudited. audit may be nil only
// for callers that never read restricted ports; then those reads are refused.
//
// Call it before reading any of the port's rows or schema, once per read.
func (p *Policy) Authorize(ctx context.Context, audit Auditor, r Read) error {
	reason, err := p.decide(r.Principal, r.Domain, r.Product)
	if r.Product.Classification != mesh.Restricted {
		if err == nil && (r.What == Query || r.What == Table) {
			recordUsage(ctx, audit, r, reason)
		}
		return err
	}
	name := r.Domain.Name + "." + r.Product.Name
	if audit == nil {
		if err != nil {
			return err
		}
		return errs.Errorf(errs.Internal, "access", "%s is restricted and this program has no audit log to record the read in, so it is refused", name)
	}
	ev := Event{
		Principal: r.Principal.String(), Product: name, Port: r.Domain.Name + "." + r.Product.PortName(),
		What: r.What, Path: r.Path, Allowed: err == nil, Reason: reason,
	}
	if ev.Path == "" {
		ev.Path = "unspecified"
	}
	if aerr := audit.Record(ctx, ev); aerr != nil {
		if err != nil {
			return err // the refusal stands; the caller learns nothing new from the log's failure
		}
		return errs.E(errs.Internal, "access", fmt.Errorf("read of restricted %s refused: the audit log could not record it (%w); check the lake", name, aerr))
	}
	return err
}

// denial is a refused read; status is the HTTP status it maps to.
type denial struct {
	status int
	msg    string
}

func (d *denial) Error() string { return d.msg }

func deny(status int, format string, args ...any) error {
	return errs.E(errs.Permission, "access", &denial{status: status, msg: fmt.Sprintf(format, args...)})
}

// IsDenied reports whether err is a refused read (Decide, Authorize, Authenticate).
func IsDenied(err error) bool {
	var d *denial
	return errors.As(err, &d)
}

// IsUnauthenticated reports whether err is a refusal that a valid token could lift:
// no token, or an unknown one (HTTP 401). Other refusals are 403.
func IsUnauthenticated(err error) bool {
	var d *denial
	return errors.As(err, &d) && d.status == http.StatusUnauthorized
}

// HTTPStatus is the status a refusal maps to: 401, 403, or 0 when err is not one.
func HTTPStatus(err error) int {
	var d *denial
	if errors.As(err, &d) {
		return d.status
	}
	return 0
}

type callerKey struct{}

// Caller is who is reading and through which path, carried in a request's context so
// every read below the entry point (HTTP handler, CLI command) is checked as that caller.
type Caller struct {
	Principal Principal
	Path      Path
}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller ctx carries; without one, the anonymous caller.
func FromContext(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
