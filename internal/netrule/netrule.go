// Package netrule is the module's one rule for where credentials may go:
// which hosts count as loopback (the only place plain http is allowed), what
// a first-party origin is, how a request's host is compared with it, and how
// a configured URL is shown in errors, logs and status output.
package netrule

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInsecureOrigin is wrapped by CheckOrigin's refusals.
var ErrInsecureOrigin = errors.New("not a usable first-party origin")

// IsLoopbackHost reports whether a parsed host name (as url.URL.Hostname
// returns it) is localhost (ASCII letters in any case), an IPv4 address in
// 127.0.0.0/8 in dotted-quad form, or the IPv6 loopback ::1 (no zone, not
// IPv4-mapped). It is the one rule by which this module allows plain http.
func IsLoopbackHost(host string) bool {
	if len(host) == len("localhost") && ASCIILower(host) == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return false
	}
	if a.Is4() {
		return a.As4()[0] == 127
	}
	return a == netip.IPv6Loopback()
}

// SecureScheme reports whether u may carry credentials by its scheme: https,
// or http to a loopback host.
func SecureScheme(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return IsLoopbackHost(u.Hostname())
	}
	return false
}

// IsASCIIHost reports whether host is plain printable ASCII with no space.
// Credentials are given only to ASCII hosts: a Unicode host could be mapped
// (IDNA) to another one than the one compared.
func IsASCIIHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// CheckOrigin checks raw as a base URL that may receive first-party
// credentials (CheckURL: https, http only on a loopback host, one trailing
// '/' allowed) and returns its origin in the canonical form of Origin.
// Refusals wrap ErrInsecureOrigin.
func CheckOrigin(raw string) (string, error) {
	u, err := CheckURL(raw, URLRule{HTTPOnLoopback: true, TrimSlash: true})
	if err != nil {
		return "", fmt.Errorf("%w: %s %w", ErrInsecureOrigin, Redact(raw), err)
	}
	return Origin(u), nil
}

// Origin returns "scheme://host[:port]" of u with the scheme and host in
// lower case (ASCII only) and the scheme's default port dropped.
func Origin(u *url.URL) string {
	scheme := ASCIILower(u.Scheme)
	host := ASCIILower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port
	}
	return scheme + "://" + host
}

// SameOrigin reports whether the request URL u goes to origin (a value
// returned by CheckOrigin or Origin). The host net/http dials is compared
// byte for byte under ASCII-only case folding: never strings.EqualFold, which
// folds the Kelvin sign to 'k', and never IDNA, which maps look-alikes such as
// 'ⅿ' to ASCII while net/http dials the punycode host. A URL with user info
// or a non-ASCII host is never first-party. It does not allocate for the
// common spellings.
func SameOrigin(u *url.URL, origin string) bool {
	if u == nil || u.User != nil || origin == "" {
		return false
	}
	i := strings.Index(origin, "://")
	if i < 0 || !ASCIIEqualFold(u.Scheme, origin[:i]) {
		return false
	}
	if !IsASCIIHost(u.Host) {
		return false
	}
	if ASCIIEqualFold(u.Host, origin[i+3:]) {
		return true
	}
	// Slow path: default ports, IPv6 brackets.
	return Origin(u) == origin
}

// ASCIIEqualFold is strings.EqualFold for ASCII letters only.
func ASCIIEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ASCIILower lower-cases ASCII letters only.
func ASCIILower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Redact returns raw safe to show in an error, a log line or status output:
// user info, query and fragment are replaced by "REDACTED", a URL that does
// not parse is shown only by its length if it could hold any of them or a
// control character, and the result is cut to 200 bytes. It is the one redaction of configured URLs in the module.
func Redact(raw string) string {
	const maxShown, maxParsed = 200, 4096
	if len(raw) > maxParsed {
		return fmt.Sprintf("(URL of %d bytes)", len(raw))
	}
	shown := raw
	if u, err := url.Parse(raw); err != nil {
		// An unparsable URL is shown as it is only when it cannot hold user
		// info, a query or a fragment, nor a control character that would
		// forge a line of a log or a terminal (url.Parse refuses those).
		if strings.ContainsAny(raw, "@?#") || hasControl(raw) {
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
		return shown[:cut] + fmt.Sprintf("… (%d bytes)", len(raw))
	}
	return shown
}

// hasControl reports whether s holds an ASCII control character or DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
