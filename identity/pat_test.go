package identity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// bearerFixture is a fake backend that records its requests and an empty
// $CODEX_HOME, for the sources that need no agent.
type bearerFixture struct {
	srv  *identitytest.Server
	log  *fakeLog
	home string
}

func newBearerFixture(t *testing.T, o identitytest.Options) *bearerFixture {
	t.Helper()
	identity.ResetBootstrapCooldownForTest()
	f := &bearerFixture{log: &fakeLog{}, home: t.TempDir()}
	o.OnRequest = f.log.add
	if o.SigningKey == nil {
		key, err := jwttest.LoadKey(jwttest.KeyA) // a static key: no key generation in tests
		require.NoError(t, err)
		o.SigningKey = key
	}
	f.srv = identitytest.NewUnstartedServer(o)
	require.NoError(t, f.srv.Start())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *bearerFixture) load(ctx context.Context, env map[string]string) (*identity.RunAuth, error) {
	return identity.Load(ctx, identity.LoadOptions{CodexHome: f.home, ChatGPTBaseURL: f.srv.ChatGPTBaseURL,
		Getenv: f.srv.Getenv(func(k string) string { return env[k] })})
}

// requests returns the recorded requests to path.
func (f *bearerFixture) requests(path string) []identitytest.Exchange {
	var out []identitytest.Exchange
	for _, e := range f.log.all() {
		if e.Path == path {
			out = append(out, e)
		}
	}
	return out
}

// exercise sends what a Codex turn sends through ra (the config bundle,
// models, settings, then inference at the base InferenceBaseURL names,
// which makes routing discovery first) and checks that the fake accepted
// each with the Bearer token tok and the account's headers.
func (f *bearerFixture) exercise(t *testing.T, ra *identity.RunAuth, tok string, acct codexhome.Account) {
	t.Helper()
	ctx := context.Background()
	c := ra.Client()
	for _, p := range []string{"/wham/config/bundle", "/codex/models?client_version=0.171.0", "/wham/settings/user"} {
		resp, err := c.Get(f.srv.ChatGPTBaseURL + p)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %v", p, f.log.all())
	}
	base, err := ra.InferenceBaseURL(ctx)
	require.NoError(t, err)
	code, _ := postJSON(t, c, base+"/codex/responses", []byte(`{"input":"hi"}`))
	require.Equal(t, http.StatusOK, code)
	h, err := ra.Header(ctx, f.srv.ChatGPTBaseURL+"/codex/responses")
	require.NoError(t, err)
	assert.Equal(t, "Bearer "+tok, h.Get("Authorization"), "inference gets the Bearer token, never AgentAssertion")
	assert.Equal(t, acct.AccountID, h.Get("ChatGPT-Account-ID"))
	if acct.FedRAMP {
		assert.Equal(t, "true", h.Get("X-OpenAI-Fedramp"))
	} else {
		assert.Empty(t, h.Values("X-OpenAI-Fedramp"))
	}
	for _, p := range []string{"/wham/agent-identities/jwks", "/ps/mcp"} {
		h, err := ra.Header(ctx, f.srv.ChatGPTBaseURL+p)
		require.NoError(t, err)
		assert.Empty(t, h, "no credential on %s", p)
	}
	h, err = ra.Header(ctx, "https://example.com/backend-api/codex/responses")
	require.NoError(t, err)
	assert.Empty(t, h, "no credential for another origin")
	assert.Len(t, f.requests("/backend-api/wham/accounts/check"), 1, "routing discovery is made, once")
	for _, e := range f.log.all() {
		if strings.HasPrefix(e.Path, "/backend-api/") {
			assert.Equal(t, "Bearer", e.Scheme, e.Path)
			assert.Equal(t, "verified", e.Verdict, e.Path)
		}
	}
}

func TestLoadPersonalAccessToken(t *testing.T) {
	tests := []struct {
		name    string
		account codexhome.Account
		// home writes $CODEX_HOME and returns the variables of the run.
		home func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string
	}{
		{"in the environment", codexhome.Account{Email: "pat@example.com", PlanType: "enterprise"},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				return map[string]string{identity.EnvAccessToken: " " + pat.Reveal() + "\n"}
			}},
		{"FedRAMP, in the environment", codexhome.Account{FedRAMP: true},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				return map[string]string{identity.EnvAccessToken: pat.Reveal()}
			}},
		{"in auth.json, as codex login --with-access-token writes it", codexhome.Account{},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{PersonalAccessToken: pat, UseAgentIdentity: true}))
				return nil
			}},
		{"in the environment, over another token in auth.json", codexhome.Account{},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				other, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{PersonalAccessToken: other}))
				return map[string]string{identity.EnvAccessToken: pat.Reveal()}
			}},
		{"in the environment, over an expired ChatGPT login with the opt-in", codexhome.Account{},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Hour})
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
				return map[string]string{identity.EnvAccessToken: pat.Reveal(), identity.EnvRefreshTokenURLOverride: f.srv.RefreshTokenURL}
			}},
		{"in auth.json beside a ChatGPT login, opt-in on", codexhome.Account{},
			func(t *testing.T, f *bearerFixture, pat codexhome.Secret) map[string]string {
				login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{TTL: -time.Hour})
				require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, PersonalAccessToken: pat, UseAgentIdentity: true}))
				return map[string]string{identity.EnvRefreshTokenURLOverride: f.srv.RefreshTokenURL}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBearerFixture(t, identitytest.Options{})
			pat, acct := f.srv.MintPersonalAccessToken(tt.account)
			env := tt.home(t, f, pat)
			before, _ := os.ReadFile(filepath.Join(f.home, "auth.json"))

			ra, err := f.load(context.Background(), env)
			require.NoError(t, err)
			assert.Empty(t, ra.AgentRuntimeID(), "no agent")
			assert.Equal(t, acct, ra.Account(), "the whole account of the lookup")
			assert.NotContains(t, ra.String(), pat.Reveal())
			_, err = ra.TaskID(context.Background())
			assert.ErrorIs(t, err, identity.ErrNoAgentIdentity, "no tasks either")
			f.exercise(t, ra, pat.Reveal(), acct)
			f.exercise(t, ra.ForSession("s1"), pat.Reveal(), acct)

			lookups := f.requests("/api/accounts/v1/user-auth-credential/whoami")
			require.Len(t, lookups, 1, "one lookup per run")
			h := lookups[0].Header
			assert.Equal(t, "Bearer "+pat.Reveal(), h.Get("Authorization"))
			assert.Equal(t, "*/*", h.Get("Accept"))
			assert.Empty(t, h.Values("ChatGPT-Account-ID"))
			assert.Empty(t, h.Values("X-OpenAI-Fedramp"))
			assert.Equal(t, "verified", lookups[0].Verdict)
			st := f.srv.Stats()
			assert.Equal(t, 1, st.PersonalAccessTokenLookups)
			assert.Zero(t, st.AgentsRegistered+st.TasksRegistered+st.Refreshes+st.RefreshesRefused+st.RequestsVerified+st.RequestsRejected,
				"no registration, no refresh, nothing signed")
			after, _ := os.ReadFile(filepath.Join(f.home, "auth.json"))
			assert.Equal(t, string(before), string(after), "auth.json is not touched")
		})
	}
}

// An Agent Identity JWT in the environment wins over a personal access
// token in auth.json, which is never looked up.
func TestLoadJWTOverStoredPersonalAccessToken(t *testing.T) {
	f := newBearerFixture(t, identitytest.Options{})
	pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
	require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{PersonalAccessToken: pat}))
	tok, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	ra, err := f.load(context.Background(), map[string]string{identity.EnvAccessToken: tok.Reveal()})
	require.NoError(t, err)
	assert.NotEmpty(t, ra.AgentRuntimeID())
	assert.Zero(t, f.srv.Stats().PersonalAccessTokenLookups)
}

// Where the lookup goes: CODEX_AUTHAPI_BASE_URL moves it (a trailing '/'
// stripped), CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL does not. Each case runs
// against production or staging URLs through LoadOptions.HTTPClient, whose
// transport answers in place of the real hosts (nothing leaves the
// process), as the interop stand-in does.
func TestPersonalAccessTokenLookupURL(t *testing.T) {
	staging := stagingEnvironment(t)
	tests := []struct {
		name, base string
		env        map[string]string
		want       string
	}{
		{"production", "", nil, agentidentity.ProductionAuthAPIBaseURL + "/v1/user-auth-credential/whoami"},
		{"staging", staging.ChatGPTBaseURL, nil, staging.AuthAPIBaseURL + "/v1/user-auth-credential/whoami"},
		{"CODEX_AUTHAPI_BASE_URL, trailing slash", "", map[string]string{"CODEX_AUTHAPI_BASE_URL": agentidentity.ProductionOrigin + "/alt/accounts/"},
			agentidentity.ProductionOrigin + "/alt/accounts/v1/user-auth-credential/whoami"},
		{"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL does not move it", "", map[string]string{"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL": agentidentity.ProductionOrigin + "/alt/accounts"},
			agentidentity.ProductionAuthAPIBaseURL + "/v1/user-auth-credential/whoami"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = append(got, r.URL.String())
				return jsonResponse(http.StatusOK, `{"email":null,"chatgpt_user_id":"user-1","chatgpt_account_id":"account-1","chatgpt_plan_type":"plus","chatgpt_account_is_fedramp":false}`), nil
			})}
			env := map[string]string{identity.EnvAccessToken: "at-test"}
			for k, v := range tt.env {
				env[k] = v
			}
			ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: t.TempDir(), ChatGPTBaseURL: tt.base, HTTPClient: client,
				Getenv: func(k string) string { return env[k] }})
			require.NoError(t, err)
			assert.Equal(t, []string{tt.want}, got)
			assert.Equal(t, "account-1", ra.Account().AccountID)
		})
	}
}

func stagingEnvironment(t *testing.T) agentidentity.Environment {
	t.Helper()
	for _, e := range agentidentity.Environments() {
		if e.Name == "staging" {
			return e
		}
	}
	t.Fatal("no staging environment")
	return agentidentity.Environment{}
}

func jsonResponse(code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// A lookup that fails fails Load closed, with its own error, whatever the
// server answers; nothing else is tried.
func TestPersonalAccessTokenLookupHostile(t *testing.T) {
	restore := identity.SetWhoamiTimeoutForTest(time.Second)
	defer restore()
	var redirected atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer elsewhere.Close()
	edit := func(fn func(m map[string]any)) identitytest.Fault { return identitytest.Fault{EditAnswer: fn} }
	body := func(s string) identitytest.Fault { return identitytest.Fault{Body: []byte(s)} }
	tests := []struct {
		name    string
		fault   identitytest.Fault
		wantMsg string
	}{
		{"401", identitytest.Fault{Status: http.StatusUnauthorized}, "with status 401 Unauthorized"},
		{"403", identitytest.Fault{Status: http.StatusForbidden}, "with status 403 Forbidden"},
		{"429", identitytest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, "with status 429"},
		{"503", identitytest.Fault{Status: http.StatusServiceUnavailable}, "with status 503"},
		{"redirect", identitytest.Fault{RedirectTo: elsewhere.URL}, "with status 307"},
		{"slow", identitytest.Fault{Delay: 5 * time.Second}, "deadline exceeded"},
		{"hang-up", identitytest.Fault{HangUp: true}, "EOF"},
		{"huge", body(`{"chatgpt_account_id":"a","chatgpt_user_id":"u","pad":"` + strings.Repeat("x", 70<<10) + `"}`), "reading the answer"},
		{"not JSON", body(`<html>hello</html>`), "not one JSON object"},
		{"an array", body(`[]`), "not one JSON object"},
		{"duplicate member", body(`{"chatgpt_account_id":"a","chatgpt_account_id":"b","chatgpt_user_id":"u"}`), "not one JSON object"},
		{"no account id", edit(func(m map[string]any) { delete(m, "chatgpt_account_id") }), "chatgpt_account_id is missing"},
		{"null account id", edit(func(m map[string]any) { m["chatgpt_account_id"] = nil }), "chatgpt_account_id is missing"},
		{"empty account id", edit(func(m map[string]any) { m["chatgpt_account_id"] = "" }), "chatgpt_account_id is empty"},
		{"numeric account id", edit(func(m map[string]any) { m["chatgpt_account_id"] = 7 }), "chatgpt_account_id is a number"},
		{"account id with a newline", edit(func(m map[string]any) { m["chatgpt_account_id"] = "a\r\nX-Evil: 1" }), "not printable ASCII"},
		{"account id with a space", edit(func(m map[string]any) { m["chatgpt_account_id"] = "a b" }), "not printable ASCII"},
		{"huge account id", edit(func(m map[string]any) { m["chatgpt_account_id"] = strings.Repeat("a", 257) }), "longer than 256"},
		{"no user id", edit(func(m map[string]any) { delete(m, "chatgpt_user_id") }), "chatgpt_user_id is missing"},
		{"FedRAMP as a string", edit(func(m map[string]any) { m["chatgpt_account_is_fedramp"] = "true" }), "chatgpt_account_is_fedramp is a string"},
		{"email as a number", edit(func(m map[string]any) { m["email"] = 1 }), "email is a number"},
		{"plan as an object", edit(func(m map[string]any) { m["chatgpt_plan_type"] = map[string]any{} }), "chatgpt_plan_type is an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBearerFixture(t, identitytest.Options{})
			pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
			login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{})
			require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
			f.srv.SetFault(tt.fault)
			start := time.Now()
			ra, err := f.load(context.Background(), map[string]string{identity.EnvAccessToken: pat.Reveal()})
			require.Error(t, err)
			assert.Nil(t, ra)
			assert.Less(t, time.Since(start), 4*time.Second, "bounded in time")
			assert.ErrorIs(t, err, identity.ErrPersonalAccessTokenLookup)
			assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Contains(t, err.Error(), "$CODEX_ACCESS_TOKEN")
			assert.NotContains(t, err.Error(), pat.Reveal())
			assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), pat.Reveal())
			assert.Zero(t, redirected.Load(), "a redirect is never followed")
			st := f.srv.Stats()
			assert.Zero(t, st.AgentsRegistered+st.Refreshes+st.BearerRequestsAccepted, "no fall-back to the stored login")
			assert.Equal(t, 1, st.PersonalAccessTokenLookups, "one lookup, no retry")
		})
	}
}

// Another account: the answer names an account the token does not belong
// to. Load cannot know, and sends what the answer said; the backend refuses
// it, and the refusal comes back as it came (no other credential is tried,
// no second lookup).
func TestPersonalAccessTokenAnotherAccount(t *testing.T) {
	f := newBearerFixture(t, identitytest.Options{})
	pat, _ := f.srv.MintPersonalAccessToken(codexhome.Account{})
	f.srv.SetFault(identitytest.Fault{EditAnswer: func(m map[string]any) { m["chatgpt_account_id"] = "account-of-someone-else" }})
	ra, err := f.load(context.Background(), map[string]string{identity.EnvAccessToken: pat.Reveal()})
	require.NoError(t, err)
	assert.Equal(t, "account-of-someone-else", ra.Account().AccountID)
	f.srv.SetFault(identitytest.Fault{})
	resp, err := ra.Client().Get(f.srv.ChatGPTBaseURL + "/codex/models")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, err = ra.InferenceBaseURL(context.Background())
	require.ErrorIs(t, err, identity.ErrRoutingUnavailable, "discovery is refused: nothing reaches inference")
	assert.Equal(t, 1, f.srv.Stats().PersonalAccessTokenLookups)
}

// A malformed personal_access_token member fails Load as a corrupt file,
// never falling back to the login beside it.
func TestLoadStoredPersonalAccessTokenMalformed(t *testing.T) {
	tests := []struct{ name, member string }{
		{"a number", `7`},
		{"an object", `{"token":"at-x"}`},
		{"no at- prefix", `"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"`},
		{"white space inside", `"at-a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBearerFixture(t, identitytest.Options{})
			login := f.srv.MintChatGPTLogin(identitytest.LoginOptions{})
			require.NoError(t, f.srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
			writeMemberRaw(t, f.home, "personal_access_token", tt.member)
			_, err := f.load(context.Background(), nil)
			require.Error(t, err)
			assert.True(t, errors.Is(err, codexhome.ErrCorruptAuthFile) || errors.Is(err, identity.ErrPersonalAccessTokenLookup), err.Error())
			assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.Zero(t, f.srv.Stats().AgentsRegistered)
			assert.Zero(t, f.srv.Stats().PersonalAccessTokenLookups)
		})
	}
}

// writeMemberRaw adds (or replaces) a top-level member of auth.json with
// the raw JSON value raw.
func writeMemberRaw(t *testing.T, home, name, raw string) {
	t.Helper()
	path := filepath.Join(home, "auth.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.TrimRight(string(data), "\n")
	require.True(t, strings.HasSuffix(s, "}"))
	s = strings.TrimSuffix(s, "}") + `,"` + name + `":` + raw + "}"
	require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
}

// A run without an agent sends inference to the workspace origin that
// routing discovery names, with its Bearer token and the routing override;
// nothing else there gets a credential. The stand-in answers for the
// production hosts through LoadOptions.HTTPClient (nothing leaves the
// process).
func TestPersonalAccessTokenRoutedInference(t *testing.T) {
	const routed = "https://routed.example"
	var mu sync.Mutex
	var got []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization")+" "+r.Header.Get("ChatGPT-Account-ID"))
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/whoami"):
			return jsonResponse(http.StatusOK, `{"chatgpt_user_id":"user-1","chatgpt_account_id":"account-1"}`), nil
		case strings.HasSuffix(r.URL.Path, "/wham/accounts/check"):
			return jsonResponse(http.StatusOK, `{"accounts":[{"id":"account-1","workspace_backend_origin":"`+routed+`","account_routing_override":"us"}]}`), nil
		}
		return jsonResponse(http.StatusOK, `{}`), nil
	})}
	ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: t.TempDir(), HTTPClient: client,
		Getenv: func(k string) string { return map[string]string{identity.EnvAccessToken: "at-routed"}[k] }})
	require.NoError(t, err)
	ctx := context.Background()
	base, err := ra.InferenceBaseURL(ctx)
	require.NoError(t, err)
	assert.Equal(t, routed+"/backend-api", base)
	h, err := ra.Header(ctx, base+"/codex/responses")
	require.NoError(t, err)
	assert.Equal(t, "Bearer at-routed", h.Get("Authorization"))
	assert.Equal(t, "account-1", h.Get("ChatGPT-Account-ID"))
	assert.Equal(t, "us", h.Get("X-Openai-Account-Routing-Override"))
	h, err = ra.Header(ctx, base+"/codex/models")
	require.NoError(t, err)
	assert.Empty(t, h, "only inference at the routed origin")
	h, err = ra.Header(ctx, agentidentity.DefaultChatGPTBaseURL+"/codex/models")
	require.NoError(t, err)
	assert.Equal(t, "Bearer at-routed", h.Get("Authorization"))
	assert.Empty(t, h.Values("X-Openai-Account-Routing-Override"))
	assert.Equal(t, []string{
		"GET " + agentidentity.ProductionAuthAPIBaseURL + "/v1/user-auth-credential/whoami Bearer at-routed ",
		"GET " + agentidentity.DefaultChatGPTBaseURL + "/wham/accounts/check Bearer at-routed account-1",
	}, got)
}
