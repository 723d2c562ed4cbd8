// Package errs gives every Meshflow error a kind, so that a caller — above all the
// activity boundary, which decides what Temporal retries — can act on what went wrong
// without parsing messages.
package errs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind says what class of failure an error is. The zero value is Internal.
type Kind uint8

const (
	Internal    Kind = iota // a bug or an unexpected state; retrying may not help
	Invalid                 // bad input or configuration; retrying never helps
	NotFound                // the thing named does not exist
	Permission              // credentials missing, wrong or lacking a scope; never retried
	RateLimited             // the source asked us to slow down for a short while (see RetryAfter)
	Quota                   // a quota is exhausted until a known time (see Until); wait durably
	Transient               // a network fault or 5xx; retry with backoff
	Conflict                // a concurrent writer won; reload and retry
	Canceled                // the caller canceled
)

var kindNames = [...]string{"internal", "invalid", "not found", "permission", "rate limited", "quota exhausted", "transient", "conflict", "canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an error with a kind and the operation that failed.
type Error struct {
	Kind Kind
	Op   string // what was being done, e.g. "hubspot: search contacts"
	Err  error

	// RetryAfter is how long a RateLimited source asked us to wait (0 = unknown).
	RetryAfter time.Duration
	// Until is when an exhausted Quota resets.
	Until time.Time
	// Limit names the source's limit a RateLimited or Quota error (or a Transient
	// one with RetryAfter) ran into, in words an on-call engineer understands: "the
	// GitHub secondary rate limit", "HubSpot's 10-second limit". A read that waits on
	// it says so with this name ("waiting for the GitHub secondary rate limit until
	// 14:03:10"); "" = the source did not say which.
	Limit string
}

func (e *Error) Error() string {
	switch {
	case e.Op != "" && e.Err != nil:
		return e.Op + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Op + ": " + e.Kind.String()
	}
}

func (e *Error) Unwrap() error { return e.Err }

// E wraps err with a kind and an operation. Wrap once, where the failure is understood.
func E(kind Kind, op string, err error) *Error { return &Error{Kind: kind, Op: op, Err: err} }

// Errorf builds a new error of the given kind.
func Errorf(kind Kind, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Err: fmt.Errorf(format, args...)}
}

// KindOf reports the kind of the outermost *Error in err's chain; context cancellation
// is Canceled, a deadline (an HTTP client timeout) is Transient, anything else Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Transient
	}
	return Internal
}

// Is reports whether err has the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// As returns the outermost *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Retryable reports whether repeating the same call later can succeed.
func Retryable(err error) bool {
	switch KindOf(err) {
	case RateLimited, Transient, Conflict, Quota, Internal:
		return true
	}
	return false
}
