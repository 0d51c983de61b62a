package netrule

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// urlRules are every combination of the URLRule parameters.
func urlRules() []URLRule {
	var rules []URLRule
	for i := range 32 {
		rules = append(rules, URLRule{HTTPOnLoopback: i&1 != 0, Canonical: i&2 != 0, Origin: i&4 != 0, TrimSlash: i&8 != 0, Endpoint: i&16 != 0})
	}
	return rules
}

// allURLErrors is the one wording set of CheckURL.
var allURLErrors = []error{
	errURLEmpty, errURLTooLong, errURLNotPrintable, errURLFragment, errURLQuery, errURLPercent,
	errURLBackslash, errURLUnparsable, errURLUserInfo, errURLNotAbsolute, errURLHTTPSOnly,
	errURLHTTPSLoopback, errURLHost, errURLDNSHost, errURLPort, errURLCanonicalPort, errURLPort443,
	errURLTrailingSlash, errURLOrigin, errURLSegment, errURLPathEscape, errURLPathChars, errURLNotCanonical,
}

func TestCheckURL(t *testing.T) {
	var (
		https = URLRule{}
		lo    = URLRule{HTTPOnLoopback: true}
		canon = URLRule{Canonical: true}
	)
	tests := []struct {
		name string
		raw  string
		rule URLRule
		want string // the returned URL; "" when wantErr is set
		err  error
	}{
		// Every combination of the parameters, accepted and refused.
		{"https: a base with a path", "https://chatgpt.com/backend-api", https, "https://chatgpt.com/backend-api", nil},
		{"https: upper case is not canonical but accepted", "HTTPS://GW.Example.com:0443/Api", https, "https://GW.Example.com:0443/Api", nil},
		{"https: plain http refused, even on loopback", "http://localhost:8080", https, "", errURLHTTPSOnly},
		{"https: trailing slash refused", "https://chatgpt.com/backend-api/", https, "", errURLTrailingSlash},
		{"loopback: http to localhost", "http://localhost:8080/api/codex", lo, "http://localhost:8080/api/codex", nil},
		{"loopback: http to [::1]", "http://[::1]:9000", lo, "http://[::1]:9000", nil},
		{"loopback: http to 127.0.0.0/8", "http://127.1.2.3:8080/auth", lo, "http://127.1.2.3:8080/auth", nil},
		{"loopback: http to a public host", "http://chatgpt.com", lo, "", errURLHTTPSLoopback},
		{"loopback: http to a short ipv4", "http://127.1", lo, "", errURLHTTPSLoopback},
		{"loopback: http to a mapped ipv4", "http://[::ffff:127.0.0.1]", lo, "", errURLHTTPSLoopback},
		{"loopback: http to a look-alike", "http://localhost.evil.com", lo, "", errURLHTTPSLoopback},
		{"loopback: localhost in user info", "http://localhost@evil.com", lo, "", errURLUserInfo},
		{"loopback: another scheme", "ftp://127.0.0.1/x", lo, "", errURLHTTPSLoopback},
		{"canonical: port and unreserved path", "https://x.example:8443/a-b_c.d~e", canon, "https://x.example:8443/a-b_c.d~e", nil},
		{"canonical: upper-case scheme", "HTTPS://chatgpt.com", canon, "", errURLNotCanonical},
		{"canonical: upper-case host", "https://ChatGPT.com", canon, "", errURLDNSHost},
		{"canonical: trailing dot", "https://chatgpt.com.", canon, "", errURLDNSHost},
		{"canonical: label edge dash", "https://-chatgpt.com", canon, "", errURLDNSHost},
		{"canonical: ip literal", "https://[::1]", canon, "", errURLDNSHost},
		{"canonical: underscore", "https://a_b.example", canon, "", errURLDNSHost},
		{"canonical: port 443", "https://chatgpt.com:443", canon, "", errURLPort443},
		{"canonical: leading zero", "https://chatgpt.com:0443", canon, "", errURLCanonicalPort},
		{"canonical: port 0", "https://chatgpt.com:0", canon, "", errURLCanonicalPort},
		{"canonical: port too big", "https://chatgpt.com:65536", canon, "", errURLCanonicalPort},
		{"canonical: reserved path character", "https://chatgpt.com/a:b", canon, "", errURLPathChars},
		{"canonical: at sign in the path", "https://chatgpt.com/a@b", canon, "", errURLPathChars},
		{"canonical: http refused", "http://chatgpt.com", canon, "", errURLHTTPSOnly},
		{"loopback canonical: localhost", "http://localhost:8080/x", URLRule{HTTPOnLoopback: true, Canonical: true}, "http://localhost:8080/x", nil},
		{"loopback canonical: [::1] is no DNS name", "http://[::1]:8080", URLRule{HTTPOnLoopback: true, Canonical: true}, "", errURLDNSHost},
		{"origin: with a port", "https://auth.example.com:8443", URLRule{Origin: true}, "https://auth.example.com:8443", nil},
		{"origin: with a path", "https://auth.example.com/x", URLRule{Origin: true}, "", errURLOrigin},
		{"origin: slash only", "https://auth.example.com/", URLRule{Origin: true}, "", errURLTrailingSlash},
		{"loopback origin: http", "http://127.0.0.1:9000", URLRule{HTTPOnLoopback: true, Origin: true}, "http://127.0.0.1:9000", nil},
		{"loopback origin: with a path", "http://127.0.0.1:9000/x", URLRule{HTTPOnLoopback: true, Origin: true}, "", errURLOrigin},
		{"canonical origin", "https://auth.openai.com", URLRule{Canonical: true, Origin: true}, "https://auth.openai.com", nil},
		{"canonical origin: with a path", "https://auth.openai.com/oauth", URLRule{Canonical: true, Origin: true}, "", errURLOrigin},
		{"loopback canonical origin", "http://localhost:1455", URLRule{HTTPOnLoopback: true, Canonical: true, Origin: true}, "http://localhost:1455", nil},
		{"loopback canonical origin: default port", "https://localhost:443", URLRule{HTTPOnLoopback: true, Canonical: true, Origin: true}, "", errURLPort443},
		{"trim: one trailing slash dropped", "https://auth.openai.com/api/accounts/", URLRule{TrimSlash: true}, "https://auth.openai.com/api/accounts", nil},
		{"trim: bare host with slash", "https://example.com/", URLRule{TrimSlash: true}, "https://example.com", nil},
		{"trim: no slash", "https://example.com/api", URLRule{TrimSlash: true}, "https://example.com/api", nil},
		{"trim: two trailing slashes", "https://example.com/api//", URLRule{TrimSlash: true}, "", errURLTrailingSlash},
		{"trim: slashes only", "https://example.com//", URLRule{TrimSlash: true}, "", errURLTrailingSlash},
		{"loopback trim", "http://[::1]:8080/", URLRule{HTTPOnLoopback: true, TrimSlash: true}, "http://[::1]:8080", nil},
		{"loopback trim: remote http", "http://example.com/", URLRule{HTTPOnLoopback: true, TrimSlash: true}, "", errURLHTTPSLoopback},
		{"canonical trim", "https://chatgpt.com/backend-api/", URLRule{Canonical: true, TrimSlash: true}, "https://chatgpt.com/backend-api", nil},
		{"canonical trim: port 443", "https://chatgpt.com:443/", URLRule{Canonical: true, TrimSlash: true}, "", errURLPort443},
		{"loopback canonical trim", "http://localhost:8080/api/", URLRule{HTTPOnLoopback: true, Canonical: true, TrimSlash: true}, "http://localhost:8080/api", nil},
		{"loopback canonical trim: ip literal", "http://[::1]:8080/api/", URLRule{HTTPOnLoopback: true, Canonical: true, TrimSlash: true}, "", errURLDNSHost},
		{"origin trim", "https://routed.example/", URLRule{Origin: true, TrimSlash: true}, "https://routed.example", nil},
		{"origin trim: with a path", "https://routed.example/x/", URLRule{Origin: true, TrimSlash: true}, "", errURLOrigin},
		{"loopback origin trim", "http://localhost:8080/", URLRule{HTTPOnLoopback: true, Origin: true, TrimSlash: true}, "http://localhost:8080", nil},
		{"loopback origin trim: with a path", "http://localhost:8080/x/", URLRule{HTTPOnLoopback: true, Origin: true, TrimSlash: true}, "", errURLOrigin},
		{"canonical origin trim", "https://auth.openai.com/", URLRule{Canonical: true, Origin: true, TrimSlash: true}, "https://auth.openai.com", nil},
		{"canonical origin trim: upper-case scheme", "HTTPS://auth.openai.com/", URLRule{Canonical: true, Origin: true, TrimSlash: true}, "", errURLNotCanonical},
		{"loopback canonical origin trim", "http://localhost:1455/", URLRule{HTTPOnLoopback: true, Canonical: true, Origin: true, TrimSlash: true}, "http://localhost:1455", nil},
		{"loopback canonical origin trim: two slashes", "http://localhost:1455//", URLRule{HTTPOnLoopback: true, Canonical: true, Origin: true, TrimSlash: true}, "", errURLTrailingSlash},
		{"endpoint: query and fragment kept", "http://127.0.0.1:9/jwks?sig=a%2Fb#frag", URLRule{HTTPOnLoopback: true, Endpoint: true}, "http://127.0.0.1:9/jwks?sig=a%2Fb#frag", nil},
		{"endpoint: empty query", "https://auth.example/token?", URLRule{Endpoint: true}, "https://auth.example/token?", nil},
		{"endpoint: percent in the path", "https://auth.example/t%6Fken?v=1", URLRule{Endpoint: true}, "", errURLPercent},
		{"endpoint trim: slash before the query", "https://auth.example/token/?v=1", URLRule{Endpoint: true, TrimSlash: true}, "https://auth.example/token?v=1", nil},
		{"canonical endpoint: query net/url rewrites", "https://auth.example/token?v=1#a\"b", URLRule{Canonical: true, Endpoint: true}, "", errURLNotCanonical},

		// What every rule refuses.
		{"empty", "", lo, "", errURLEmpty},
		{"too long", "https://chatgpt.com/" + strings.Repeat("a", maxURLLen), lo, "", errURLTooLong},
		{"space", "https://chatgpt.com/a b", lo, "", errURLNotPrintable},
		{"leading space", " https://chatgpt.com", lo, "", errURLNotPrintable},
		{"control", "https://chatgpt.com/\x00", lo, "", errURLNotPrintable},
		{"DEL", "https://chatgpt.com/\x7f", lo, "", errURLNotPrintable},
		{"non-ASCII host", "https://chatgpt.cöm", lo, "", errURLNotPrintable},
		{"kelvin sign", "https://\u212aey.example", lo, "", errURLNotPrintable},
		{"fragment", "https://chatgpt.com#x", lo, "", errURLFragment},
		{"empty fragment", "https://chatgpt.com/api#", lo, "", errURLFragment},
		{"query", "https://chatgpt.com/?x=1", lo, "", errURLQuery},
		{"empty query", "https://chatgpt.com?", lo, "", errURLQuery},
		{"percent in the path", "https://chatgpt.com/%2e%2e", lo, "", errURLPercent},
		{"ipv6 zone", "http://[::1%25lo]", lo, "", errURLPercent},
		{"backslash", `https://chatgpt.com\x`, lo, "", errURLBackslash},
		{"unparsable port", "https://chatgpt.com:x:y/", lo, "", errURLUnparsable},
		{"user info", "https://u:p@chatgpt.com", lo, "", errURLUserInfo},
		{"user name only", "https://u@chatgpt.com", lo, "", errURLUserInfo},
		{"relative", "/api/accounts", lo, "", errURLNotAbsolute},
		{"no scheme", "chatgpt.com/api", lo, "", errURLNotAbsolute},
		{"no host", "https:///api", lo, "", errURLNotAbsolute},
		{"opaque", "https:chatgpt.com", lo, "", errURLNotAbsolute},
		{"javascript", "javascript:alert(1)", lo, "", errURLNotAbsolute},
		{"host with a sub-delimiter", "https://a!b.example", lo, "", errURLHost},
		{"empty port", "https://chatgpt.com:", lo, "", errURLPort},
		{"port 0", "https://chatgpt.com:0", lo, "", errURLPort},
		{"port too big", "https://chatgpt.com:99999", lo, "", errURLPort},
		{"empty segment", "https://chatgpt.com//x", lo, "", errURLSegment},
		{"dot segment", "https://chatgpt.com/./api", lo, "", errURLSegment},
		{"dot-dot segment", "https://chatgpt.com/a/../b", lo, "", errURLSegment},
		{"dot-dot at the end", "https://chatgpt.com/api/..", lo, "", errURLSegment},
		{"path character that needs escaping", `https://chatgpt.com/a"b`, lo, "", errURLPathEscape},
		{"sub-delimiter net/url would escape", "https://chatgpt.com/a!", lo, "", errURLPathEscape},
		{"brace", "https://chatgpt.com/a{b", lo, "", errURLPathEscape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := CheckURL(tt.raw, tt.rule)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Nil(t, u)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}

}

// TestCheckURLCombinations: under every combination of the parameters, a URL
// that uses everything the rule allows is accepted, and each thing the rule
// does not allow is refused with its error.
func TestCheckURLCombinations(t *testing.T) {
	for _, r := range urlRules() {
		host, want := "https://x.example:8443", ""
		if r.HTTPOnLoopback {
			host = "http://localhost:8080"
		}
		path := "/api"
		if r.Origin {
			path = ""
		}
		raw := host + path
		want = raw
		if r.TrimSlash {
			raw += "/"
		}
		if r.Endpoint {
			raw += "?v=1%2F#f"
			want += "?v=1%2F#f"
		}
		type refusal struct {
			name, raw string
			err       error
		}
		refused := []refusal{{"user info", strings.Replace(raw, "://", "://u@", 1), errURLUserInfo}}
		if r.HTTPOnLoopback {
			refused = append(refused, refusal{"http to a public host", "http://x.example" + path, errURLHTTPSLoopback})
		} else {
			refused = append(refused, refusal{"http to loopback", "http://localhost" + path, errURLHTTPSOnly})
		}
		if r.Canonical {
			refused = append(refused, refusal{"upper-case host", "https://X.example" + path, errURLDNSHost})
		} else {
			refused = append(refused, refusal{"bad host", "https://a!b.example" + path, errURLHost})
		}
		if r.Origin {
			refused = append(refused, refusal{"a path", host + "/api", errURLOrigin})
		} else {
			refused = append(refused, refusal{"dot-dot", host + "/api/..", errURLSegment})
		}
		if r.TrimSlash {
			refused = append(refused, refusal{"two trailing slashes", host + path + "//", errURLTrailingSlash})
		} else {
			refused = append(refused, refusal{"trailing slash", host + path + "/", errURLTrailingSlash})
		}
		if r.Endpoint {
			refused = append(refused, refusal{"percent in the path", host + "/a%41?x", errURLPercent})
		} else {
			refused = append(refused, refusal{"query", host + path + "?v=1", errURLQuery})
		}
		t.Run(fmt.Sprintf("%+v", r), func(t *testing.T) {
			u, err := CheckURL(raw, r)
			require.NoError(t, err, raw)
			assert.Equal(t, want, u.String())
			for _, f := range refused {
				_, err := CheckURL(f.raw, r)
				assert.ErrorIs(t, err, f.err, "%s: %s", f.name, f.raw)
			}
		})
	}
}

// TestCheckURLErrorsNeverQuoteTheURL: the errors are the fixed predicates,
// whatever the URL holds.
func TestCheckURLErrorsNeverQuoteTheURL(t *testing.T) {
	for _, raw := range []string{"https://u:hunter2@x.example", "https://x.example/?hunter2", "https://x.example/#hunter2", "http://hunter2.example"} {
		_, err := CheckURL(raw, URLRule{HTTPOnLoopback: true})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

// FuzzCheckURL holds CheckURL to its promises under every rule: it never
// panics; it refuses with one of its fixed errors; what it accepts is an
// absolute https URL (or loopback http where allowed) without user info,
// query or fragment, written back as given (but for the scheme's case and a
// dropped trailing '/'), to which joining a plain segment appends exactly
// that segment; and a URL a rule accepts, every looser rule accepts too.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://chatgpt.com/backend-api", "http://localhost:8080/api/codex/", "https://a/b/", "https://a?#", "http://[::1]",
		"HTTPS://X.example:0443/A", "https://u@x", "https://x:", "https://x/a/../b", "http://127.1", "https://x/%41", "https://x/a\"b",
		"https://auth.openai.com", "https://x.example//", "javascript:alert(1)", "https://[::1%25lo]/", "https://chatgpt.com.",
	} {
		f.Add(s)
	}
	rules := urlRules()
	f.Fuzz(func(t *testing.T, raw string) {
		got := make(map[URLRule]string, len(rules))
		for _, r := range rules {
			u, err := CheckURL(raw, r)
			if err != nil {
				if u != nil {
					t.Fatalf("CheckURL(%q, %+v) returned a URL with %v", raw, r, err)
				}
				known := false
				for _, e := range allURLErrors {
					known = known || err == e
				}
				if !known {
					t.Fatalf("CheckURL(%q, %+v): unknown error %v", raw, r, err)
				}
				continue
			}
			got[r] = u.String()
			checkAcceptedURL(t, raw, r, u)
		}
		for r, s := range got {
			for _, looser := range rules {
				if !(looser.HTTPOnLoopback || !r.HTTPOnLoopback) || (looser.Canonical && !r.Canonical) ||
					(looser.Origin && !r.Origin) || (r.TrimSlash && !looser.TrimSlash) || (r.Endpoint && !looser.Endpoint) {
					continue
				}
				if g, ok := got[looser]; !ok {
					t.Fatalf("CheckURL(%q): %+v accepts, the looser %+v refuses", raw, r, looser)
				} else if looser.TrimSlash == r.TrimSlash && looser.Canonical == r.Canonical && g != s {
					t.Fatalf("CheckURL(%q): %+v gives %q, %+v gives %q", raw, r, s, looser, g)
				}
			}
		}
	})
}

func checkAcceptedURL(t *testing.T, raw string, r URLRule, u *url.URL) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("CheckURL(%q, %+v) = %q: %s", raw, r, u, fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && r.HTTPOnLoopback && IsLoopbackHost(u.Hostname()):
	default:
		fail("scheme")
	}
	if u.User != nil || u.RawPath != "" || !IsASCIIHost(u.Host) {
		fail("user info, escaped path or host")
	}
	if !r.Endpoint && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "") {
		fail("query or fragment")
	}
	// Compare up to the query or fragment of an endpoint.
	want := raw
	if i := strings.IndexAny(want, "?#"); i >= 0 {
		want = want[:i]
	}
	if r.TrimSlash {
		want = strings.TrimSuffix(want, "/")
	}
	base := *u
	base.RawQuery, base.ForceQuery, base.Fragment, base.RawFragment = "", false, "", ""
	s := base.String()
	i := strings.Index(s, "://")
	if i < 0 || !ASCIIEqualFold(s[:i], want[:i]) || s[i:] != want[i:] {
		fail("not written back as given")
	}
	if r.Canonical && s != want {
		fail("not canonical")
	}
	if r.Origin && u.Path != "" {
		fail("an origin with a path")
	}
	if j := base.JoinPath("seg").String(); j != s+"/seg" {
		fail("joining a segment gives %q", j)
	}
	back, err := url.Parse(u.String())
	if err != nil || back.String() != u.String() {
		fail("does not parse back: %v", err)
	}
	if _, err := CheckURL(s, URLRule{HTTPOnLoopback: r.HTTPOnLoopback, Canonical: r.Canonical, Origin: r.Origin}); err != nil {
		fail("the result is refused: %v", err)
	}
}
