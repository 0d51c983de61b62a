package gen

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

// checkURL reports whether raw is a URL the table may hold: https, a
// lower-case DNS host, an optional port other than 443 written without leading
// zeros, no user info, query or fragment (not even an empty '?' or '#'), no
// percent-encoding, and a path of non-empty segments other than "." and ".."
// made of unreserved characters, without a trailing '/'. The error message
// says what is wrong, in lower case, without a prefix.
func checkURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("must not be empty")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return nil, fmt.Errorf("%q must be printable ASCII without spaces", raw)
		}
	}
	switch {
	case strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%q must not have a fragment", raw)
	case strings.Contains(raw, "?"):
		return nil, fmt.Errorf("%q must not have a query", raw)
	case strings.Contains(raw, "@"):
		return nil, fmt.Errorf("%q must not have user info", raw)
	case strings.Contains(raw, "%"):
		return nil, fmt.Errorf("%q must not be percent-encoded", raw)
	case strings.Contains(raw, `\`):
		return nil, fmt.Errorf("%q must not contain a backslash", raw)
	}
	if !strings.HasPrefix(raw, "https://") {
		return nil, fmt.Errorf("%q must start with https:// (only https is allowed)", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Host == "" {
		return nil, fmt.Errorf("%q must be an https URL with a host", raw)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return nil, fmt.Errorf("%q: %v", raw, err)
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if err := checkPort(port); err != nil {
			return nil, fmt.Errorf("%q: %v", raw, err)
		}
	}
	if err := checkPath(u.Path); err != nil {
		return nil, fmt.Errorf("%q: %v", raw, err)
	}
	if u.String() != raw {
		return nil, fmt.Errorf("%q is not in canonical form (want %q)", raw, u.String())
	}
	return u, nil
}

// checkOrigin is checkURL for a URL that must also have no path: an https
// origin such as "https://auth.example.com" (a port other than 443 allowed).
func checkOrigin(raw string) (*url.URL, error) {
	u, err := checkURL(raw)
	if err != nil {
		return nil, err
	}
	if u.Path != "" {
		return nil, fmt.Errorf("%q must be an origin (https://host) without a path", raw)
	}
	return u, nil
}

// checkHost accepts a lower-case DNS name: dot-separated labels of 1 to 63
// characters from [a-z0-9-], neither starting nor ending with '-', and no
// trailing dot.
func checkHost(h string) error {
	if h == "" || len(h) > 253 {
		return errors.New("host must be 1 to 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q has an empty or over-long label", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q has a label starting or ending with '-'", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("host %q must be a lower-case DNS name", h)
			}
		}
	}
	return nil
}

// checkPort accepts a decimal port from 1 to 65535 without leading zeros,
// other than 443 (implied by https, so written without it).
func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
		return fmt.Errorf("port %q must be a number from 1 to 65535 without leading zeros", p)
	}
	if n == 443 {
		return errors.New("port 443 is implied by https: write the URL without it")
	}
	return nil
}

// checkPath accepts "" or "/seg/seg…" with segments of unreserved characters
// ([A-Za-z0-9-._~]) other than "." and "..", and no trailing '/'.
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' {
		return fmt.Errorf("path %q must start with '/'", p)
	}
	if strings.HasSuffix(p, "/") {
		return errors.New("must not end with '/'")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q has an empty, \".\" or \"..\" segment", p)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '.' || c == '_' || c == '~') {
				return fmt.Errorf("path %q may hold only letters, digits and -._~", p)
			}
		}
	}
	return nil
}

// lookupKey is the key the generated switch compares with, built by the
// same function as the run-time lookup ([endpointrule.AppendLookupKey]). For
// a URL that passed checkURL it is the URL without its "https://" prefix;
// ok is false if the run-time lookup could never find u.
func lookupKey(u *url.URL) (key string, ok bool) {
	b, ok := endpointrule.AppendLookupKey(nil, u.String())
	return string(b), ok
}
