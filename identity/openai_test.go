package identity_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// setOpenAIBaseURL rewrites openai_base_url in the fixture's config.toml.
func setOpenAIBaseURL(t *testing.T, home, value string) {
	t.Helper()
	path := filepath.Join(home, "config.toml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^openai_base_url = .*$`)
	require.True(t, re.Match(data))
	data = re.ReplaceAll(data, []byte("openai_base_url = "+strconv.Quote(value)))
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// TestLoadOpenAIBaseURL: openai_base_url moves inference only when it passes
// the rule of chatgpt_base_url, in both modes; otherwise Load fails.
func TestLoadOpenAIBaseURL(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		openai  string // "" keeps identitytest's (the configured base + /codex)
		jwt     bool
		wantErr bool
		secret  string // must not appear in the error
	}{
		{"same origin, ChatGPT mode", "", false, false, ""},
		{"same origin, JWT mode", "", true, false, ""},
		{"same origin, trailing slash", f.srv.ChatGPTBaseURL + "/codex/", true, false, ""},
		{"another host", "https://evil.example/backend-api/codex", true, true, ""},
		{"another host, ChatGPT mode", "https://evil.example/backend-api/codex", false, true, ""},
		{"plain http off loopback", "http://chatgpt.com/backend-api/codex", true, true, ""},
		{"user info", "https://u:hunter2secret@127.0.0.1/backend-api/codex", true, true, "hunter2secret"},
		{"query", f.srv.ChatGPTBaseURL + "/codex?x=1", true, true, ""},
		{"another path", f.srv.ChatGPTBaseURL + "/v1", true, true, ""},
		{"not a URL", "chatgpt.com/backend-api/codex", true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			identity.ResetBootstrapCooldownForTest()
			f.home = t.TempDir()
			f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
			if tc.openai != "" {
				setOpenAIBaseURL(t, f.home, tc.openai)
			}
			extra := map[string]string{}
			p := identity.PolicyChatGPTAuth
			if tc.jwt {
				extra[identity.EnvAccessToken] = token.Reveal()
				p = identity.PolicyJWTOnly
			}
			ra, err := f.load(ctx, p, extra)
			if tc.wantErr {
				require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
				assert.Contains(t, err.Error(), "openai_base_url")
				if tc.secret != "" {
					assert.NotContains(t, err.Error(), tc.secret)
				}
				return
			}
			require.NoError(t, err)
			base, err := ra.InferenceBaseURL(ctx)
			require.NoError(t, err)
			assert.Equal(t, f.srv.ChatGPTBaseURL, base)
		})
	}
}

// TestLoadOpenAIBaseURLOtherOriginOfEnvironment: an openai_base_url on
// another origin of the same known environment gets AgentAssertion on
// inference and nothing else; InferenceBaseURL points there.
func TestLoadOpenAIBaseURLOtherOriginOfEnvironment(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login})
	setOpenAIBaseURL(t, f.home, "https://chat.openai.com/backend-api/codex")
	token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	// Production, with its AuthAPI and JWKS moved to the fake backend.
	ra, err := identity.Load(ctx, identity.LoadOptions{
		CodexHome: f.home, Policy: identity.PolicyJWTOnly, ChatGPTBaseURL: "https://chatgpt.com/backend-api",
		Getenv: f.getenv(map[string]string{identity.EnvAccessToken: token.Reveal()}),
	})
	require.NoError(t, err)
	base, err := ra.InferenceBaseURL(ctx)
	require.NoError(t, err)
	assert.Equal(t, "https://chat.openai.com/backend-api", base)
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"https://chat.openai.com/backend-api/codex/responses", "assertion"},
		{"https://chat.openai.com/backend-api/codex/responses/compact", "assertion"},
		{"https://chat.openai.com/backend-api/codex/models", "none"},
		{"https://chat.openai.com/backend-api/wham/settings/user", "none"},
		{"https://chatgpt.com/backend-api/codex/models", "assertion"},
		{"https://evil.example/backend-api/codex/responses", "none"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			h, err := ra.Header(ctx, tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.want, scheme(h.Values("Authorization")))
		})
	}
}
