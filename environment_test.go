package agentidentity

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/gen"
)

var production = Environment{
	Name:           "production",
	ChatGPTBaseURL: "https://chatgpt.com/backend-api",
	AuthAPIBaseURL: "https://auth.openai.com/api/accounts",
	JWKSURL:        "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
	Issuer:         "https://chatgpt.com/codex-backend/agent-identity",
	Audience:       "codex-app-server",
}

var staging = Environment{
	Name:           "staging",
	ChatGPTBaseURL: "https://chatgpt-staging.com/backend-api",
	AuthAPIBaseURL: "https://auth.api.openai.org/api/accounts",
	JWKSURL:        "https://chatgpt-staging.com/backend-api/wham/agent-identities/jwks",
	Issuer:         "https://chatgpt.com/codex-backend/agent-identity",
	Audience:       "codex-app-server",
}

func TestResolveAccepted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Environment
	}{
		{"default", DefaultChatGPTBaseURL, production},
		{"bare host", "https://chatgpt.com", production},
		{"bare host with slash", "https://chatgpt.com/", production},
		{"codex", "https://chatgpt.com/codex", production},
		{"backend-api codex", "https://chatgpt.com/backend-api/codex", production},
		{"old host", "https://chat.openai.com", production},
		{"old host backend-api", "https://chat.openai.com/backend-api/", production},
		{"old host codex", "https://chat.openai.com/codex", production},
		{"old host backend-api codex", "https://chat.openai.com/backend-api/codex", production},
		{"upper-case scheme and host", "HTTPS://CHATGPT.COM/backend-api", production},
		{"mixed-case host", "https://ChatGPT.com/codex", production},
		{"explicit 443 and one slash", "https://chatgpt.com:443/codex/", production},
		{"explicit 443 bare", "https://chatgpt.com:443", production},
		{"staging bare", "https://chatgpt-staging.com", staging},
		{"staging backend-api", "https://chatgpt-staging.com/backend-api", staging},
		{"staging codex slash", "https://chatgpt-staging.com/codex/", staging},
		{"staging backend-api codex 443", "https://chatgpt-staging.com:443/backend-api/codex", staging},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolveRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"scheme only", "https://"},
		{"http", "http://chatgpt.com"},
		{"http backend-api", "http://chatgpt.com/backend-api"},
		{"suffix host", "https://chatgpt.com.evil.com"},
		{"user info", "https://chatgpt.com@evil.com"},
		{"empty user info", "https://@chatgpt.com"},
		{"fragment with at", "https://evil.com/#@chatgpt.com"},
		{"query", "https://chatgpt.com/backend-api?x=1"},
		{"empty query", "https://chatgpt.com/backend-api?"},
		{"empty query on host", "https://chatgpt.com?"},
		{"empty fragment", "https://chatgpt.com/backend-api#"},
		{"empty fragment on host", "https://chatgpt.com#"},
		{"dot-dot segment", "https://chatgpt.com/../backend-api"},
		{"dot segment", "https://chatgpt.com/./backend-api"},
		{"api codex", "https://chatgpt.com/api/codex"},
		{"trailing dot host", "https://chatgpt.com./backend-api"},
		{"leading space", " https://chatgpt.com"},
		{"trailing space", "https://chatgpt.com "},
		{"trailing newline", "https://chatgpt.com\n"},
		{"tab inside", "https://chatgpt.com/\tbackend-api"},
		{"port 0443", "https://chatgpt.com:0443"},
		{"port 8443", "https://chatgpt.com:8443"},
		{"empty port", "https://chatgpt.com:/backend-api"},
		{"two trailing slashes", "https://chatgpt.com/backend-api//"},
		{"two slashes on host", "https://chatgpt.com//"},
		{"upper-case path", "https://chatgpt.com/BACKEND-API"},
		{"percent-encoded path", "https://chatgpt.com/backend%2Dapi"},
		{"remote control server", "https://chatgpt.com/backend-api/wham/remote/control/server"},
		{"remote control enroll", "https://chatgpt.com/backend-api/wham/remote/control/server/enroll"},
		{"remote control bare host", "https://chatgpt.com/wham/remote/control/server"},
		{"loopback http", "http://localhost:8080/api/codex"},
		{"localhost user info trick", "http://localhost@evil.com"},
		{"no scheme", "chatgpt.com/backend-api"},
		{"scheme relative", "//chatgpt.com/backend-api"},
		{"other scheme", "wss://chatgpt.com/backend-api"},
		{"backslash", `https://chatgpt.com\backend-api`},
		{"ipv6 literal", "https://[::1]/backend-api"},
		{"staging typo", "https://chatgpt-staging.co/backend-api"},
		{"unicode host", "https://chatgpt.cοm"}, // Greek omicron
		{"long", "https://chatgpt.com/" + strings.Repeat("a", 500)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnknownEnvironment)
			assert.Contains(t, err.Error(), "Agent Identity only supports production and staging ChatGPT environments")
			assert.True(t, strings.HasPrefix(err.Error(), "agentidentity: "), err.Error())
			assert.Equal(t, Environment{}, got)
		})
	}
}

func TestErrUnknownEnvironmentText(t *testing.T) {
	assert.Equal(t, "Agent Identity only supports production and staging ChatGPT environments", ErrUnknownEnvironment.Error())
}

func TestResolveErrorHidesSecrets(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		secret string
	}{
		{"password in user info", "https://user:hunter2@chatgpt.com/backend-api", "hunter2"},
		{"token as user", "https://sk-secret-token@chatgpt.com", "sk-secret-token"},
		{"token in query", "https://chatgpt.com/backend-api?access_token=eyJsecret", "eyJsecret"},
		{"token in fragment", "https://chatgpt.com/#token=eyJsecret", "eyJsecret"},
		{"unparsable with at", "https://a b@chatgpt.com:x/?eyJsecret", "eyJsecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tt.in)
			require.ErrorIs(t, err, ErrUnknownEnvironment)
			assert.NotContains(t, err.Error(), tt.secret)
		})
	}
}

func TestResolveErrorTruncatesLongInput(t *testing.T) {
	_, err := Resolve("https://evil.com/" + strings.Repeat("é", 1000))
	require.ErrorIs(t, err, ErrUnknownEnvironment)
	assert.Less(t, len(err.Error()), 400)
	assert.Contains(t, err.Error(), "2017 bytes")
}

func TestResolveErrorForHugeInput(t *testing.T) {
	_, err := Resolve("https://u:hunter2@evil.com/" + strings.Repeat("a", 10000))
	require.ErrorIs(t, err, ErrUnknownEnvironment)
	assert.Contains(t, err.Error(), "(URL of 10027 bytes)")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestEnvironments(t *testing.T) {
	got := Environments()
	assert.Equal(t, []Environment{production, staging}, got)

	got[0].Name = "changed"
	assert.Equal(t, "production", Environments()[0].Name, "Environments must return a fresh slice")
	for i := 1; i < len(got); i++ {
		assert.Less(t, got[i-1].Name, got[i].Name, "sorted by name")
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		name string
		base string
		want string
	}{
		{"production", production.ChatGPTBaseURL, "https://chatgpt.com"},
		{"staging", staging.ChatGPTBaseURL, "https://chatgpt-staging.com"},
		{"custom loopback with port", "http://localhost:8080/api/codex", "http://localhost:8080"},
		{"upper case and default https port", "HTTPS://GW.Example.COM:443/api", "https://gw.example.com"},
		{"default http port", "http://127.0.0.1:80/x", "http://127.0.0.1"},
		{"ipv6 loopback", "http://[::1]:9000", "http://[::1]:9000"},
		{"zero value", "", ""},
		{"relative", "/backend-api", ""},
		{"other scheme", "ftp://chatgpt.com", ""},
		{"user info", "https://u:p@chatgpt.com", ""},
		{"unparsable", "https://chatgpt.com:x:y/", ""},
		// The origin rule package identity applies (netrule.CheckOrigin):
		// no credentials in clear text, no host that folds into another.
		{"http not loopback", "http://chatgpt.com/backend-api", ""},
		{"kelvin sign", "https://\u212aey.example/api", ""},
		{"query", "https://chatgpt.com/backend-api?x=1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Environment{ChatGPTBaseURL: tt.base}.Origin())
		})
	}
}

// loadTable parses the repository's endpoints.toml with the generator's own
// parser.
func loadTable(t testing.TB) *gen.Table {
	t.Helper()
	data, err := os.ReadFile("endpoints.toml")
	require.NoError(t, err)
	table, err := gen.Parse("endpoints.toml", data)
	require.NoError(t, err)
	return table
}

func TestGeneratedFileIsFresh(t *testing.T) {
	want, err := gen.Generate(loadTable(t))
	require.NoError(t, err)
	have, err := os.ReadFile("urlmap_gen.go")
	require.NoError(t, err)
	if string(have) != string(want) {
		t.Fatal("urlmap_gen.go is stale: it does not match endpoints.toml; run go generate ./... and commit")
	}
}

// acceptedVariants returns every spelling of an accepted table URL that
// Resolve must accept: case changes in scheme and host, ":443", one '/'.
func acceptedVariants(raw string) []string {
	rest := strings.TrimPrefix(raw, "https://")
	host, path, _ := strings.Cut(rest, "/")
	if path != "" {
		path = "/" + path
	}
	var out []string
	for _, scheme := range []string{"https://", "HTTPS://", "Https://"} {
		for _, h := range []string{host, strings.ToUpper(host), strings.ToUpper(host[:1]) + host[1:]} {
			for _, port := range []string{"", ":443"} {
				for _, slash := range []string{"", "/"} {
					out = append(out, scheme+h+port+path+slash)
				}
			}
		}
	}
	return out
}

// refusedVariants returns near misses of an accepted table URL.
func refusedVariants(raw string) []string {
	rest := strings.TrimPrefix(raw, "https://")
	host, path, _ := strings.Cut(rest, "/")
	if path != "" {
		path = "/" + path
	}
	out := []string{
		"http://" + rest,
		"https://" + rest + "//",
		"https://" + rest + "?",
		"https://" + rest + "#",
		"https://" + rest + "/?",
		"https://" + rest + "/#",
		" https://" + rest,
		"https://" + rest + " ",
		"https://" + host + "." + path,
		"https://" + host + ":0443" + path,
		"https://" + host + ":" + path,
		"https://@" + rest,
		"https://" + host + "/." + path,
		"https://" + rest + "/..",
		"https://" + rest + "/wham/remote/control/server",
		"https://" + rest + "/wham/remote/control/server/enroll",
		"https://" + host + ".evil.com" + path,
		"https://" + rest + "@evil.com",
	}
	if path != "" {
		out = append(out, "https://"+host+strings.ToUpper(path))
	}
	return out
}

func TestResolveMatchesEndpointsTOML(t *testing.T) {
	table := loadTable(t)
	var names []string
	for _, te := range table.Environments {
		names = append(names, te.Name)
		want := Environment{
			Name:           te.Name,
			ChatGPTBaseURL: te.ChatGPTBaseURL,
			AuthAPIBaseURL: te.AuthAPIBaseURL,
			JWKSURL:        te.JWKSURL,
			Issuer:         te.Issuer,
			Audience:       te.Audience,
		}
		assert.Contains(t, Environments(), want, "Environments must hold %s", te.Name)
		for _, raw := range te.AcceptedBaseURLs {
			for _, in := range acceptedVariants(raw) {
				got, err := Resolve(in)
				if assert.NoError(t, err, "input %q", in) {
					assert.Equal(t, want, got, "input %q", in)
				}
			}
			for _, in := range refusedVariants(raw) {
				_, err := Resolve(in)
				assert.ErrorIs(t, err, ErrUnknownEnvironment, "input %q", in)
			}
		}
	}
	assert.Len(t, Environments(), len(table.Environments))
	assert.Equal(t, []string{"production", "staging"}, names)
}

// TestProductionConstantsMatchEndpointsTOML checks the generated constants
// against the production table of endpoints.toml, read directly.
func TestProductionConstantsMatchEndpointsTOML(t *testing.T) {
	table := loadTable(t)
	var prod gen.Environment
	for _, te := range table.Environments {
		if te.Name == "production" {
			prod = te
		}
	}
	require.Equal(t, "production", prod.Name)
	assert.Equal(t, prod.ChatGPTBaseURL, DefaultChatGPTBaseURL)
	assert.Equal(t, prod.AuthAPIBaseURL, ProductionAuthAPIBaseURL)
	assert.Equal(t, prod.JWKSURL, ProductionJWKSURL)
	assert.Equal(t, prod.Issuer, ProductionIssuer)
	assert.Equal(t, prod.Audience, ProductionAudience)
	assert.Equal(t, table.LoginIssuer, ChatGPTLoginIssuer)

	env, err := Resolve(DefaultChatGPTBaseURL)
	require.NoError(t, err)
	assert.Equal(t, "production", env.Name)
	assert.Equal(t, env.Origin(), ProductionOrigin)
	jwks, err := JWKSURL(DefaultChatGPTBaseURL)
	require.NoError(t, err)
	assert.Equal(t, jwks, ProductionJWKSURL)
}

func TestResolveDoesNotAllocate(t *testing.T) {
	inputs := allAcceptedInputs(t)
	allocs := testing.AllocsPerRun(10, func() {
		for _, in := range inputs {
			if _, err := Resolve(in); err != nil {
				panic(err)
			}
		}
	})
	assert.Zero(t, allocs)
}

// allAcceptedInputs returns every accepted spelling of every table URL.
func allAcceptedInputs(t testing.TB) []string {
	var inputs []string
	for _, te := range loadTable(t).Environments {
		for _, raw := range te.AcceptedBaseURLs {
			inputs = append(inputs, acceptedVariants(raw)...)
		}
	}
	return inputs
}

// naiveResolve is an independent, slow reference for Resolve built straight
// from endpoints.toml: lower-case the scheme and host (ASCII only), drop one
// ":443" and one trailing '/', and look the result up in the table's list.
func naiveResolve(table *gen.Table, in string) (Environment, bool) {
	const scheme = "https://"
	if len(in) < len(scheme) || !strings.EqualFold(in[:len(scheme)], scheme) {
		return Environment{}, false
	}
	rest := in[len(scheme):]
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	host = strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, host)
	key := scheme + strings.TrimSuffix(host, ":443") + strings.TrimSuffix(path, "/")
	for _, te := range table.Environments {
		for _, raw := range te.AcceptedBaseURLs {
			if raw == key {
				return Environment{te.Name, te.ChatGPTBaseURL, te.AuthAPIBaseURL, te.JWKSURL, te.Issuer, te.Audience}, true
			}
		}
	}
	return Environment{}, false
}

func TestResolveAgreesWithNaiveReference(t *testing.T) {
	// Every one-byte change, insertion and deletion of every accepted
	// spelling: Resolve and the naive reference must agree on each.
	table := loadTable(t)
	check := func(in string) {
		want, wantOK := naiveResolve(table, in)
		got, err := Resolve(in)
		switch {
		case wantOK && (err != nil || got != want):
			t.Errorf("Resolve(%q) = %+v, %v; want %+v", in, got, err, want)
		case !wantOK && !errors.Is(err, ErrUnknownEnvironment):
			t.Errorf("Resolve(%q) = %+v, %v; want ErrUnknownEnvironment", in, got, err)
		}
	}
	alphabet := []byte{'a', 'A', 'x', '0', '4', '3', '.', '/', ':', '-', '@', '?', '#', '%', ' ', '\\', 0, 0x80}
	var inputs []string
	for _, te := range table.Environments {
		for _, raw := range te.AcceptedBaseURLs {
			// https and HTTPS, host as written, with and without ":443"
			// and '/': enough to put every byte class at every position.
			for i, in := range acceptedVariants(raw) {
				if i < 4 || (i >= 12 && i < 16) {
					inputs = append(inputs, in)
				}
			}
		}
	}
	for _, in := range inputs {
		check(in)
		for i := 0; i <= len(in); i++ {
			if i < len(in) {
				check(in[:i] + in[i+1:])
			}
			for _, c := range alphabet {
				check(in[:i] + string(c) + in[i:])
				if i < len(in) {
					check(in[:i] + string(c) + in[i+1:])
				}
			}
		}
	}
}
