package identity

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// Sentinel errors that callers branch on with errors.Is. Every error the
// package returns for one of these conditions wraps the matching sentinel.
var (
	// ErrInvalidRuntimeID means an agent runtime id is outside the allowlist:
	// ASCII letters, digits, '-', '_', '.', '~', 1 to 256 characters, and
	// neither "." nor "..".
	ErrInvalidRuntimeID = wire.ErrInvalidRuntimeID

	// ErrInvalidTaskID means a task id is empty, longer than MaxTaskIDLen
	// bytes, not UTF-8 or holds a control character (C0, DEL or C1).
	ErrInvalidTaskID = wire.ErrInvalidTaskID

	// ErrInvalidKey means an agent private or public key could not be used.
	ErrInvalidKey = wire.ErrInvalidKey

	// ErrInvalidSigningTime means a signing time outside
	// [2000-01-01, 9000-01-01): no verifier would accept the header.
	ErrInvalidSigningTime = wire.ErrInvalidSigningTime

	// ErrInvalidURL means a base URL cannot be used to build an endpoint.
	ErrInvalidURL = errors.New("identity: invalid URL")

	// ErrInvalidTaskIDCiphertext means an encrypted task id could not be
	// opened with the agent's key.
	ErrInvalidTaskIDCiphertext = errors.New("identity: cannot open encrypted task id")

	// ErrInvalidJWT means an Agent Identity JWT was refused.
	ErrInvalidJWT = errors.New("identity: invalid Agent Identity JWT")

	// ErrJWTExpired means an Agent Identity JWT is past its exp: Load
	// refuses a stored or $CODEX_ACCESS_TOKEN JWT that expired, and a RunAuth
	// made from one stops signing at its exp. Load a fresh token (a new
	// CODEX_ACCESS_TOKEN) and call Load again. It wraps nothing; errors
	// carrying it also wrap ErrInvalidJWT.
	ErrJWTExpired = errors.New("identity: the Agent Identity JWT has expired; load a fresh token")

	// ErrBootstrapUnavailable means agent or task registration failed with
	// retryable errors on every attempt: the backend is unavailable for now,
	// and callers may fall back to bearer auth.
	ErrBootstrapUnavailable = errors.New("identity: agent identity bootstrap unavailable")

	// ErrNoAgentIdentity means $CODEX_HOME holds no agent identity usable under
	// the chosen policy; callers fall back to bearer auth.
	ErrNoAgentIdentity = errors.New("identity: no agent identity configured")
)

// Secret is the module's one secret type: keys, JWTs and tokens are held in
// it, and it prints "[REDACTED]" under every fmt verb and log/slog handler,
// as a value and as a pointer. Reveal returns the text. It is the same type
// as codexhome.Secret.
type Secret = codexhome.Secret

// maxErrorBody is the largest part of a response body kept in an error.
const maxErrorBody = 512

// RegistrationError is returned when the AuthAPI answers an agent or task
// registration with a status other than 2xx.
type RegistrationError struct {
	// Endpoint names the call: "agent registration" or "task registration".
	Endpoint string
	// StatusCode is the HTTP status of the answer (0 for a transport error).
	StatusCode int
	// Body holds at most 512 bytes of the answer, cut on a UTF-8 boundary.
	Body string
	// Retryable reports whether the failure is 429, 5xx, a time-out or a
	// connection error, which a later attempt may not repeat.
	Retryable bool
	// Err is the underlying transport error, if any.
	Err error
}

// Error implements error.
func (e *RegistrationError) Error() string {
	name := e.Endpoint
	if name == "" {
		name = "registration"
	}
	if e.StatusCode == 0 {
		if e.Err != nil {
			return fmt.Sprintf("identity: %s failed: %v", name, e.Err)
		}
		return fmt.Sprintf("identity: %s failed", name)
	}
	if e.Body == "" {
		return fmt.Sprintf("identity: %s failed with HTTP %d", name, e.StatusCode)
	}
	return fmt.Sprintf("identity: %s failed with HTTP %d: %q", name, e.StatusCode, e.Body)
}

// Unwrap returns the underlying transport error, if any.
func (e *RegistrationError) Unwrap() error { return e.Err }

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
