// Package secret holds credentials so that no log line, error message, JSON document or
// Temporal payload can print them by accident.
package secret

import (
	"fmt"
	"log/slog"
)

// Value is a credential. Every way of printing or encoding it yields
// "[REDACTED]"; only Reveal gives the value, for the one header that needs it.
// A struct keeping a Value in an unexported field should hold a *Value: fmt prints
// unexported fields by reflection, without calling Format, but a pointer as an address.
type Value string

// Redacted is what a Value prints as.
const Redacted = "[REDACTED]"

// Reveal returns the secret's value.
func (s Value) Reveal() string { return string(s) }

// String redacts.
func (Value) String() string { return Redacted }

// GoString redacts (%#v).
func (Value) GoString() string { return Redacted }

// Format redacts under every verb, %x and %q included.
func (Value) Format(f fmt.State, _ rune) { f.Write([]byte(Redacted)) }

// MarshalJSON redacts.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText redacts (YAML, TOML and other text encoders).
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue redacts in log/slog.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }
