package agentidentity

import (
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

//go:generate go run ./cmd/genendpoints

// customEnvironmentName ("custom") is the Name of the Environment that
// [ResolveWithOverrides] returns for a custom (self-hosted or development)
// deployment; the generator reserves it (one home: internal/endpointrule).
const customEnvironmentName = endpointrule.CustomName

// ErrUnknownEnvironment is wrapped by the error returned for a ChatGPT base
// URL that is neither a known environment nor an allowed custom deployment.
// Its message is the exact text of the Codex contract (docs/protocol.md#accepted-base-urls), so it
// is neither lower case nor prefixed; the wrapping errors are.
//
//lint:ignore ST1005 the message is the contract's exact text
var ErrUnknownEnvironment = errors.New("Agent Identity only supports production and staging ChatGPT environments")

// Environment is the set of endpoints and JWT expectations of one ChatGPT
// deployment. It is a plain value: copies are independent and safe to share.
type Environment struct {
	// Name is the table name ("production", "staging", …) or "custom" for a
	// custom deployment ([ResolveWithOverrides]).
	Name string
	// ChatGPTBaseURL is the canonical ChatGPT backend base
	// ([DefaultChatGPTBaseURL] for production), whichever accepted
	// form was resolved; for a custom deployment, the configured base with
	// trailing '/' removed.
	ChatGPTBaseURL string
	// AuthAPIBaseURL is the base of agent and task registration.
	AuthAPIBaseURL string
	// JWKSURL is where Agent Identity JWT signing keys are published.
	JWKSURL string
	// Issuer is the required "iss" claim of Agent Identity JWTs.
	Issuer string
	// Audience is the required "aud" claim of Agent Identity JWTs.
	Audience string
}

// Origin returns "scheme://host[:port]" of e.ChatGPTBaseURL, with the scheme
// and host in lower case and a default port (443 for https, 80 for http)
// left out: the origin to which first-party credentials may be sent. It is
// the module's one origin rule (the one package identity applies): it
// returns "" when ChatGPTBaseURL fails the module's one URL check (an
// absolute https URL, http only on a loopback host, with a plain ASCII host
// and path and no user info, query or fragment; one trailing '/' allowed),
// so that a zero or hand-built Environment matches no request.
func (e Environment) Origin() string {
	o, err := netrule.CheckOrigin(e.ChatGPTBaseURL)
	if err != nil {
		return ""
	}
	return o
}

// Resolve maps a configured ChatGPT base URL to its environment using the
// static table generated from endpoints.toml (no overrides; see
// [ResolveWithOverrides]). Every accepted form of an environment resolves to
// the same value, with the canonical URLs.
//
// The scheme and host compare case-insensitively, an explicit ":443" and one
// trailing '/' are accepted; everything else must match the table exactly.
// So surrounding spaces, user info, a query or fragment (even an empty '?' or
// '#'), "." or ".." segments, a trailing dot on the host, a second trailing
// '/', a path in another case and http are all refused with an error that
// wraps [ErrUnknownEnvironment]. Resolve does not allocate for accepted
// inputs and is safe for concurrent use.
func Resolve(chatgptBaseURL string) (Environment, error) {
	if env, ok := resolveStatic(chatgptBaseURL); ok {
		return env, nil
	}
	return Environment{}, unknownEnvironment(chatgptBaseURL, "")
}

// resolveStatic is Resolve without building an error. The lookup key is
// built by [endpointrule.AppendLookupKey], the rule the generator applied to
// the table, in a buffer on the stack.
func resolveStatic(s string) (Environment, bool) {
	if len(s) > maxBaseURLLen {
		return Environment{}, false
	}
	var buf [maxBaseURLLen]byte
	if key, ok := endpointrule.AppendLookupKey(buf[:0], s); ok {
		if i := lookupBaseURL(key); i >= 0 {
			return environments[i], true
		}
	}
	return Environment{}, false
}

// Environments returns the environments of the static table, sorted by
// name. The slice is fresh on each call; the caller may modify it.
func Environments() []Environment {
	envs := make([]Environment, len(environments))
	copy(envs, environments[:])
	return envs
}

// unknownEnvironment builds the error for a refused base URL. The URL is
// shown with any user info, query and fragment replaced, and cut to a
// reasonable length, since they may carry secrets.
func unknownEnvironment(base, hint string) error {
	if hint != "" {
		hint = " (" + hint + ")"
	}
	return fmt.Errorf("agentidentity: base URL %s: %w%s", describeURL(base), ErrUnknownEnvironment, hint)
}

// describeURL returns raw quoted and redacted by the module's one rule
// (netrule.Redact: user info, query and fragment replaced, cut to 200 bytes).
func describeURL(raw string) string { return fmt.Sprintf("%q", netrule.Redact(raw)) }
