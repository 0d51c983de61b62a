// Package endpointrule holds the rules that both the generator (package gen)
// and package agentidentity apply to base URLs: the JWKS rule of
// docs/protocol.md#jwks-url, the lookup key under which a ChatGPT base URL is found in the
// static table and the trimming of configured bases, and the names both
// sides use: the custom environment's name and the override variables. (The
// check of a URL and the origin of a base, to which credentials may go, are
// internal/netrule's one rule.) Keeping them here, in one place, means that
// the generated table and the run-time lookup cannot drift apart.
//
// It imports only the standard library, so the generator can use it without
// importing the package it writes into.
package endpointrule

import (
	"net/url"
	"strings"
)

// CustomName is the Name of the environment of a custom deployment (a base
// URL outside the table, accepted with both overrides set); it cannot name
// an environment of the table.
const CustomName = "custom"

// The environment variables of the endpoint overrides
// (docs/protocol.md#overrides), read by the root package's OverridesFromEnv
// and shown by agentid status.
const (
	// EnvAuthAPIBaseURLNew is the newer name of the AuthAPI override: read
	// before EnvAuthAPIBaseURL, it wins when both are set. The real Codex CLI
	// 0.171 was observed to ignore it for registration (it read only
	// EnvAuthAPIBaseURL, also when both were set:
	// docs/protocol.md#codex-0171-differs), so set EnvAuthAPIBaseURL to keep
	// Codex 0.171 and this module on the same AuthAPI.
	EnvAuthAPIBaseURLNew = "CODEX_AUTHAPI_BASE_URL"
	// EnvAuthAPIBaseURL replaces the AuthAPI base of the environment (the
	// older name, still read when EnvAuthAPIBaseURLNew is unset or blank).
	EnvAuthAPIBaseURL = "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL"
	// EnvJWKSBaseURL replaces the base the JWKS URL is derived from.
	EnvJWKSBaseURL = "CODEX_AGENT_IDENTITY_JWKS_BASE_URL"
)

// Scheme is the only scheme the static table holds; lookup keys leave it
// out.
const Scheme = "https://"

// JWKSURL applies the JWKS rule (docs/protocol.md#jwks-url) to a base URL (already
// trimmed of trailing '/'): base + "/wham/agent-identities/jwks" when the
// base's path contains "/backend-api", else base + "/agent-identities/jwks".
// The URL is joined with net/url.
func JWKSURL(base *url.URL) string {
	if strings.Contains(base.Path, "/backend-api") {
		return base.JoinPath("wham", "agent-identities", "jwks").String()
	}
	return base.JoinPath("agent-identities", "jwks").String()
}

// AppendLookupKey appends to dst the lookup key of the ChatGPT base URL s and
// returns the extended slice: s without its case-insensitive "https://"
// prefix, the host lower-cased, ":443" dropped and one trailing '/' removed.
// Hosts may hold only letters, digits, '-' and '.'; a port only digits. The
// path is copied as it is, so anything that is not in the table (another
// case, '?', '#', '%', "..") fails the lookup. It reports false for inputs
// that cannot be in the table.
//
// The key is never longer than s, so a dst with room for len(s) bytes is
// not reallocated: the run-time lookup passes a buffer on its stack and does
// not allocate. For a URL of the table (see gen), the key is the URL without
// "https://".
func AppendLookupKey(dst []byte, s string) ([]byte, bool) {
	if len(s) <= len(Scheme) {
		return dst, false
	}
	for i := 0; i < len(Scheme); i++ {
		if lower(s[i]) != Scheme[i] {
			return dst, false
		}
	}
	rest := s[len(Scheme):]
	end := strings.IndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	authority, path := rest[:end], rest[end:]
	host, port, hasPort := strings.Cut(authority, ":")
	if host == "" {
		return dst, false
	}
	start := len(dst)
	for i := 0; i < len(host); i++ {
		c := lower(host[i])
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return dst[:start], false
		}
		dst = append(dst, c)
	}
	if hasPort {
		if port == "" {
			return dst[:start], false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return dst[:start], false
			}
		}
		if port != "443" {
			dst = append(dst, ':')
			dst = append(dst, port...)
		}
	}
	dst = append(dst, strings.TrimSuffix(path, "/")...)
	return dst, true
}

// MaxInputLen is the length of the longest input whose lookup key is key:
// the scheme, key, an explicit ":443" and one trailing '/'. Inputs longer
// than the largest MaxInputLen of a table's keys cannot be in that table.
func MaxInputLen(key string) int {
	return len(Scheme) + len(key) + len(":443") + len("/")
}

// TrimBase trims surrounding white space and every trailing '/' from a
// configured base URL or override.
func TrimBase(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), "/")
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
