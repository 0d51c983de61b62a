package gen

import (
	"fmt"
	"net/url"

	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// tableURL is the rule of the URLs the table holds: the module's one URL
// check (netrule.CheckURL) in canonical form, https only. A URL is compared
// with the run-time lookup key as written, so it must be canonical.
var tableURL = netrule.URLRule{Canonical: true}

// checkURL reports whether raw is a URL the table may hold: https, a
// lower-case DNS host, an optional port other than 443 written without leading
// zeros, no user info, query or fragment (not even an empty '?' or '#'), no
// percent-encoding, and a path of non-empty segments other than "." and ".."
// made of unreserved characters, without a trailing '/'. The error message
// quotes raw and says what is wrong, in lower case, without a prefix.
func checkURL(raw string) (*url.URL, error) {
	return check(raw, tableURL)
}

// checkOrigin is checkURL for a URL that must also have no path: an https
// origin such as "https://auth.example.com" (a port other than 443 allowed).
func checkOrigin(raw string) (*url.URL, error) {
	r := tableURL
	r.Origin = true
	return check(raw, r)
}

func check(raw string, r netrule.URLRule) (*url.URL, error) {
	u, err := netrule.CheckURL(raw, r)
	switch {
	case err == nil:
		return u, nil
	case raw == "":
		return nil, err
	}
	// The table is not secret: its URLs are quoted to be found.
	return nil, fmt.Errorf("%q %w", raw, err)
}

// lookupKey is the key the generated switch compares with, built by the
// same function as the run-time lookup ([endpointrule.AppendLookupKey]). For
// a URL that passed checkURL it is the URL without its "https://" prefix;
// ok is false if the run-time lookup could never find u.
func lookupKey(u *url.URL) (key string, ok bool) {
	b, ok := endpointrule.AppendLookupKey(nil, u.String())
	return string(b), ok
}
