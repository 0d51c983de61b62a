package agentidentity

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// The environment variables read by [OverridesFromEnv]
// (docs/protocol.md#overrides); their one home is internal/endpointrule.
const (
	envAuthAPIBaseURLNew = endpointrule.EnvAuthAPIBaseURLNew // CODEX_AUTHAPI_BASE_URL
	envAuthAPIBaseURL    = endpointrule.EnvAuthAPIBaseURL    // CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL
	envJWKSBaseURL       = endpointrule.EnvJWKSBaseURL       // CODEX_AGENT_IDENTITY_JWKS_BASE_URL
)

// ErrInvalidBaseURL is wrapped by the error returned for a base URL or an
// override that cannot be used to build endpoints: not http(s), plain http on
// a host other than loopback, user info, a query or fragment, percent-encoding,
// spaces or control characters, or "." / ".." / empty path segments.
var ErrInvalidBaseURL = errors.New("agentidentity: invalid base URL")

// Overrides are the endpoint overrides of docs/protocol.md#overrides. An empty field is
// unset. Values are trimmed of surrounding white space and trailing '/' before
// use, by [OverridesFromEnv] and again by [ResolveWithOverrides].
type Overrides struct {
	// AuthAPIBaseURL replaces the AuthAPI base (CODEX_AUTHAPI_BASE_URL, else
	// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL).
	AuthAPIBaseURL string
	// JWKSBaseURL replaces the base the JWKS URL is derived from
	// (CODEX_AGENT_IDENTITY_JWKS_BASE_URL).
	JWKSBaseURL string
}

// OverridesFromEnv reads the overrides through getenv (os.Getenv when nil):
// the AuthAPI base from CODEX_AUTHAPI_BASE_URL, else (unset or blank) from
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL, and the JWKS base from
// CODEX_AGENT_IDENTITY_JWKS_BASE_URL, trimmed of surrounding white space and
// trailing '/'; a value that is blank after trimming counts as unset. It does
// not validate them; ResolveWithOverrides does.
//
// The Codex CLI 0.171 was observed to read only
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL for registration, also when both were
// set (docs/protocol.md#codex-0171-differs): set that one to keep Codex 0.171
// and this module on the same AuthAPI.
func OverridesFromEnv(getenv func(string) string) Overrides {
	if getenv == nil {
		getenv = os.Getenv
	}
	auth := endpointrule.TrimBase(getenv(envAuthAPIBaseURLNew))
	if auth == "" {
		auth = endpointrule.TrimBase(getenv(envAuthAPIBaseURL))
	}
	return Overrides{
		AuthAPIBaseURL: auth,
		JWKSBaseURL:    endpointrule.TrimBase(getenv(envJWKSBaseURL)),
	}
}

// ResolveFromEnv is ResolveWithOverrides with the overrides of the process
// environment ([OverridesFromEnv] with os.Getenv).
func ResolveFromEnv(chatgptBaseURL string) (Environment, error) {
	return ResolveWithOverrides(chatgptBaseURL, OverridesFromEnv(nil))
}

// ResolveWithOverrides resolves a ChatGPT base URL as [Resolve] does, then
// applies the overrides of docs/protocol.md#overrides:
//
//   - for a known environment, AuthAPIBaseURL replaces its AuthAPI base and
//     JWKSBaseURL replaces the base its JWKS URL is derived from (see
//     [JWKSURL]); Name, ChatGPTBaseURL, Issuer and Audience stay;
//   - a base URL that is not a known environment is accepted only as a custom
//     deployment: both overrides set, and JWKSBaseURL equal to the base URL
//     (both trimmed of trailing '/'). The result has Name
//     "custom", ChatGPTBaseURL the trimmed base, the overridden
//     AuthAPI base and JWKS URL, and the production environment's Issuer and
//     Audience: tokens of a custom deployment must still carry the production
//     issuer and audience.
//
// Overrides and custom base URLs must use https, or http only on a loopback
// host (localhost, 127.0.0.0/8, [::1], judged on the parsed host, so
// http://localhost@evil.com is refused), and carry no user info, query or
// fragment. An unusable override is an error wrapping [ErrInvalidBaseURL],
// even for a known environment: it is never silently ignored. An unknown base
// without a valid custom deployment is an error wrapping
// [ErrUnknownEnvironment].
func ResolveWithOverrides(chatgptBaseURL string, o Overrides) (Environment, error) {
	auth, jwksBase := endpointrule.TrimBase(o.AuthAPIBaseURL), endpointrule.TrimBase(o.JWKSBaseURL)
	var jwks string
	if auth != "" {
		if _, err := parseBaseURL(auth); err != nil {
			return Environment{}, fmt.Errorf("%w: override %s %w", ErrInvalidBaseURL, envAuthAPIBaseURL, err)
		}
	}
	if jwksBase != "" {
		u, err := parseBaseURL(jwksBase)
		if err != nil {
			return Environment{}, fmt.Errorf("%w: override %s %w", ErrInvalidBaseURL, envJWKSBaseURL, err)
		}
		jwks = endpointrule.JWKSURL(u)
	}
	env, ok := resolveStatic(chatgptBaseURL)
	if !ok {
		if auth == "" || jwksBase == "" {
			return Environment{}, unknownEnvironment(chatgptBaseURL,
				"a custom deployment needs both "+envAuthAPIBaseURL+" and "+envJWKSBaseURL+" set, the latter equal to the base URL")
		}
		base := endpointrule.TrimBase(chatgptBaseURL)
		if base != jwksBase {
			return Environment{}, unknownEnvironment(chatgptBaseURL,
				"a custom deployment needs "+envJWKSBaseURL+" equal to the base URL")
		}
		if env, ok = resolveStatic(base); !ok {
			if _, err := parseBaseURL(base); err != nil {
				return Environment{}, fmt.Errorf("%w: the custom deployment base URL %w", ErrInvalidBaseURL, err)
			}
			env = Environment{
				Name:           customEnvironmentName,
				ChatGPTBaseURL: base,
				Issuer:         ProductionIssuer,
				Audience:       ProductionAudience,
			}
		}
	}
	if auth != "" {
		env.AuthAPIBaseURL = auth
	}
	if jwks != "" {
		env.JWKSURL = jwks
	}
	return env, nil
}

// JWKSURL returns the JWKS URL for a base URL by the rule of docs/protocol.md#jwks-url:
// with trailing '/' removed, B + "/wham/agent-identities/jwks" if B contains
// "/backend-api", else B + "/agent-identities/jwks". The URL is built with
// net/url. The base must be https, or http on a loopback host, without user
// info, query, fragment, percent-encoding or "." / ".." / empty segments;
// otherwise the error wraps [ErrInvalidBaseURL].
func JWKSURL(base string) (string, error) {
	u, err := parseBaseURL(strings.TrimRight(base, "/"))
	if err != nil {
		return "", fmt.Errorf("%w: the JWKS base %w", ErrInvalidBaseURL, err)
	}
	return endpointrule.JWKSURL(u), nil
}

// parseBaseURL checks a base URL (already trimmed of trailing '/') that is to
// be used for endpoints by the module's one URL rule (netrule.CheckURL):
// https, or http only on a loopback host. Errors name the problem but never
// repeat the URL, which may hold secrets.
func parseBaseURL(raw string) (*url.URL, error) {
	return netrule.CheckURL(raw, netrule.URLRule{HTTPOnLoopback: true})
}
