package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// SessionStore is where sign-in sessions live; the catalog gives it the lake, so every
// catalog process behind one proxy knows every session, and a sign-out on one of them
// ends the session on all.
type SessionStore interface {
	PutJSON(ctx context.Context, key string, v any) error
	GetJSON(ctx context.Context, key string, v any) error
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key; a key that is not there is not an error.
	Delete(ctx context.Context, key string) error
}

// SessionPrefix is where sessions live in the store.
const SessionPrefix = "sessions/"

// DefaultSessionTTL is how long a sign-in lasts unless signed out or revoked sooner.
const DefaultSessionTTL = 12 * time.Hour

// Sessions are the catalog's sign-ins: a browser holds a random session id, never the
// token it signed in with. The store keeps, per session, only the SHA-256 of its id (a
// copy of the store lets nobody sign in) and of the token, so each request resolves
// the session against the access policy as it is now: a revoked token ends its
// sessions at the next request, and a principal's changed groups apply at once.
type Sessions struct {
	Store SessionStore
	TTL   time.Duration    // default DefaultSessionTTL
	Now   func() time.Time // default time.Now
}

// sessionRecord is one session in the store.
type sessionRecord struct {
	Principal   string    `json:"principal"` // for whoever reads the store; the token decides
	TokenSHA256 string    `json:"token_sha256"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// sessionState is what the access policy says of a session now.
type sessionState int

const (
	sessionLive sessionState = iota
	// sessionEnded: it expired, or an access file that lists principals no longer
	// lists its token (revoked). It is removed.
	sessionEnded
	// sessionSuspended: the access file is missing or lists nobody, as while config
	// management rewrites it in place. The session is refused but kept, and works
	// again once the file lists its token again.
	sessionSuspended
)

// state returns the session's principal under pol, and whether it is live, ended or
// suspended.
func (r sessionRecord) state(pol *Policy, now time.Time) (Principal, sessionState) {
	var sum [sha256.Size]byte
	d, err := hex.DecodeString(r.TokenSHA256)
	if err != nil || len(d) != len(sum) || !now.Before(r.Expires) {
		return Principal{}, sessionEnded
	}
	copy(sum[:], d)
	st := pol.current() // once: a reload between two reads must not mix two files
	if pr, ok := st.byDigest(sum); ok {
		return pr, sessionLive
	}
	if st.listsPrincipals() {
		return Principal{}, sessionEnded
	}
	return Principal{}, sessionSuspended
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ttl is the sessions' lifetime.
func (s *Sessions) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultSessionTTL
}

// sessionIDLen is the length of an id: 32 random bytes, base64url without padding.
const sessionIDLen = 43

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return SessionPrefix + hex.EncodeToString(sum[:]) + ".json"
}

// Start signs in with token: it returns a new session id and the principal, or the
// error Authenticate gives for a token the policy does not know (nothing is stored).
func (s *Sessions) Start(ctx context.Context, pol *Policy, token string) (string, Principal, time.Time, error) {
	pr, err := pol.Authenticate(token)
	if err != nil || pr.Anonymous() {
		return "", pr, time.Time{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Principal{}, time.Time{}, errs.E(errs.Internal, "access: start session", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.now().UTC()
	rec := sessionRecord{Principal: pr.Name, TokenSHA256: Digest(strings.TrimSpace(token)), Created: now, Expires: now.Add(s.ttl())}
	if err := s.Store.PutJSON(ctx, sessionKey(id), rec); err != nil {
		return "", Principal{}, time.Time{}, err
	}
	return id, pr, rec.Expires, nil
}

// Resolve returns the principal of session id. ok is false when there is no such
// session, it expired, or its token was revoked (an access file that lists principals
// no longer lists it); a session that ended that way is removed. With ok false, err
// says the session may still be valid: the store failed, or the access file is missing
// or lists nobody (as while it is rewritten in place), which refuses the session but
// keeps it, so it works again once the file is back.
func (s *Sessions) Resolve(ctx context.Context, pol *Policy, id string) (pr Principal, ok bool, err error) {
	if len(id) != sessionIDLen {
		return Principal{}, false, nil
	}
	var rec sessionRecord
	if err := s.Store.GetJSON(ctx, sessionKey(id), &rec); err != nil {
		if errs.Is(err, errs.NotFound) {
			return Principal{}, false, nil
		}
		return Principal{}, false, err
	}
	pr, state := rec.state(pol, s.now())
	switch state {
	case sessionLive:
		return pr, true, nil
	case sessionSuspended:
		return Principal{}, false, errs.Errorf(errs.Transient, "access: session", "the access file %s is missing or lists no principal, so the session is refused until it lists its token again", pol.File())
	}
	// Expired, or its token was revoked: it ends for good.
	return Principal{}, false, s.Store.Delete(ctx, sessionKey(id))
}

// End signs session id out, on every catalog process sharing the store.
func (s *Sessions) End(ctx context.Context, id string) error {
	if len(id) != sessionIDLen {
		return nil
	}
	return s.Store.Delete(ctx, sessionKey(id))
}

// Sweep removes the sessions that expired or whose token was revoked (as Resolve
// says), and returns how many it removed. Resolve removes such a session when it is
// next used; Sweep removes those of browsers that never come back. While the access
// file is missing or lists nobody, it removes only expired sessions.
func (s *Sessions) Sweep(ctx context.Context, pol *Policy) (int, error) {
	keys, err := s.Store.List(ctx, SessionPrefix)
	if err != nil {
		return 0, err
	}
	now, n := s.now(), 0
	for _, k := range keys {
		var rec sessionRecord
		if err := s.Store.GetJSON(ctx, k, &rec); err != nil && !errs.Is(err, errs.Invalid) {
			continue // gone meanwhile, or unreadable now: the next sweep sees it
		}
		if _, state := rec.state(pol, now); state != sessionEnded {
			continue
		}
		if err := s.Store.Delete(ctx, k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
