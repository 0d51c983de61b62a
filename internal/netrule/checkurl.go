package netrule

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxURLLen is the longest URL CheckURL accepts, in bytes: longer than any
// real endpoint, short enough to show in an error.
const maxURLLen = 2048

// URLRule is what the callers of CheckURL differ in. The zero value accepts
// an https URL with a host and an optional path of non-empty segments,
// without a trailing '/'.
type URLRule struct {
	// HTTPOnLoopback also accepts plain http to a loopback host
	// (IsLoopbackHost, judged on the parsed host).
	HTTPOnLoopback bool
	// Canonical requires the form the generated endpoint table holds:
	// "https://" in lower case, a lower-case DNS name as host (no IP
	// address, no trailing dot), a port without leading zeros and other than
	// 443, path segments of unreserved characters ([A-Za-z0-9-._~]) only,
	// and the URL exactly as net/url writes it back.
	Canonical bool
	// Origin refuses any path: the URL is an origin (scheme://host[:port]).
	Origin bool
	// TrimSlash accepts one trailing '/' and drops it from the returned URL
	// (a base URL written "https://host/api/").
	TrimSlash bool
	// Endpoint accepts a query and a fragment, kept as net/url keeps them:
	// the URL is a full endpoint (a JWKS or token URL) that is fetched as
	// given, not a base that endpoints are built from. The fragment is never
	// sent.
	Endpoint bool
}

// The problems CheckURL reports: one wording for the module. Each is a
// predicate without a subject and never quotes the URL (which may hold a
// secret), so that every caller can put its own subject and sentinel in
// front: `"https://x?" must not have a query`, "identity: invalid URL: the
// AuthAPI base URL must not have a query".
var (
	errURLEmpty         = errors.New("must not be empty")
	errURLTooLong       = errors.New("must be at most " + strconv.Itoa(maxURLLen) + " bytes long")
	errURLNotPrintable  = errors.New("must be printable ASCII without spaces (write a Unicode host in punycode)")
	errURLFragment      = errors.New("must not have a fragment")
	errURLQuery         = errors.New("must not have a query")
	errURLPercent       = errors.New("must not be percent-encoded")
	errURLBackslash     = errors.New("must not contain a backslash")
	errURLUnparsable    = errors.New("does not parse as a URL")
	errURLUserInfo      = errors.New("must not have user information")
	errURLNotAbsolute   = errors.New("is not an absolute URL with a host")
	errURLHTTPSOnly     = errors.New("must use https (only https is allowed)")
	errURLHTTPSLoopback = errors.New("must use https (plain http only to a loopback host: localhost, 127.0.0.0/8 or [::1])")
	errURLHost          = errors.New("must have a DNS name or an IP address without a zone as host")
	errURLDNSHost       = errors.New("must have a lower-case DNS name as host")
	errURLPort          = errors.New("must have a port from 1 to 65535")
	errURLCanonicalPort = errors.New("must have a port from 1 to 65535 without leading zeros")
	errURLPort443       = errors.New("must not name port 443 (implied by https)")
	errURLTrailingSlash = errors.New("must not end with '/'")
	errURLOrigin        = errors.New("must be an origin without a path")
	errURLSegment       = errors.New(`must not have an empty, "." or ".." path segment`)
	errURLPathEscape    = errors.New("must not have a path character that needs escaping")
	errURLPathChars     = errors.New("must have a path of letters, digits and -._~ only")
	errURLNotCanonical  = errors.New("must be written in canonical form (lower-case scheme, as net/url writes it)")
)

// CheckURL is the module's one strict check of a configured URL (a base URL,
// an override, a JWKS or token endpoint, an origin an answer names) before
// endpoints are built from it or credentials are sent to it. Whatever r
// says, it refuses: an empty URL or one longer than maxURLLen; spaces,
// control characters, non-ASCII bytes and backslashes; a fragment or query
// (even an empty '#' or '?') but in an Endpoint; percent-encoding but in an
// Endpoint's query or fragment; user information;
// anything but an absolute URL with a host; a scheme other than https (and
// http to a loopback host if r.HTTPOnLoopback); a host that is neither a
// name of [A-Za-z0-9-_.] nor an IP address without zone; a port outside 1 to
// 65535; and a path with an empty, "." or ".." segment, a trailing '/' or a
// character net/url would escape. So every URL built from an accepted one by
// joining plain segments is the base's own bytes plus those segments.
//
// It is hand-written because net/url accepts all of these (it is a parser,
// not a policy); the URL is parsed with net/url once the bytes are known to
// be plain.
//
// The error is one of a fixed set of predicates ("must not have a query")
// that never quote the URL; callers wrap it with their sentinel and subject.
func CheckURL(raw string, r URLRule) (*url.URL, error) {
	if raw == "" {
		return nil, errURLEmpty
	}
	if len(raw) > maxURLLen {
		return nil, errURLTooLong
	}
	// end is where the query or fragment of an endpoint starts.
	end := len(raw)
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c <= ' ' || c >= 0x7f:
			return nil, errURLNotPrintable
		case c == '\\':
			return nil, errURLBackslash
		case i >= end:
		case (c == '#' || c == '?') && r.Endpoint:
			end = i
		case c == '#':
			return nil, errURLFragment
		case c == '?':
			return nil, errURLQuery
		case c == '%':
			return nil, errURLPercent
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errURLUnparsable
	}
	if u.User != nil {
		return nil, errURLUserInfo
	}
	if u.Opaque != "" || u.Host == "" || u.Scheme == "" {
		return nil, errURLNotAbsolute
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && r.HTTPOnLoopback && IsLoopbackHost(u.Hostname()):
	case r.HTTPOnLoopback:
		return nil, errURLHTTPSLoopback
	default:
		return nil, errURLHTTPSOnly
	}
	if r.Canonical {
		if !isDNSName(u.Hostname()) {
			return nil, errURLDNSHost
		}
	} else if !isHostName(u.Hostname()) {
		return nil, errURLHost
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if err := checkPort(port, r.Canonical); err != nil {
			return nil, err
		}
	}
	want := raw
	if r.TrimSlash && strings.HasSuffix(u.Path, "/") {
		u.Path = u.Path[:len(u.Path)-1]
		want = raw[:end-1] + raw[end:]
	}
	if err := checkPath(u, r); err != nil {
		return nil, err
	}
	if r.Canonical && u.String() != want {
		return nil, errURLNotCanonical
	}
	return u, nil
}

// checkPath applies the path rules of CheckURL to u.Path.
func checkPath(u *url.URL, r URLRule) error {
	p := u.Path
	switch {
	case p == "":
		return nil
	case strings.HasSuffix(p, "/"):
		return errURLTrailingSlash
	case r.Origin:
		return errURLOrigin
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errURLSegment
		}
		if !r.Canonical {
			continue
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '.' || c == '_' || c == '~') {
				return errURLPathChars
			}
		}
	}
	// net/url keeps a RawPath for characters it would escape but that are
	// valid as written ('!', '*', '(', ')', '\''); JoinPath may rewrite them.
	if u.RawPath != "" || u.EscapedPath() != p {
		return errURLPathEscape
	}
	return nil
}

// checkPort accepts a decimal port from 1 to 65535; a canonical one is
// written without leading zeros and is not 443 (implied by https).
func checkPort(p string, canonical bool) error {
	n, err := strconv.Atoi(p)
	switch {
	case !canonical && (err != nil || n < 1 || n > 65535):
		return errURLPort
	case !canonical:
		return nil
	case err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p:
		return errURLCanonicalPort
	case n == 443:
		return errURLPort443
	}
	return nil
}

// isHostName accepts an IP address (IPv6 without a zone) or a name made of
// ASCII letters, digits, '-', '_' and '.'.
func isHostName(h string) bool {
	if h == "" {
		return false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isDNSName accepts a lower-case DNS name of at most 253 characters:
// dot-separated labels of 1 to 63 characters from [a-z0-9-], neither
// starting nor ending with '-', and no trailing dot.
func isDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
