package identitytest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// The metadata answers the Codex CLI 0.171 accepted (interop record).
const (
	recordedWhoami        = `{"email":"pat@example.com","chatgpt_user_id":"user-pat","chatgpt_account_id":"account-pat","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":false}`
	recordedWhoamiFedRAMP = `{"email":null,"chatgpt_user_id":"user-patf","chatgpt_account_id":"account-patf","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":true}`
)

var (
	patAccount        = codexhome.Account{AccountID: "account-pat", UserID: "user-pat", Email: "pat@example.com", PlanType: "enterprise"}
	patFedRAMPAccount = codexhome.Account{AccountID: "account-patf", UserID: "user-patf", PlanType: "enterprise", FedRAMP: true}
)

// whoami sends the metadata lookup as the Codex CLI does, with extra
// headers, through hc (nil: the server's client).
func whoami(t *testing.T, srv *identitytest.Server, hc *http.Client, h http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.AuthAPIBaseURL+"/v1/user-auth-credential/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Originator", "codex_exec")
	for k, v := range h {
		req.Header[k] = v
	}
	if hc == nil {
		hc = srv.Client()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func bearerHeader(tok codexhome.Secret) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok.Reveal()}}
}

func TestMintPersonalAccessToken(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	tests := []struct {
		name string
		in   codexhome.Account
		want func(got codexhome.Account) codexhome.Account // the account expected
	}{
		{"as given", patAccount, func(codexhome.Account) codexhome.Account { return patAccount }},
		{"FedRAMP without email", patFedRAMPAccount, func(codexhome.Account) codexhome.Account { return patFedRAMPAccount }},
		{"defaults", codexhome.Account{}, func(got codexhome.Account) codexhome.Account {
			assert.True(t, strings.HasPrefix(got.AccountID, "account-pat-"), got.AccountID)
			assert.True(t, strings.HasPrefix(got.UserID, "user-pat-"), got.UserID)
			return codexhome.Account{AccountID: got.AccountID, UserID: got.UserID, PlanType: "plus"}
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, got := srv.MintPersonalAccessToken(tt.in)
			assert.Equal(t, tt.want(got), got)
			assert.Regexp(t, `^at-[A-Za-z0-9_-]{43}$`, tok.Reveal())
			assert.False(t, seen[tok.Reveal()], "a fresh token every time")
			seen[tok.Reveal()] = true
		})
	}
}

// TestWhoami: the lookup answers exactly what the Codex CLI accepted, for
// a minted personal access token sent as Codex sends it, and refuses
// anything else.
func TestWhoami(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	pat, _ := srv.MintPersonalAccessToken(patAccount)
	patf, _ := srv.MintPersonalAccessToken(patFedRAMPAccount)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantBody   string // exact for 200, a substring otherwise
	}{
		{"personal access token", bearerHeader(pat), 200, recordedWhoami},
		{"FedRAMP, no email", bearerHeader(patf), 200, recordedWhoamiFedRAMP},
		{"no Authorization", nil, 401, "not a personal access token"},
		{"unknown at- token", http.Header{"Authorization": {"Bearer at-made-up"}}, 401, "not a personal access token"},
		{"a login's access token", bearerHeader(login.AccessToken), 401, "not a personal access token"},
		{"not Bearer", http.Header{"Authorization": {"AgentAssertion " + pat.Reveal()}}, 401, "not a personal access token"},
		{"two Authorization headers", with(bearerHeader(pat), "Authorization", "Bearer "+pat.Reveal()), 401, "not a personal access token"},
		{"with ChatGPT-Account-ID", with(bearerHeader(pat), "ChatGPT-Account-ID", "account-pat"), 400, "ChatGPT-Account-ID"},
		{"with X-OpenAI-Fedramp", with(bearerHeader(patf), "X-OpenAI-Fedramp", "true"), 400, "X-OpenAI-Fedramp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := whoami(t, srv, nil, tt.header)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			if tt.wantStatus == 200 {
				assert.Equal(t, tt.wantBody, string(body))
			} else {
				assert.Contains(t, string(body), tt.wantBody)
				assert.NotContains(t, string(body), pat.Reveal())
			}
		})
	}
	st := srv.Stats()
	assert.Equal(t, len(tests), st.PersonalAccessTokenLookups)
	assert.Equal(t, len(tests), st.AuthAPIRequests)
	last := srv.LastAuthAPIRequest()
	require.NotNil(t, last)
	assert.Equal(t, "/api/accounts/v1/user-auth-credential/whoami", last.Path)

	// Only GET is served.
	status, _ := post(t, srv, srv.AuthAPIBaseURL+"/v1/user-auth-credential/whoami", "{}", bearerHeader(pat))
	assert.Equal(t, http.StatusNotFound, status)
}

// TestWhoamiFaults: every way the lookup can fail, through SetFault.
func TestWhoamiFaults(t *testing.T) {
	huge := append([]byte(`{"email":"`), bytes.Repeat([]byte("x"), 4<<20)...)
	huge = append(huge, `"}`...)
	tests := []struct {
		name       string
		fault      identitytest.Fault
		timeout    time.Duration // of the client, 0: none
		wantErr    bool          // a transport error
		wantStatus int
		wantBody   string // exact
		wantHeader http.Header
	}{
		{"refused", identitytest.Fault{Status: 401}, 0, false, 401, `{"error":"injected failure"}`, nil},
		{"unavailable, Retry-After", identitytest.Fault{Status: 503, RetryAfter: "7"}, 0, false, 503, `{"error":"injected failure"}`, http.Header{"Retry-After": {"7"}}},
		{"a body of the backend's own", identitytest.Fault{Status: 500, Body: []byte("<html>oops</html>")}, 0, false, 500, "<html>oops</html>", nil},
		{"huge", identitytest.Fault{Body: huge}, 0, false, 200, string(huge), nil},
		{"not JSON", identitytest.Fault{Body: []byte("not json")}, 0, false, 200, "not json", nil},
		{"wrong types", identitytest.Fault{EditAnswer: func(m map[string]any) {
			m["chatgpt_account_is_fedramp"] = "false"
			m["chatgpt_account_id"] = 42
		}}, 0, false, 200, `{"email":"pat@example.com","chatgpt_user_id":"user-pat","chatgpt_account_id":42,"chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":"false"}`, nil},
		{"another account", identitytest.Fault{EditAnswer: func(m map[string]any) { m["chatgpt_account_id"] = "account-other" }},
			0, false, 200, strings.Replace(recordedWhoami, "account-pat", "account-other", 1), nil},
		{"a member missing, one added", identitytest.Fault{EditAnswer: func(m map[string]any) {
			delete(m, "chatgpt_user_id")
			m["extra"] = true
		}}, 0, false, 200, `{"email":"pat@example.com","chatgpt_account_id":"account-pat","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":false,"extra":true}`, nil},
		{"redirect", identitytest.Fault{RedirectTo: "https://example.invalid/whoami"}, 0, false, 307, "", http.Header{"Location": {"https://example.invalid/whoami"}}},
		{"slow", identitytest.Fault{Delay: time.Minute}, 50 * time.Millisecond, true, 0, "", nil},
		{"hang-up", identitytest.Fault{HangUp: true}, 0, true, 0, "", nil},
		{"a token exchange fault leaves it alone", identitytest.Fault{Status: 500, TokenExchange: true}, 0, false, 200, recordedWhoami, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, identitytest.Options{})
			pat, _ := srv.MintPersonalAccessToken(patAccount)
			srv.SetFault(tt.fault)
			hc := &http.Client{Timeout: tt.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			defer hc.CloseIdleConnections()
			resp, body, err := whoami(t, srv, hc, bearerHeader(pat))
			assert.Equal(t, 1, srv.Stats().PersonalAccessTokenLookups)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, tt.timeout > 0, errorsIsTimeout(err), err)
				assert.NotContains(t, err.Error(), pat.Reveal())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, string(body))
			}
			for k := range tt.wantHeader {
				assert.Equal(t, tt.wantHeader.Get(k), resp.Header.Get(k), k)
			}
		})
	}
}

// TestWhoamiFaultCount: a counted failure, then the real answer.
func TestWhoamiFaultCount(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	pat, _ := srv.MintPersonalAccessToken(patAccount)
	srv.SetFault(identitytest.Fault{Status: 503, Count: 1})
	var got []int
	for range 2 {
		resp, _, err := whoami(t, srv, nil, bearerHeader(pat))
		require.NoError(t, err)
		got = append(got, resp.StatusCode)
	}
	assert.Equal(t, []int{503, 200}, got)
}

// TestPersonalAccessTokenRoutes: a personal access token is a Bearer
// credential of every first-party route, inference included, with its
// account's headers; never an agent registration, never an
// AgentAssertion.
func TestPersonalAccessTokenRoutes(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{ResponseText: "hi pat"})
	pat, acct := srv.MintPersonalAccessToken(patAccount)
	patf, acctf := srv.MintPersonalAccessToken(patFedRAMPAccount)
	h := func(tok codexhome.Secret, kv ...string) http.Header {
		out := bearerHeader(tok)
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	sse := "text/event-stream"
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		wantStatus int
		wantBody   string // a substring
	}{
		{"config bundle", "GET", "/backend-api/wham/config/bundle", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `{}`},
		{"routing discovery", "GET", "/backend-api/wham/accounts/check", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `"plan_type":"enterprise"`},
		{"models", "GET", "/backend-api/codex/models?client_version=0.171.0", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `{"models":[]}`},
		{"settings", "GET", "/backend-api/wham/settings/user", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `commit_attribution_enabled`},
		{"plugins 404", "GET", "/backend-api/ps/plugins/installed", h(pat, "ChatGPT-Account-ID", acct.AccountID), 404, "not served"},
		{"inference stream", "POST", "/backend-api/codex/responses", h(pat, "ChatGPT-Account-ID", acct.AccountID, "Accept", sse), 200, "hi pat"},
		{"inference JSON echo", "POST", "/backend-api/codex/responses", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `"chatgpt_account_id":"account-pat"`},
		{"compaction", "POST", "/backend-api/codex/responses/compact", h(pat, "ChatGPT-Account-ID", acct.AccountID), 200, `{"output":[]}`},
		{"WebSocket upgrade", "GET", "/backend-api/codex/responses", h(pat, "ChatGPT-Account-ID", acct.AccountID, "Upgrade", "websocket", "Connection", "Upgrade"), 426, "use HTTP"},
		{"FedRAMP with the header", "GET", "/backend-api/codex/models", h(patf, "ChatGPT-Account-ID", acctf.AccountID, "X-OpenAI-Fedramp", "true"), 200, `{"models":[]}`},
		{"FedRAMP inference", "POST", "/backend-api/codex/responses", h(patf, "ChatGPT-Account-ID", acctf.AccountID, "X-OpenAI-Fedramp", "true", "Accept", sse), 200, "hi pat"},
		{"FedRAMP without the header", "GET", "/backend-api/codex/models", h(patf, "ChatGPT-Account-ID", acctf.AccountID), 401, "Fedramp"},
		{"the header on a commercial account", "GET", "/backend-api/codex/models", h(pat, "ChatGPT-Account-ID", acct.AccountID, "X-OpenAI-Fedramp", "true"), 401, "Fedramp"},
		{"no ChatGPT-Account-ID", "GET", "/backend-api/codex/models", h(pat), 401, "ChatGPT-Account-ID"},
		{"no ChatGPT-Account-ID on inference", "POST", "/backend-api/codex/responses", h(pat), 401, "ChatGPT-Account-ID"},
		{"another account", "GET", "/backend-api/wham/accounts/check", h(pat, "ChatGPT-Account-ID", acctf.AccountID), 401, "ChatGPT-Account-ID"},
		{"unknown at- token", "GET", "/backend-api/codex/models", http.Header{"Authorization": {"Bearer at-made-up"}, "Chatgpt-Account-Id": {acct.AccountID}}, 401, "not an access token minted"},
		{"unknown at- token on inference", "POST", "/backend-api/codex/responses", http.Header{"Authorization": {"Bearer at-made-up"}, "Chatgpt-Account-Id": {acct.AccountID}}, 401, "not an AgentAssertion"},
		{"as AgentAssertion", "POST", "/backend-api/codex/responses", http.Header{"Authorization": {"AgentAssertion " + pat.Reveal()}, "Chatgpt-Account-Id": {acct.AccountID}}, 401, "AgentAssertion"},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, tt.method, tt.path, tt.header, `{}`)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			assert.Contains(t, string(body), tt.wantBody)
			assert.NotContains(t, string(body), pat.Reveal())
			if resp.StatusCode != http.StatusUnauthorized {
				accepted++
			}
		})
	}
	assert.Equal(t, accepted, srv.Stats().BearerRequestsAccepted)

	// Never at agent registration, FedRAMP or not.
	for _, tok := range []codexhome.Secret{pat, patf} {
		status, out := registerWith(t, srv, tok, tok.Equal(patf))
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "a personal access token cannot register an agent", out["error"])
	}
	assert.Equal(t, 0, srv.Stats().AgentsRegistered)
}

// TestWriteCodexHomePersonalAccessToken: the file `codex login
// --with-access-token` writes, byte for byte (interop golden
// o-login-auth.json).
func TestWriteCodexHomePersonalAccessToken(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	pat, _ := srv.MintPersonalAccessToken(patAccount)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	tests := []struct {
		name string
		o    identitytest.CodexHomeOptions
		want func(data string)
	}{
		{"alone, as Codex writes it", identitytest.CodexHomeOptions{PersonalAccessToken: pat}, func(data string) {
			assert.Equal(t, "{\n  \"OPENAI_API_KEY\": null,\n  \"personal_access_token\": \""+pat.Reveal()+"\"\n}", data)
		}},
		{"beside a login", identitytest.CodexHomeOptions{PersonalAccessToken: pat, Login: &login}, func(data string) {
			assert.Contains(t, data, "\n  \"personal_access_token\": \""+pat.Reveal()+"\"\n}\n")
			assert.Contains(t, data, login.RefreshToken.Reveal())
		}},
		{"none", identitytest.CodexHomeOptions{Login: &login}, func(data string) {
			assert.NotContains(t, data, "personal_access_token")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			require.NoError(t, srv.WriteCodexHome(home, tt.o))
			data, err := os.ReadFile(filepath.Join(home, "auth.json"))
			require.NoError(t, err)
			tt.want(string(data))
			fi, err := os.Stat(filepath.Join(home, "auth.json"))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		})
	}
}

// errorsIsTimeout reports whether err is a client time-out.
func errorsIsTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// TestWriteCodexHomeRefusesSymlinks: a symbolic link at auth.json or
// config.toml is refused, not followed (the file it names is untouched), and
// an existing auth.json of another mode ends with mode 0600.
func TestWriteCodexHomeRefusesSymlinks(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	pat, _ := srv.MintPersonalAccessToken(patAccount)
	tests := []struct {
		name string
		file string
	}{
		{"auth.json", "auth.json"},
		{"config.toml", "config.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			target := filepath.Join(t.TempDir(), "elsewhere")
			require.NoError(t, os.WriteFile(target, []byte("kept"), 0o644))
			require.NoError(t, os.Symlink(target, filepath.Join(home, tt.file)))
			require.Error(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{PersonalAccessToken: pat}))
			data, err := os.ReadFile(target)
			require.NoError(t, err)
			assert.Equal(t, "kept", string(data))
		})
	}
	t.Run("existing file of mode 0644", func(t *testing.T) {
		home := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"), []byte("{}"), 0o644))
		require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{PersonalAccessToken: pat}))
		fi, err := os.Stat(filepath.Join(home, "auth.json"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
}
