// Package secret holds the module's one secret type: a string (a private key,
// a JWT, an access or refresh token, a signature, the text of auth.json) that
// never prints.
//
// A Value prints "[REDACTED]" under every fmt verb, as a value and as a
// pointer, through String, GoString, Format, log/slog's LogValue and the text
// and JSON marshalers. Its only field is a pointer, so even where fmt cannot
// call its methods (an unexported field of a struct being printed), what is
// printed is an address, never the contents. Reveal is the one way to read it.
package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Value prints.
const Redacted = "[REDACTED]"

// Value is a secret string. The zero Value is the empty secret. Values are
// immutable and safe to copy and share.
type Value struct{ p *string }

// New wraps s.
func New(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{p: &s}
}

// Reveal returns the secret. Call it only where the secret is used (a
// header being set, a file being written), never to print it.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v.p == nil || *v.p == "" }

// Len returns the length of the secret in bytes.
func (v Value) Len() int { return len(v.Reveal()) }

// Equal reports whether two secrets hold the same text.
func (v Value) Equal(o Value) bool { return v.Reveal() == o.Reveal() }

// Presence returns "[REDACTED]" for a secret that is set and "" otherwise,
// for status output that says whether a secret exists.
func (v Value) Presence() string {
	if v.IsZero() {
		return ""
	}
	return Redacted
}

// String returns "[REDACTED]".
func (v Value) String() string { return Redacted }

// GoString returns "[REDACTED]".
func (v Value) GoString() string { return Redacted }

// Format prints "[REDACTED]" under every verb and flag.
func (v Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// LogValue makes every log/slog handler print "[REDACTED]".
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns "[REDACTED]" (slog's text handler, encoding/xml).
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns "[REDACTED]" as a JSON string, so a struct holding a
// Value never marshals the secret by accident. Files that must hold the
// secret are written with Reveal by their own encoder.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// Box holds a secret value of any type (a private key, the members of a
// file) so that it never prints. The value sits behind a function: fmt prints
// a function as an address under every verb, even through an unexported
// field where it cannot call Box's own methods, whereas a pointer to a struct,
// slice, array or map is followed by fmt's bad-verb output (%s, %d, …).
// The zero Box holds nothing: Get returns nil.
type Box[T any] struct{ f func() *T }

// NewBox returns a Box holding v.
func NewBox[T any](v T) Box[T] {
	p := &v
	return Box[T]{f: func() *T { return p }}
}

// Get returns a pointer to the boxed value (shared by every copy of the
// Box), or nil for the zero Box.
func (b Box[T]) Get() *T {
	if b.f == nil {
		return nil
	}
	return b.f()
}

// String returns "[REDACTED]".
func (b Box[T]) String() string { return Redacted }

// GoString returns "[REDACTED]".
func (b Box[T]) GoString() string { return Redacted }

// Format prints "[REDACTED]" under every verb and flag.
func (b Box[T]) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// LogValue makes every log/slog handler print "[REDACTED]".
func (b Box[T]) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns "[REDACTED]".
func (b Box[T]) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns "[REDACTED]" as a JSON string.
func (b Box[T]) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// UnmarshalJSON reads a JSON string (or null, the empty secret) into v, so a
// struct with a Value field can be decoded from JSON. Errors never quote the
// input.
func (v *Value) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*v = Value{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("secret: want a JSON string")
	}
	*v = New(s)
	return nil
}

// UnmarshalText sets v to text.
func (v *Value) UnmarshalText(text []byte) error {
	*v = New(string(text))
	return nil
}
