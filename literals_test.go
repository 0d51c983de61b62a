package agentidentity

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pendingLiteralFiles are the non-test Go files (slash-separated, relative to
// the module root) that still spell out endpoint literals, tolerated by
// TestNoHandTypedEndpointLiterals. It fails for a file listed here that no
// longer holds one (or no longer exists), so the list only shrinks.
var pendingLiteralFiles = []string{
	// removed by the redesign of identity/; must end empty
}

// endpointValues are what counts as an endpoint literal: the hosts of every
// URL of endpoints.toml, and its issuer and audience values.
type endpointValues struct {
	hosts  map[string]bool
	values map[string]bool // issuers and audiences, compared whole
}

// loadEndpointValues reads endpoints.toml with the generator's own parser
// (loadTable), so that the hosts are never spelled out here.
func loadEndpointValues(t testing.TB) endpointValues {
	t.Helper()
	table := loadTable(t)
	v := endpointValues{hosts: map[string]bool{}, values: map[string]bool{}}
	addHost := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			v.hosts[strings.ToLower(u.Hostname())] = true
		}
	}
	addHost(table.LoginIssuer)
	for _, e := range table.Environments {
		for _, raw := range append([]string{e.ChatGPTBaseURL, e.AuthAPIBaseURL, e.JWKSURL, e.Issuer}, e.AcceptedBaseURLs...) {
			addHost(raw)
		}
		v.values[e.Issuer] = true
		v.values[e.Audience] = true
	}
	require.NotEmpty(t, v.hosts)
	return v
}

// isEndpointLiteral reports whether the string s names a host of the table
// as the host of a URL (scheme "://" host, in any case, with or without user
// info, port or trailing dot) or is one of its issuer or audience values.
// Route paths such as "/codex/responses" and other hosts do not count.
func (v endpointValues) isEndpointLiteral(s string) bool {
	if v.values[s] {
		return true
	}
	rest := strings.ToLower(s)
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			return false
		}
		rest = rest[i+len("://"):]
		end := strings.IndexFunc(rest, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~:@[]%", r))
		})
		authority := rest
		if end >= 0 {
			authority = rest[:end]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			authority = authority[at+1:]
		}
		host := authority
		if !strings.HasPrefix(host, "[") {
			host, _, _ = strings.Cut(host, ":")
		}
		if v.hosts[strings.TrimSuffix(host, ".")] {
			return true
		}
	}
}

func TestEndpointLiteralDetector(t *testing.T) {
	v := loadEndpointValues(t)
	for _, h := range []string{"chatgpt.com", "chat.openai.com", "chatgpt-staging.com", "auth.openai.com", "auth.api.openai.org"} {
		assert.True(t, v.hosts[h], "host %s of endpoints.toml", h)
	}
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"base URL", "https://chatgpt.com/backend-api", true},
		{"bare origin", "https://chatgpt.com", true},
		{"upper case", "HTTPS://ChatGPT.COM/codex", true},
		{"user info", "https://u:p@chat.openai.com", true},
		{"port", "https://chatgpt-staging.com:443/x", true},
		{"trailing dot", "https://auth.openai.com./api", true},
		{"inside a sentence", "see https://auth.api.openai.org/api/accounts.", true},
		{"second URL of a string", "http://localhost:1 or https://chatgpt.com", true},
		{"http", "http://chatgpt.com", true},
		{"issuer", ProductionIssuer, true},
		{"audience", ProductionAudience, true},
		{"login issuer", ChatGPTLoginIssuer, true},
		{"route path", "/codex/responses", false},
		{"wham path", "/wham/agent-identities/jwks", false},
		{"other host", "https://api.openai.com/auth", false},
		{"look-alike host", "https://chatgpt.com.evil.com/backend-api", false},
		{"host prefix", "https://xchatgpt.com", false},
		{"host without a scheme", "chatgpt.com", false},
		{"audience inside a sentence", "audience codex-app-server", false},
		{"format string", "https://%s/backend-api", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, v.isEndpointLiteral(tt.s), "%q", tt.s)
		})
	}
}

// TestNoHandTypedEndpointLiterals parses every non-test Go file of the module
// (except the generated urlmap_gen.go and testdata folders) and fails for
// every string literal that spells out an endpoint of endpoints.toml: Go code
// takes them from the generated constants or from an Environment. Comments
// do not count. Files of pendingLiteralFiles are tolerated until they are
// fixed.
func TestNoHandTypedEndpointLiterals(t *testing.T) {
	v := loadEndpointValues(t)
	found := map[string][]string{} // file -> "line: literal"
	parsed := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == ".git" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		path = filepath.ToSlash(path)
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == "urlmap_gen.go" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		parsed++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: cannot unquote %s: %v", fset.Position(lit.Pos()), lit.Value, err)
				return true
			}
			if v.isEndpointLiteral(s) {
				found[path] = append(found[path], strconv.Itoa(fset.Position(lit.Pos()).Line)+": "+lit.Value)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, parsed, 10, "the walk must reach the module's files")

	var files []string
	for f := range found {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		if slices.Contains(pendingLiteralFiles, f) {
			continue
		}
		for _, l := range found[f] {
			t.Errorf("%s:%s: hand-typed endpoint literal; use the generated constants of urlmap_gen.go (or an Environment) instead", f, l)
		}
	}
	for _, f := range pendingLiteralFiles {
		if len(found[f]) == 0 {
			t.Errorf("%s holds no endpoint literal any more: remove it from pendingLiteralFiles", f)
		}
	}
}
