package agentidentity

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

//go:generate go run ./cmd/genendpoints

// DefaultChatGPTBaseURL is the ChatGPT base URL used when none is configured.
// It resolves to the production environment.
const DefaultChatGPTBaseURL = "https://chatgpt.com/backend-api"

// CustomEnvironmentName is the Name of the Environment that
// [ResolveWithOverrides] returns for a custom (self-hosted or development)
// deployment.
const CustomEnvironmentName = "custom"

// ErrUnknownEnvironment is wrapped by the error returned for a ChatGPT base
// URL that is neither a known environment nor an allowed custom deployment.
// Its message is the exact text of the Codex contract (spec section 1), so it
// is neither lower case nor prefixed; the wrapping errors are.
//
//lint:ignore ST1005 the message is the contract's exact text
var ErrUnknownEnvironment = errors.New("Agent Identity only supports production and staging ChatGPT environments")

// Environment is the set of endpoints and JWT expectations of one ChatGPT
// deployment. It is a plain value: copies are independent and safe to share.
type Environment struct {
	// Name is the table name ("production", "staging", …) or
	// CustomEnvironmentName.
	Name string
	// ChatGPTBaseURL is the canonical ChatGPT backend base
	// (https://chatgpt.com/backend-api for production), whichever accepted
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
// left out: the origin to which first-party credentials may be sent. It
// returns "" when ChatGPTBaseURL is not an absolute http(s) URL with a host,
// so that a zero or hand-built Environment matches no request.
func (e Environment) Origin() string {
	u, err := url.Parse(e.ChatGPTBaseURL)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	default:
		return ""
	}
	return scheme + "://" + host
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

// resolveStatic is Resolve without building an error.
func resolveStatic(s string) (Environment, bool) {
	var buf [maxBaseURLLen]byte
	if key, ok := normalizeBaseURL(s, &buf); ok {
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

// normalizeBaseURL writes into buf the lookup key of s: s without its
// case-insensitive "https://" prefix, the host lower-cased, ":443" dropped
// and one trailing '/' removed. Hosts may hold only letters, digits, '-' and
// '.'; a port only digits. The path is copied as it is, so anything not in
// the table (another case, '?', '#', '%', "..") fails the lookup. It reports
// false for inputs that cannot be in the table, including any longer than
// maxBaseURLLen.
func normalizeBaseURL(s string, buf *[maxBaseURLLen]byte) ([]byte, bool) {
	const scheme = "https://"
	if len(s) <= len(scheme) || len(s) > maxBaseURLLen {
		return nil, false
	}
	for i := 0; i < len(scheme); i++ {
		if lower(s[i]) != scheme[i] {
			return nil, false
		}
	}
	rest := s[len(scheme):]
	end := strings.IndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	authority, path := rest[:end], rest[end:]
	host, port, hasPort := strings.Cut(authority, ":")
	if host == "" {
		return nil, false
	}
	n := 0
	for i := 0; i < len(host); i++ {
		c := lower(host[i])
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return nil, false
		}
		buf[n] = c
		n++
	}
	if hasPort {
		if port == "" {
			return nil, false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return nil, false
			}
		}
		if port != "443" {
			buf[n] = ':'
			n++
			n += copy(buf[n:], port)
		}
	}
	path = strings.TrimSuffix(path, "/")
	n += copy(buf[n:], path)
	return buf[:n], true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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

// describeURL returns a quoted form of raw safe to put in an error: user
// info, query and fragment are replaced by "REDACTED", and the result is cut
// to 200 bytes.
func describeURL(raw string) string {
	const maxShown, maxParsed = 200, 4096
	if len(raw) > maxParsed {
		return fmt.Sprintf("(URL of %d bytes)", len(raw))
	}
	shown := raw
	if u, err := url.Parse(raw); err != nil {
		if strings.ContainsAny(raw, "@?#") {
			return fmt.Sprintf("(unparsable URL of %d bytes)", len(raw))
		}
	} else if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		if u.User != nil {
			u.User = url.User("REDACTED")
		}
		if u.RawQuery != "" || u.ForceQuery {
			u.RawQuery, u.ForceQuery = "REDACTED", false
		}
		if u.Fragment != "" || strings.Contains(raw, "#") {
			u.Fragment, u.RawFragment = "REDACTED", ""
		}
		shown = u.String()
	}
	if len(shown) > maxShown {
		cut := maxShown
		for cut > 0 && shown[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q… (%d bytes)", shown[:cut], len(raw))
	}
	return fmt.Sprintf("%q", shown)
}
