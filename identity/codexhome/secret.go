package codexhome

import (
	"fmt"
	"log/slog"

	"github.com/agentidentity/agentidentity/internal/secret"
)

// Secret is the module's one secret type: a private key, a JWT, an access
// or refresh token, an API key. Every secret a public API of the module
// returns or stores is a Secret.
//
// A Secret prints "[REDACTED]" under every fmt verb and flag (as a value and
// as a pointer, inside structs, slices and maps), through log/slog's text
// and JSON handlers and through the text and JSON marshalers, so a struct
// holding one can be printed, logged or marshaled without leaking it. Even
// where fmt cannot call its methods (an unexported field of a struct being
// printed), what is printed is an address, never the text. Reveal is the one
// way to read it: call it only where the secret is used (a header being set,
// a file being written).
//
// The zero Secret is the empty secret. Secrets are immutable and safe to
// copy, compare with Equal and share between goroutines.
type Secret struct{ v secret.Value }

// NewSecret wraps s in a Secret; NewSecret("") is the zero Secret.
func NewSecret(s string) Secret { return Secret{secret.New(s)} }

// Reveal returns the text of the secret ("" for the zero Secret).
func (s Secret) Reveal() string { return s.v.Reveal() }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v.IsZero() }

// Equal reports whether s and o hold the same text.
func (s Secret) Equal(o Secret) bool { return s.v.Equal(o.v) }

// String returns "[REDACTED]".
func (s Secret) String() string { return s.v.String() }

// Format prints "[REDACTED]" under every fmt verb and flag, %#v included.
func (s Secret) Format(f fmt.State, verb rune) { s.v.Format(f, verb) }

// LogValue makes every log/slog handler print "[REDACTED]".
func (s Secret) LogValue() slog.Value { return s.v.LogValue() }

// MarshalText returns "[REDACTED]" (encoding/xml, TOML and other text
// encoders).
func (s Secret) MarshalText() ([]byte, error) { return s.v.MarshalText() }

// MarshalJSON returns "[REDACTED]" as a JSON string, so a struct holding a
// Secret never marshals the secret by accident. Files that must hold the
// secret (auth.json) are written with Reveal by their own encoder.
func (s Secret) MarshalJSON() ([]byte, error) { return s.v.MarshalJSON() }

// UnmarshalJSON reads a JSON string (or null, the empty secret) into s, so
// a struct holding a Secret can be decoded from JSON: golang-jwt decodes
// the claims of a token parsed with identity.JWTVerifier.Keyfunc into
// identity.Claims this way. Errors never quote the input.
func (s *Secret) UnmarshalJSON(data []byte) error { return s.v.UnmarshalJSON(data) }
