package identitytest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/jwttest"
	"github.com/agentidentity/agentidentity/internal/wire"
)

func newServer(t *testing.T, o identitytest.Options) *identitytest.Server {
	t.Helper()
	if o.SigningKey == nil {
		key, err := jwttest.LoadKey(jwttest.KeyA)
		require.NoError(t, err)
		o.SigningKey = key
	}
	srv := identitytest.NewUnstartedServer(o)
	require.NoError(t, srv.Start())
	t.Cleanup(srv.Close)
	return srv
}

type testAgent struct {
	signer  *identity.Signer
	priv    ed25519.PrivateKey
	account string
	taskID  string
}

// taskRegistrationBody is the body the agent's Client sends to register a
// task signed at at.
func (a testAgent) taskRegistrationBody(at time.Time) ([]byte, error) {
	return wire.TaskRegistrationBody(a.signer.AgentRuntimeID(), at, wire.Key{Priv: a.priv})
}

// newAgent registers an agent and one task on srv.
func newAgent(t *testing.T, srv *identitytest.Server, o identitytest.LoginOptions) testAgent {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	if o.AccountID == "" {
		o.AccountID = "acct-" + strings.ReplaceAll(t.Name(), "/", "-")
	}
	id, err := srv.AddAgent(km.PublicKeySSH, o.Account)
	require.NoError(t, err)
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	priv, err := wire.ParsePrivateKeyPKCS8Base64(km.PrivateKeyPKCS8Base64.Reveal())
	require.NoError(t, err)
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL, MaxAttempts: 1}
	task, err := c.RegisterTask(context.Background(), s)
	require.NoError(t, err)
	return testAgent{signer: s, priv: priv, account: o.AccountID, taskID: task}
}

func post(t *testing.T, srv *identitytest.Server, url, body string, header http.Header) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]string
	require.NoError(t, json.Unmarshal(data, &out), string(data))
	return resp.StatusCode, out
}

func TestFirstPartyEndpoint(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	srv := newServer(t, identitytest.Options{Now: func() time.Time { return now }})
	a := newAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-a"}})
	b := newAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-b"}})
	fed := newAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-fed", FedRAMP: true}})
	other, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	impostor, err := identity.NewSigner(a.signer.AgentRuntimeID(), other.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	unknown, err := identity.NewSigner("agent-999", other.PrivateKeyPKCS8Base64)
	require.NoError(t, err)

	sign := func(s *identity.Signer, task string, at time.Time) string {
		h, err := s.AuthorizationHeader(task, at)
		require.NoError(t, err)
		return h
	}
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantReason string
	}{
		{"good", http.Header{"Authorization": {sign(a.signer, a.taskID, now)}, "Chatgpt-Account-Id": {a.account}}, 200, ""},
		{"good within skew", http.Header{"Authorization": {sign(a.signer, a.taskID, now.Add(-4*time.Minute))}, "Chatgpt-Account-Id": {a.account}}, 200, ""},
		{"FedRAMP good", http.Header{"Authorization": {sign(fed.signer, fed.taskID, now)}, "Chatgpt-Account-Id": {fed.account}, "X-Openai-Fedramp": {"true"}}, 200, ""},
		{"FedRAMP header missing", http.Header{"Authorization": {sign(fed.signer, fed.taskID, now)}, "Chatgpt-Account-Id": {fed.account}}, 401, "Fedramp"},
		{"FedRAMP header on commercial", http.Header{"Authorization": {sign(a.signer, a.taskID, now)}, "Chatgpt-Account-Id": {a.account}, "X-Openai-Fedramp": {"true"}}, 401, "Fedramp"},
		{"stale", http.Header{"Authorization": {sign(a.signer, a.taskID, now.Add(-6*time.Minute))}, "Chatgpt-Account-Id": {a.account}}, 401, "AgentAssertion"},
		{"future", http.Header{"Authorization": {sign(a.signer, a.taskID, now.Add(6*time.Minute))}, "Chatgpt-Account-Id": {a.account}}, 401, "AgentAssertion"},
		{"wrong account", http.Header{"Authorization": {sign(a.signer, a.taskID, now)}, "Chatgpt-Account-Id": {b.account}}, 401, "ChatGPT-Account-ID"},
		{"no account", http.Header{"Authorization": {sign(a.signer, a.taskID, now)}}, 401, "ChatGPT-Account-ID"},
		{"unregistered task", http.Header{"Authorization": {sign(a.signer, "task-made-up", now)}, "Chatgpt-Account-Id": {a.account}}, 401, "task id"},
		{"another agent's task", http.Header{"Authorization": {sign(a.signer, b.taskID, now)}, "Chatgpt-Account-Id": {a.account}}, 401, "task id"},
		{"wrong key", http.Header{"Authorization": {sign(impostor, a.taskID, now)}, "Chatgpt-Account-Id": {a.account}}, 401, "AgentAssertion"},
		{"unknown agent", http.Header{"Authorization": {sign(unknown, a.taskID, now)}, "Chatgpt-Account-Id": {a.account}}, 401, "unknown agent"},
		{"bearer", http.Header{"Authorization": {"Bearer abc"}, "Chatgpt-Account-Id": {a.account}}, 401, "not an AgentAssertion"},
		{"no Authorization", http.Header{"Chatgpt-Account-Id": {a.account}}, 401, "Authorization"},
		{"two Authorization headers", http.Header{"Authorization": {sign(a.signer, a.taskID, now), sign(a.signer, a.taskID, now)}, "Chatgpt-Account-Id": {a.account}}, 401, "exactly one"},
		{"garbage token", http.Header{"Authorization": {"AgentAssertion !!!"}, "Chatgpt-Account-Id": {a.account}}, 401, "not canonical unpadded base64url"},
	}
	verified, rejected := 0, 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const body = `{"model":"x"}`
			status, out := post(t, srv, srv.ChatGPTBaseURL+"/codex/responses", body, tt.header)
			assert.Equal(t, tt.wantStatus, status, out)
			if tt.wantStatus == 200 {
				verified++
				sum := sha256.Sum256([]byte(body))
				assert.Equal(t, hex.EncodeToString(sum[:]), out["body_sha256"])
				assert.NotEmpty(t, out["agent_runtime_id"])
				assert.NotEmpty(t, out["task_id"])
			} else {
				rejected++
				assert.Contains(t, out["error"], tt.wantReason)
			}
		})
	}
	assert.Equal(t, verified, srv.Stats().RequestsVerified)
	assert.Equal(t, rejected, srv.Stats().RequestsRejected)
}

func TestAgentRegistrationEndpoint(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	fed := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{FedRAMP: true}})
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	good := `{"abom":{"agent_version":"1","agent_harness_id":"h","running_location":"l"},"agent_public_key":"` +
		km.PublicKeySSH + `","capabilities":["responsesapi"],"ttl":null}`
	bearer := func(l identitytest.ChatGPTLogin) []string { return []string{"Bearer " + l.AccessToken.Reveal()} }
	json := http.Header{"Content-Type": {"application/json"}}
	with := func(h http.Header, kv ...string) http.Header {
		out := h.Clone()
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		body       string
		header     http.Header
		wantStatus int
	}{
		{"good", good, with(json, "Authorization", bearer(login)[0]), 200},
		{"FedRAMP good", good, with(json, "Authorization", bearer(fed)[0], "X-OpenAI-Fedramp", "true"), 200},
		{"FedRAMP header missing", good, with(json, "Authorization", bearer(fed)[0]), 403},
		{"FedRAMP header on commercial", good, with(json, "Authorization", bearer(login)[0], "X-OpenAI-Fedramp", "true"), 403},
		{"no Authorization", good, json, 401},
		{"unknown token", good, with(json, "Authorization", "Bearer not-minted"), 401},
		{"ID token as Bearer", good, with(json, "Authorization", "Bearer "+login.IDToken.Reveal()), 401},
		{"AgentAssertion", good, with(json, "Authorization", "AgentAssertion x"), 401},
		{"wrong content type", good, with(http.Header{"Content-Type": {"text/plain"}}, "Authorization", bearer(login)[0]), 415},
		{"ttl not null", strings.Replace(good, `"ttl":null`, `"ttl":60`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"ttl missing", strings.Replace(good, `,"ttl":null`, ``, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"extra capability", strings.Replace(good, `["responsesapi"]`, `["responsesapi","x"]`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"no capabilities", strings.Replace(good, `["responsesapi"]`, `[]`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"extra member", strings.Replace(good, `"ttl":null`, `"ttl":null,"x":1`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"abom extra member", strings.Replace(good, `"running_location":"l"`, `"running_location":"l","x":"y"`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"abom number", strings.Replace(good, `"agent_version":"1"`, `"agent_version":1`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"key with comment", strings.Replace(good, km.PublicKeySSH, km.PublicKeySSH+" me@host", 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"rsa key", strings.Replace(good, km.PublicKeySSH, "ssh-rsa AAAA", 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"duplicate member", strings.Replace(good, `"ttl":null`, `"ttl":null,"ttl":null`, 1), with(json, "Authorization", bearer(login)[0]), 400},
		{"not JSON", "x", with(json, "Authorization", bearer(login)[0]), 400},
	}
	ok := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := post(t, srv, srv.AuthAPIBaseURL+"/v1/agent/register", tt.body, tt.header)
			assert.Equal(t, tt.wantStatus, status, out)
			if status == 200 {
				ok++
				assert.NoError(t, identity.ValidateRuntimeID(out["agent_runtime_id"]))
			} else {
				assert.NotEmpty(t, out["error"])
			}
		})
	}
	assert.Equal(t, ok, srv.Stats().AgentsRegistered)
	assert.Equal(t, len(tests), srv.Stats().AuthAPIRequests)
}

func TestTaskRegistrationEndpoint(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	srv := newServer(t, identitytest.Options{Now: func() time.Time { return now }})
	a := newAgent(t, srv, identitytest.LoginOptions{})
	s := a.signer
	body := func(at time.Time) string {
		b, err := a.taskRegistrationBody(at)
		require.NoError(t, err)
		return string(b)
	}
	url := srv.AuthAPIBaseURL + "/v1/agent/" + s.AgentRuntimeID() + "/task/register"
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name       string
		url        string
		body       string
		header     http.Header
		wantStatus int
	}{
		{"good", url, body(now), jsonCT, 200},
		{"within skew", url, body(now.Add(4 * time.Minute)), jsonCT, 200},
		{"stale", url, body(now.Add(-6 * time.Minute)), jsonCT, 401},
		{"unknown agent", srv.AuthAPIBaseURL + "/v1/agent/agent-999/task/register", body(now), jsonCT, 404},
		{"with Authorization", url, body(now), http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}, 400},
		{"wrong content type", url, body(now), http.Header{}, 415},
		{"tampered", url, strings.Replace(body(now), "2026", "2025", 1), jsonCT, 401},
		{"empty body", url, "", jsonCT, 401},
		{"unknown path", srv.AuthAPIBaseURL + "/v2/whatever", "{}", jsonCT, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := post(t, srv, tt.url, tt.body, tt.header)
			assert.Equal(t, tt.wantStatus, status, out)
			if status == 200 {
				assert.Contains(t, srv.TaskIDs(s.AgentRuntimeID()), out["task_id"])
			}
		})
	}
	assert.Equal(t, 3, srv.Stats().TasksRegistered, "one from newAgent, two here")
}

func TestMintAgentJWT(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	v := &identity.JWTVerifier{JWKSURL: srv.JWKSURL, Issuer: srv.Issuer, Audience: srv.Audience}
	ctx := context.Background()

	tok, err := srv.MintAgentJWT(identitytest.JWTOptions{Account: codexhome.Account{AccountID: "acct-9", Email: "a@example.com", FedRAMP: true}})
	require.NoError(t, err)
	claims, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "acct-9", claims.AccountID)
	assert.Equal(t, "a@example.com", claims.Email)
	assert.True(t, claims.FedRAMP)
	assert.Equal(t, 1, srv.Stats().AgentsRegistered)

	// The minted agent works end to end.
	s, err := identity.NewSigner(claims.AgentRuntimeID, claims.AgentPrivateKey)
	require.NoError(t, err)
	task, err := (&identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}).RegisterTask(ctx, s)
	require.NoError(t, err)
	h, err := s.AuthorizationHeader(task, time.Now())
	require.NoError(t, err)
	status, _ := post(t, srv, srv.ChatGPTBaseURL+"/codex/responses", "{}", http.Header{
		"Authorization": {h}, "Chatgpt-Account-Id": {"acct-9"}, "X-Openai-Fedramp": {"true"},
	})
	assert.Equal(t, 200, status)

	bad := []struct {
		name string
		o    identitytest.JWTOptions
	}{
		{"expired", identitytest.JWTOptions{IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}},
		{"no exp", identitytest.JWTOptions{OmitExp: true}},
		{"wrong issuer", identitytest.JWTOptions{Issuer: "https://evil.example"}},
		{"wrong audience", identitytest.JWTOptions{Audience: "other"}},
		{"unknown kid", identitytest.JWTOptions{KeyID: "nope"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := srv.MintAgentJWT(tt.o)
			require.NoError(t, err)
			_, err = v.Verify(ctx, tok)
			assert.ErrorIs(t, err, identity.ErrInvalidJWT)
		})
	}
	assert.GreaterOrEqual(t, srv.Stats().JWKSFetches, 1)
}

func TestMintChatGPTLogin(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	l := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "acct-1", UserID: "user-1", Email: "u@example.com", PlanType: "pro", FedRAMP: true}})
	assert.Equal(t, "acct-1", l.AccountID)
	parts := strings.Split(l.IDToken.Reveal(), ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Email string `json:"email"`
		Auth  struct {
			AccountID string `json:"chatgpt_account_id"`
			UserID    string `json:"chatgpt_user_id"`
			PlanType  string `json:"chatgpt_plan_type"`
			FedRAMP   bool   `json:"chatgpt_account_is_fedramp"`
		} `json:"https://api.openai.com/auth"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.Equal(t, "u@example.com", claims.Email)
	assert.Equal(t, "acct-1", claims.Auth.AccountID)
	assert.Equal(t, "user-1", claims.Auth.UserID)
	assert.Equal(t, "pro", claims.Auth.PlanType)
	assert.True(t, claims.Auth.FedRAMP)
	assert.True(t, strings.HasPrefix(l.RefreshToken.Reveal(), "rt-"))

	// The access token is a ChatGPT access token, not an Agent Identity JWT.
	v := &identity.JWTVerifier{JWKSURL: srv.JWKSURL, Issuer: srv.Issuer, Audience: srv.Audience}
	_, err = v.Verify(context.Background(), l.AccessToken)
	assert.ErrorIs(t, err, identity.ErrChatGPTAccessToken)

	other := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	assert.NotEqual(t, l.AccessToken.Reveal(), other.AccessToken.Reveal())
	assert.NotEqual(t, l.AccountID, other.AccountID)
}

func TestEnvResolves(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	env := srv.Env()
	assert.Equal(t, srv.AuthAPIBaseURL, env["CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL"])
	assert.Equal(t, srv.ChatGPTBaseURL, env["CODEX_AGENT_IDENTITY_JWKS_BASE_URL"])
	getenv := srv.Getenv(func(name string) string { return "fallback-" + name })
	assert.Equal(t, "fallback-HOME", getenv("HOME"))
	assert.Equal(t, "", srv.Getenv(nil)("HOME"))

	e, err := agentidentity.ResolveWithOverrides(srv.ChatGPTBaseURL, agentidentity.OverridesFromEnv(getenv))
	require.NoError(t, err)
	assert.Equal(t, srv.AuthAPIBaseURL, e.AuthAPIBaseURL)
	assert.Equal(t, srv.JWKSURL, e.JWKSURL)
}

func TestFaultInjection(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	a := newAgent(t, srv, identitytest.LoginOptions{})
	url := srv.AuthAPIBaseURL + "/v1/agent/" + a.signer.AgentRuntimeID() + "/task/register"
	do := func() *http.Response {
		b, err := a.taskRegistrationBody(time.Now())
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		hc := srv.Client()
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	srv.SetFault(identitytest.Fault{Status: 503, Count: 2, RetryAfter: "3"})
	r := do()
	assert.Equal(t, 503, r.StatusCode)
	assert.Equal(t, "3", r.Header.Get("Retry-After"))
	assert.Equal(t, 503, do().StatusCode)
	assert.Equal(t, 200, do().StatusCode)

	srv.SetFault(identitytest.Fault{RedirectTo: "http://example.invalid/x"})
	r = do()
	assert.Equal(t, http.StatusTemporaryRedirect, r.StatusCode)
	assert.Equal(t, "http://example.invalid/x", r.Header.Get("Location"))
	srv.SetFault(identitytest.Fault{})

	srv.SetFault(identitytest.Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	assert.Equal(t, 200, do().StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	srv.SetFault(identitytest.Fault{})
}

// registerTaskRaw posts one task registration for a and returns the answer.
func registerTaskRaw(t *testing.T, srv *identitytest.Server, a testAgent) (*http.Response, []byte) {
	t.Helper()
	b, err := a.taskRegistrationBody(time.Now())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.AuthAPIBaseURL+"/v1/agent/"+a.signer.AgentRuntimeID()+"/task/register", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func TestFaultAnswers(t *testing.T) {
	type answer struct {
		status int
		body   string // "" means any body
	}
	tests := []struct {
		name       string
		fault      identitytest.Fault
		want       []answer
		registered int // tasks registered by the answers
	}{
		{"status on every request", identitytest.Fault{Status: 500},
			[]answer{{500, `{"error":"injected failure"}`}, {500, ""}, {500, ""}}, 0},
		{"status with a body", identitytest.Fault{Status: 502, Body: []byte("<html>")},
			[]answer{{502, "<html>"}, {502, "<html>"}}, 0},
		{"body of successful answers", identitytest.Fault{Body: []byte(`{"task_id":42}`)},
			[]answer{{200, `{"task_id":42}`}, {200, `{"task_id":42}`}}, 2},
		{"counted failures, then the body", identitytest.Fault{Status: 503, Count: 1, Body: []byte("{}")},
			[]answer{{503, "{}"}, {200, "{}"}}, 1},
		{"counted failures, then healthy", identitytest.Fault{Status: 429, Count: 2},
			[]answer{{429, ""}, {429, ""}, {200, ""}}, 1},
		{"the zero fault", identitytest.Fault{}, []answer{{200, ""}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, identitytest.Options{})
			a := newAgent(t, srv, identitytest.LoginOptions{})
			before := srv.Stats()
			srv.SetFault(tt.fault)
			for i, w := range tt.want {
				resp, body := registerTaskRaw(t, srv, a)
				assert.Equal(t, w.status, resp.StatusCode, "answer %d", i)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "answer %d", i)
				if w.body != "" {
					assert.Equal(t, w.body, string(body), "answer %d", i)
				}
			}
			after := srv.Stats()
			assert.Equal(t, tt.registered, after.TasksRegistered-before.TasksRegistered)
			assert.Equal(t, len(tt.want), after.AuthAPIRequests-before.AuthAPIRequests)
		})
	}
}

func TestFaultTaskIDMembers(t *testing.T) {
	tests := []struct {
		name    string
		members []string
		want    []string // the members of the answer
		sealed  []string // those of want that hold a sealed id
	}{
		{"default", nil, []string{"task_id"}, nil},
		{"empty means the default", []string{}, []string{"task_id"}, nil},
		{"camel case", []string{"taskId"}, []string{"taskId"}, nil},
		{"encrypted", []string{"encrypted_task_id"}, []string{"encrypted_task_id"}, []string{"encrypted_task_id"}},
		{"encrypted camel case", []string{"encryptedTaskId"}, []string{"encryptedTaskId"}, []string{"encryptedTaskId"}},
		{"both", []string{"task_id", "encrypted_task_id"}, []string{"encrypted_task_id", "task_id"}, []string{"encrypted_task_id"}},
		{"a spelling no client reads", []string{"taskID"}, []string{"taskID"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, identitytest.Options{})
			a := newAgent(t, srv, identitytest.LoginOptions{})
			srv.SetFault(identitytest.Fault{TaskIDMembers: tt.members})
			resp, body := registerTaskRaw(t, srv, a)
			require.Equal(t, 200, resp.StatusCode, string(body))
			var got map[string]string
			require.NoError(t, json.Unmarshal(body, &got))
			var names []string
			for k := range got {
				names = append(names, k)
			}
			assert.ElementsMatch(t, tt.want, names)
			var plain []string
			for _, k := range tt.want {
				if slices.Contains(tt.sealed, k) {
					raw, err := base64.StdEncoding.DecodeString(got[k])
					require.NoError(t, err, "a sealed id is base64")
					assert.NotContains(t, string(raw), "task-")
					continue
				}
				plain = append(plain, got[k])
			}
			ids := srv.TaskIDs(a.signer.AgentRuntimeID())
			assert.Len(t, ids, 2, "one from newAgent, one here")
			for _, id := range plain {
				assert.Contains(t, ids, id)
			}
		})
	}
}

// TestSetFaultCopies: the server keeps its own copy of a Fault's slices.
func TestSetFaultCopies(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	a := newAgent(t, srv, identitytest.LoginOptions{})
	f := identitytest.Fault{Body: []byte(`{"a":1}`), TaskIDMembers: []string{"taskId"}}
	srv.SetFault(f)
	f.Body[2] = 'b'
	f.TaskIDMembers[0] = "other"
	_, body := registerTaskRaw(t, srv, a)
	assert.Equal(t, `{"a":1}`, string(body))
	srv.SetFault(identitytest.Fault{TaskIDMembers: f.TaskIDMembers})
	_, body = registerTaskRaw(t, srv, a)
	assert.Contains(t, string(body), `"other":"task-`)
}

// TestConcurrentFirstParty sends 1,000 concurrent signed requests.
func TestConcurrentFirstParty(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	agents := []testAgent{newAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "a"}}), newAgent(t, srv, identitytest.LoginOptions{Account: codexhome.Account{AccountID: "b"}})}
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			a := agents[i%2]
			h, err := a.signer.AuthorizationHeader(a.taskID, time.Now())
			if err != nil {
				errs <- err
				return
			}
			req, _ := http.NewRequest(http.MethodPost, srv.ChatGPTBaseURL+"/codex/responses", strings.NewReader("{}"))
			req.Header.Set("Authorization", h)
			req.Header.Set("ChatGPT-Account-ID", a.account)
			if i%10 == 0 {
				req.Header.Set("ChatGPT-Account-ID", "wrong")
			}
			resp, err := hc.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 900, srv.Stats().RequestsVerified)
	assert.Equal(t, 100, srv.Stats().RequestsRejected)
}
