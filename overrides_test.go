package agentidentity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverridesFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Overrides
	}{
		{"unset", nil, Overrides{}},
		{"both", map[string]string{
			envAuthAPIBaseURL: "https://auth.example.com/api/accounts",
			envJWKSBaseURL:    "https://gw.example.com/backend-api",
		}, Overrides{"https://auth.example.com/api/accounts", "https://gw.example.com/backend-api"}},
		{"trimmed", map[string]string{
			envAuthAPIBaseURL: "  https://auth.example.com/api/accounts/ \n",
			envJWKSBaseURL:    "\thttp://localhost:8080/api/codex///",
		}, Overrides{"https://auth.example.com/api/accounts", "http://localhost:8080/api/codex"}},
		{"blank is unset", map[string]string{envAuthAPIBaseURL: "   ", envJWKSBaseURL: "/"}, Overrides{}},
		{"other variables ignored", map[string]string{"CODEX_AGENT_IDENTITY": "x"}, Overrides{}},
		{"newer name alone", map[string]string{envAuthAPIBaseURLNew: "https://new.example.com/api/accounts/"},
			Overrides{AuthAPIBaseURL: "https://new.example.com/api/accounts"}},
		{"older name alone", map[string]string{envAuthAPIBaseURL: "https://old.example.com/api/accounts"},
			Overrides{AuthAPIBaseURL: "https://old.example.com/api/accounts"}},
		{"newer name wins when both are set", map[string]string{
			envAuthAPIBaseURLNew: "https://new.example.com/api/accounts",
			envAuthAPIBaseURL:    "https://old.example.com/api/accounts",
		}, Overrides{AuthAPIBaseURL: "https://new.example.com/api/accounts"}},
		{"blank newer name falls back to the older", map[string]string{
			envAuthAPIBaseURLNew: "  /",
			envAuthAPIBaseURL:    "https://old.example.com/api/accounts",
		}, Overrides{AuthAPIBaseURL: "https://old.example.com/api/accounts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OverridesFromEnv(func(k string) string { return tt.env[k] })
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestOverridesFromProcessEnv(t *testing.T) {
	t.Setenv(envAuthAPIBaseURL, " https://auth.example.com/ ")
	t.Setenv(envJWKSBaseURL, "")
	assert.Equal(t, Overrides{AuthAPIBaseURL: "https://auth.example.com"}, OverridesFromEnv(nil))

	env, err := ResolveFromEnv("https://chatgpt.com")
	require.NoError(t, err)
	want := production
	want.AuthAPIBaseURL = "https://auth.example.com"
	assert.Equal(t, want, env)
}

func TestResolveWithOverrides(t *testing.T) {
	withAuth := production
	withAuth.AuthAPIBaseURL = "https://auth.example.com/api/accounts"
	withJWKS := staging
	withJWKS.JWKSURL = "https://keys.example.com/agent-identities/jwks"
	withBoth := production
	withBoth.AuthAPIBaseURL = "http://127.0.0.1:9000/api/accounts"
	withBoth.JWKSURL = "http://[::1]:9001/backend-api/wham/agent-identities/jwks"

	custom := func(base, auth, jwks string) Environment {
		return Environment{
			Name:           customEnvironmentName,
			ChatGPTBaseURL: base,
			AuthAPIBaseURL: auth,
			JWKSURL:        jwks,
			Issuer:         production.Issuer,
			Audience:       production.Audience,
		}
	}
	tests := []struct {
		name string
		base string
		o    Overrides
		want Environment
	}{
		{"no overrides", "https://chatgpt.com/codex", Overrides{}, production},
		{"authapi override", "https://chat.openai.com", Overrides{AuthAPIBaseURL: "https://auth.example.com/api/accounts"}, withAuth},
		{"authapi override trimmed", "https://chatgpt.com", Overrides{AuthAPIBaseURL: " https://auth.example.com/api/accounts// "}, withAuth},
		{"jwks override", "https://chatgpt-staging.com", Overrides{JWKSBaseURL: "https://keys.example.com"}, withJWKS},
		{"both overrides on loopback", DefaultChatGPTBaseURL, Overrides{
			AuthAPIBaseURL: "http://127.0.0.1:9000/api/accounts",
			JWKSBaseURL:    "http://[::1]:9001/backend-api",
		}, withBoth},
		{"custom local dev server", "http://localhost:8080/api/codex", Overrides{
			AuthAPIBaseURL: "http://localhost:8081/api/accounts",
			JWKSBaseURL:    "http://localhost:8080/api/codex",
		}, custom("http://localhost:8080/api/codex", "http://localhost:8081/api/accounts", "http://localhost:8080/api/codex/agent-identities/jwks")},
		{"custom with trailing slashes", "https://gw.example.com/backend-api/", Overrides{
			AuthAPIBaseURL: "https://gw.example.com/api/accounts",
			JWKSBaseURL:    "https://gw.example.com/backend-api//",
		}, custom("https://gw.example.com/backend-api", "https://gw.example.com/api/accounts", "https://gw.example.com/backend-api/wham/agent-identities/jwks")},
		{"custom on 127.0.0.0/8", "http://127.1.2.3:8080", Overrides{
			AuthAPIBaseURL: "http://127.1.2.3:8080/auth",
			JWKSBaseURL:    "http://127.1.2.3:8080",
		}, custom("http://127.1.2.3:8080", "http://127.1.2.3:8080/auth", "http://127.1.2.3:8080/agent-identities/jwks")},
		{"trimmed known base with both overrides is still known", "https://chatgpt.com//", Overrides{
			AuthAPIBaseURL: "https://auth.example.com/api/accounts",
			JWKSBaseURL:    "https://chatgpt.com",
		}, Environment{
			Name: "production", ChatGPTBaseURL: production.ChatGPTBaseURL,
			AuthAPIBaseURL: "https://auth.example.com/api/accounts",
			JWKSURL:        "https://chatgpt.com/agent-identities/jwks",
			Issuer:         production.Issuer, Audience: production.Audience,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveWithOverrides(tt.base, tt.o)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolveWithOverridesRefused(t *testing.T) {
	const (
		unknown = "unknown"
		invalid = "invalid"
	)
	okAuth := "https://auth.example.com/api/accounts"
	tests := []struct {
		name string
		base string
		o    Overrides
		want string
	}{
		{"unknown without overrides", "https://gw.example.com", Overrides{}, unknown},
		{"unknown with authapi only", "https://gw.example.com", Overrides{AuthAPIBaseURL: okAuth}, unknown},
		{"unknown with jwks only", "https://gw.example.com", Overrides{JWKSBaseURL: "https://gw.example.com"}, unknown},
		{"jwks differs from base", "https://gw.example.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "https://keys.example.com"}, unknown},
		{"jwks differs in case", "https://gw.example.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "https://GW.example.com"}, unknown},
		{"custom plain http", "http://gw.example.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://gw.example.com"}, invalid},
		{"custom localhost user info trick", "http://localhost@evil.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://localhost@evil.com"}, invalid},
		{"custom localhost suffix", "http://localhost.evil.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://localhost.evil.com"}, invalid},
		{"custom short ipv4", "http://127.1", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://127.1"}, invalid},
		{"custom mapped ipv4", "http://[::ffff:127.0.0.1]", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://[::ffff:127.0.0.1]"}, invalid},
		{"custom ipv6 zone", "http://[::1%25lo]", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "http://[::1%25lo]"}, invalid},
		{"custom with query", "https://gw.example.com/?a=1", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "https://gw.example.com/?a=1"}, invalid},
		{"custom with fragment", "https://gw.example.com#x", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "https://gw.example.com#x"}, invalid},
		{"custom with dot-dot", "https://gw.example.com/a/../b", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "https://gw.example.com/a/../b"}, invalid},
		{"custom other scheme", "ftp://gw.example.com", Overrides{AuthAPIBaseURL: okAuth, JWKSBaseURL: "ftp://gw.example.com"}, invalid},
		{"authapi plain http", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "http://auth.example.com"}, invalid},
		{"authapi user info", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://u:p@auth.example.com"}, invalid},
		{"authapi query", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com/?x"}, invalid},
		{"authapi empty query", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com?"}, invalid},
		{"authapi empty fragment", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com#"}, invalid},
		{"authapi relative", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "/api/accounts"}, invalid},
		{"authapi space inside", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com/a b"}, invalid},
		{"authapi bad port", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com:99999"}, invalid},
		{"authapi empty port", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com:"}, invalid},
		{"authapi percent", "https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://auth.example.com/%2e%2e"}, invalid},
		{"jwks plain http", "https://chatgpt.com", Overrides{JWKSBaseURL: "http://keys.example.com"}, invalid},
		{"jwks empty segment", "https://chatgpt.com", Overrides{JWKSBaseURL: "https://keys.example.com//x"}, invalid},
		{"jwks backslash", "https://chatgpt.com", Overrides{JWKSBaseURL: `https://keys.example.com\x`}, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveWithOverrides(tt.base, tt.o)
			require.Error(t, err)
			assert.Equal(t, Environment{}, got)
			assert.True(t, strings.HasPrefix(err.Error(), "agentidentity: "), err.Error())
			switch tt.want {
			case unknown:
				assert.ErrorIs(t, err, ErrUnknownEnvironment)
				assert.NotErrorIs(t, err, ErrInvalidBaseURL)
			case invalid:
				assert.ErrorIs(t, err, ErrInvalidBaseURL)
				assert.NotErrorIs(t, err, ErrUnknownEnvironment)
			}
		})
	}
}

func TestResolveWithOverridesErrorsHideSecrets(t *testing.T) {
	_, err := ResolveWithOverrides("https://chatgpt.com", Overrides{AuthAPIBaseURL: "https://user:hunter2@auth.example.com"})
	require.ErrorIs(t, err, ErrInvalidBaseURL)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), envAuthAPIBaseURL)

	_, err = ResolveWithOverrides("https://gw.example.com/?token=hunter2", Overrides{
		AuthAPIBaseURL: "https://auth.example.com",
		JWKSBaseURL:    "https://gw.example.com/?token=hunter2",
	})
	require.ErrorIs(t, err, ErrInvalidBaseURL)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestJWKSURL(t *testing.T) {
	tests := []struct {
		name string
		base string
		want string
	}{
		{"production canonical", "https://chatgpt.com/backend-api", "https://chatgpt.com/backend-api/wham/agent-identities/jwks"},
		{"production trailing slash", "https://chatgpt.com/backend-api/", "https://chatgpt.com/backend-api/wham/agent-identities/jwks"},
		{"backend-api codex", "https://chatgpt.com/backend-api/codex", "https://chatgpt.com/backend-api/codex/wham/agent-identities/jwks"},
		{"bare host", "https://chatgpt.com", "https://chatgpt.com/agent-identities/jwks"},
		{"codex", "https://chatgpt.com/codex", "https://chatgpt.com/codex/agent-identities/jwks"},
		{"spec local dev server", "http://localhost:8080/api/codex", "http://localhost:8080/api/codex/agent-identities/jwks"},
		{"ipv6 loopback", "http://[::1]:8080", "http://[::1]:8080/agent-identities/jwks"},
		{"backend-api inside a segment", "https://gw.example.com/x/backend-apis", "https://gw.example.com/x/backend-apis/wham/agent-identities/jwks"},
		{"several trailing slashes", "https://gw.example.com///", "https://gw.example.com/agent-identities/jwks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JWKSURL(tt.base)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJWKSURLRefused(t *testing.T) {
	tests := []struct {
		name string
		base string
	}{
		{"empty", ""},
		{"slash only", "/"},
		{"relative", "backend-api"},
		{"query", "https://chatgpt.com/backend-api?x=1"},
		{"empty query", "https://chatgpt.com/backend-api?"},
		{"fragment", "https://chatgpt.com/backend-api#x"},
		{"empty fragment", "https://chatgpt.com/backend-api#"},
		{"user info", "https://u@chatgpt.com/backend-api"},
		{"other scheme", "ftp://chatgpt.com/backend-api"},
		{"no host", "https:///backend-api"},
		{"plain http remote", "http://chatgpt.com/backend-api"},
		{"dot-dot", "https://chatgpt.com/backend-api/.."},
		{"percent", "https://chatgpt.com/backend%2Dapi"},
		{"space", "https://chatgpt.com/backend api"},
		{"leading space", " https://chatgpt.com"},
		{"control", "https://chatgpt.com/\x00"},
		{"too long", "https://chatgpt.com/" + strings.Repeat("a", 3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JWKSURL(tt.base)
			assert.ErrorIs(t, err, ErrInvalidBaseURL)
			assert.Empty(t, got)
		})
	}
}

func TestJWKSURLMatchesTable(t *testing.T) {
	for _, env := range Environments() {
		got, err := JWKSURL(env.ChatGPTBaseURL)
		require.NoError(t, err)
		assert.Equal(t, env.JWKSURL, got, env.Name)
	}
}
