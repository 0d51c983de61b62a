package identitytest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

const (
	testRuleID    = "fedrule_interop_0123"
	testAssertion = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2ln"
	jwtBearer     = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
	// recordedOddBody is the body Codex 0.171 sent for the assertion
	// "ab+/=~*.c d", the rule "rule~*.-_x" and the context
	// ` {"a":"~*+/ é&="} ` (interop golden s-wif-exchange.txt).
	recordedOddBody = jwtBearer + `&assertion=ab%2B%2F%3D%7E*.c+d&federation_rule_id=rule%7E*.-_x&workload_identity_context=+%7B%22a%22%3A%22%7E*%2B%2F+%C3%A9%26%3D%22%7D+`
)

var wifAccount = codexhome.Account{AccountID: "account-wif", UserID: "user-wif", PlanType: "enterprise"}

// exchangeBody is the form Codex sends for assertion and rule (both plain
// values that need no escaping).
func exchangeBody(assertion, rule string) string {
	return jwtBearer + "&assertion=" + assertion + "&federation_rule_id=" + rule
}

// exchange posts body as a token exchange through hc (nil: the server's
// client, redirects not followed) with the headers Codex sends.
func exchange(t *testing.T, srv *identitytest.Server, hc *http.Client, body string, h http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.RefreshTokenURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	if hc == nil {
		hc = srv.Client()
		hc = &http.Client{Transport: hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// exchangeAnswer is the answer of a valid exchange, decoded.
type exchangeAnswer struct {
	AccessToken          string `json:"access_token"`
	ChatGPTAccountID     string `json:"chatgpt_account_id"`
	ChatGPTAccountUserID string `json:"chatgpt_account_user_id"`
	ChatGPTPlanType      string `json:"chatgpt_plan_type"`
	ExpiresIn            int    `json:"expires_in"`
	IssuedTokenType      string `json:"issued_token_type"`
	Scope                string `json:"scope"`
	TokenType            string `json:"token_type"`
	UserID               string `json:"user_id"`
}

// authClaim decodes the "https://api.openai.com/auth" claim and "exp" of a
// JWT without verifying it.
func authClaim(t *testing.T, tok string) (map[string]any, int64) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Exp  int64          `json:"exp"`
		Iss  string         `json:"iss"`
		Auth map[string]any `json:"https://api.openai.com/auth"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.Equal(t, "https://auth.openai.com", claims.Iss)
	return claims.Auth, claims.Exp
}

func TestAddWorkloadIdentity(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	tests := []struct {
		name      string
		rule      string
		assertion string
		account   codexhome.Account
		wantErr   bool
	}{
		{"as given", testRuleID, testAssertion, wifAccount, false},
		{"defaults", "rule-2", "a2", codexhome.Account{}, false},
		{"blank rule", " ", testAssertion, wifAccount, true},
		{"empty rule", "", testAssertion, wifAccount, true},
		{"rule not trimmed", " r", testAssertion, wifAccount, true},
		{"empty assertion", testRuleID, "", wifAccount, true},
		{"assertion not trimmed", testRuleID, testAssertion + "\n", wifAccount, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := srv.AddWorkloadIdentity(tt.rule, codexhome.NewSecret(tt.assertion), tt.account)
			if tt.wantErr {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), testAssertion)
				return
			}
			require.NoError(t, err)
			if tt.account.AccountID != "" {
				assert.Equal(t, tt.account, got)
				return
			}
			assert.True(t, strings.HasPrefix(got.AccountID, "account-wif-"), got.AccountID)
			assert.True(t, strings.HasPrefix(got.UserID, "user-wif-"), got.UserID)
			assert.Equal(t, "plus", got.PlanType)
		})
	}
}

// TestTokenExchange: the exchange as Codex sends it gets the answer Codex
// accepts, whose token then works like a login's on every route,
// inference included.
func TestTokenExchange(t *testing.T) {
	clock := newFakeClock()
	srv := newServer(t, identitytest.Options{Now: clock.Now, ResponseText: "hi wif"})
	_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
	require.NoError(t, err)
	odd, err := srv.AddWorkloadIdentity("rule~*.-_x", codexhome.NewSecret("ab+/=~*.c d"), codexhome.Account{AccountID: "account-odd"})
	require.NoError(t, err)

	tests := []struct {
		name    string
		body    string
		account codexhome.Account
	}{
		{"as Codex sends it", exchangeBody(testAssertion, testRuleID), wifAccount},
		{"odd bytes and a context, as recorded", recordedOddBody, odd},
		{"an empty context", exchangeBody(testAssertion, testRuleID) + "&workload_identity_context=", wifAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Stats()
			resp, body, err := exchange(t, srv, nil, tt.body, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var a exchangeAnswer
			require.NoError(t, json.Unmarshal(body, &a))
			var members map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &members))
			assert.Len(t, members, 9)
			assert.Equal(t, exchangeAnswer{
				AccessToken:          a.AccessToken,
				ChatGPTAccountID:     tt.account.AccountID,
				ChatGPTAccountUserID: tt.account.UserID + "__" + tt.account.AccountID,
				ChatGPTPlanType:      tt.account.PlanType,
				ExpiresIn:            3600,
				IssuedTokenType:      "urn:ietf:params:oauth:token-type:access_token",
				Scope:                "openid profile email",
				TokenType:            "Bearer",
				UserID:               tt.account.UserID,
			}, a)
			auth, exp := authClaim(t, a.AccessToken)
			assert.Equal(t, tt.account.UserID, auth["chatgpt_user_id"])
			assert.Equal(t, tt.account.AccountID, auth["chatgpt_account_id"])
			assert.Equal(t, clock.Now().Add(time.Hour).Unix(), exp)

			tok := codexhome.NewSecret(a.AccessToken)
			h := http.Header{"Authorization": {"Bearer " + a.AccessToken}, "Chatgpt-Account-Id": {tt.account.AccountID}}
			for _, route := range []struct{ method, path, accept, want string }{
				{"GET", "/backend-api/wham/accounts/check", "", `"id":"` + tt.account.AccountID + `"`},
				{"GET", "/backend-api/wham/config/bundle", "", `{}`},
				{"GET", "/backend-api/codex/models?client_version=0.171.0", "", `{"models":[]}`},
				{"POST", "/backend-api/codex/responses", "text/event-stream", "hi wif"},
				{"POST", "/backend-api/codex/responses/compact", "", `{"output":[]}`},
			} {
				hh := h.Clone()
				if route.accept != "" {
					hh.Set("Accept", route.accept)
				}
				resp, out := do(t, srv, route.method, route.path, hh, "{}")
				assert.Equal(t, http.StatusOK, resp.StatusCode, route.path+": "+string(out))
				assert.Contains(t, string(out), route.want, route.path)
			}
			// Never an agent registration.
			status, out := registerWith(t, srv, tok, false)
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, "a workload identity's access token cannot register an agent", out["error"])

			after := srv.Stats()
			assert.Equal(t, 1, after.TokenExchanges-before.TokenExchanges)
			assert.Equal(t, 0, after.TokenExchangesRefused-before.TokenExchangesRefused)
			assert.Equal(t, 5, after.BearerRequestsAccepted-before.BearerRequestsAccepted)
			assert.Equal(t, 0, after.AgentsRegistered)
		})
	}
}

// TestExchangedTokenRefused: an exchanged token needs its own account
// header, and lapses at expires_in by the server's clock.
func TestExchangedTokenRefused(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		advance time.Duration
		header  func(h http.Header)
		want    int
		reason  string
	}{
		{"fresh", 30 * time.Second, 29 * time.Second, nil, 200, ""},
		{"lapsed", 30 * time.Second, 30 * time.Second, nil, 401, "expired"},
		{"lapsed, default TTL", 0, time.Hour, nil, 401, "expired"},
		{"no ChatGPT-Account-ID", 0, 0, func(h http.Header) { h.Del("Chatgpt-Account-Id") }, 401, "ChatGPT-Account-ID"},
		{"another account", 0, 0, func(h http.Header) { h.Set("Chatgpt-Account-Id", "account-other") }, 401, "ChatGPT-Account-ID"},
		{"a FedRAMP header", 0, 0, func(h http.Header) { h.Set("X-Openai-Fedramp", "true") }, 401, "Fedramp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			srv := newServer(t, identitytest.Options{Now: clock.Now, TokenExchangeTTL: tt.ttl})
			_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
			require.NoError(t, err)
			resp, body, err := exchange(t, srv, nil, exchangeBody(testAssertion, testRuleID), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			var a exchangeAnswer
			require.NoError(t, json.Unmarshal(body, &a))
			clock.Advance(tt.advance)
			for _, route := range []struct{ method, path string }{
				{"GET", "/backend-api/wham/accounts/check"},
				{"POST", "/backend-api/codex/responses"},
			} {
				h := http.Header{"Authorization": {"Bearer " + a.AccessToken}, "Chatgpt-Account-Id": {wifAccount.AccountID}}
				if tt.header != nil {
					tt.header(h)
				}
				resp, out := do(t, srv, route.method, route.path, h, "{}")
				assert.Equal(t, tt.want, resp.StatusCode, route.path+": "+string(out))
				assert.Contains(t, string(out), tt.reason)
			}
		})
	}
}

// TestTokenExchangeTTL: Options.TokenExchangeTTL sets expires_in and the
// token's exp, in whole seconds from 1 to 3600.
func TestTokenExchangeTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		want int
	}{
		{"default", 0, 3600},
		{"one second", time.Second, 1},
		{"thirty seconds", 30 * time.Second, 30},
		{"cut to whole seconds", 1500 * time.Millisecond, 1},
		{"less than a second", time.Millisecond, 1},
		{"negative", -time.Minute, 1},
		{"an hour", time.Hour, 3600},
		{"more than an hour", 2 * time.Hour, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			srv := newServer(t, identitytest.Options{Now: clock.Now, TokenExchangeTTL: tt.ttl})
			_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
			require.NoError(t, err)
			_, body, err := exchange(t, srv, nil, exchangeBody(testAssertion, testRuleID), nil)
			require.NoError(t, err)
			var a exchangeAnswer
			require.NoError(t, json.Unmarshal(body, &a))
			assert.Equal(t, tt.want, a.ExpiresIn)
			_, exp := authClaim(t, a.AccessToken)
			assert.Equal(t, clock.Now().Unix()+int64(tt.want), exp)
		})
	}
}

// TestTokenExchangeRefused: the server checks the form byte for byte as
// Codex sends it, and the pair of rule and assertion.
func TestTokenExchangeRefused(t *testing.T) {
	srv := newServer(t, identitytest.Options{})
	_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
	require.NoError(t, err)
	_, err = srv.AddWorkloadIdentity("rule-2", codexhome.NewSecret("assertion-2"), codexhome.Account{})
	require.NoError(t, err)
	_, err = srv.AddWorkloadIdentity("rule~*.-_x", codexhome.NewSecret("ab+/=~*.c d"), codexhome.Account{})
	require.NoError(t, err)
	good := exchangeBody(testAssertion, testRuleID)
	goEncoded := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {testAssertion}, "federation_rule_id": {testRuleID}}.Encode()
	tests := []struct {
		name      string
		body      string
		header    http.Header
		wantError string
		wantWhy   string // a substring of error_description
	}{
		{"url.Values.Encode (members sorted)", goEncoded, nil, "invalid_request", "member 1 must be grant_type"},
		{"~ not escaped", strings.Replace(recordedOddBody, "%7E", "~", -1), nil, "invalid_request", "assertion is not in the WHATWG form encoding"},
		{"* escaped", strings.Replace(recordedOddBody, "*", "%2A", -1), nil, "invalid_request", "WHATWG"},
		{"space as %20", strings.Replace(recordedOddBody, "c+d", "c%20d", 1), nil, "invalid_request", "WHATWG"},
		{"lower-case hex", strings.Replace(recordedOddBody, "%2B%2F", "%2b%2f", 1), nil, "invalid_request", "WHATWG"},
		{"context with a raw space", strings.Replace(recordedOddBody, "context=+", "context= ", 1), nil, "invalid_request", "workload_identity_context is not in the WHATWG"},
		{"a bad escape", strings.Replace(good, "assertion=", "assertion=%zz", 1), nil, "invalid_request", "WHATWG"},
		{"grant_type unescaped", strings.Replace(good, "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", "urn:ietf:params:oauth:grant-type:jwt-bearer", 1), nil, "invalid_request", "grant_type is not in the WHATWG"},
		{"another grant type", strings.Replace(good, "jwt-bearer", "token-exchange", 1), nil, "invalid_request", "grant_type must be"},
		{"no grant type", "assertion=" + testAssertion + "&federation_rule_id=" + testRuleID, nil, "invalid_request", "want the members"},
		{"no rule id", jwtBearer + "&assertion=" + testAssertion, nil, "invalid_request", "want the members"},
		{"a client id", good + "&client_id=app_EMoamEEZ73f0CkXaXp7hrann", nil, "invalid_request", "member 4 must be workload_identity_context"},
		{"a client id and a context", good + "&workload_identity_context=x&client_id=app", nil, "invalid_request", "want the members"},
		{"a member twice", jwtBearer + "&assertion=" + testAssertion + "&assertion=" + testAssertion, nil, "invalid_request", "member 3 must be federation_rule_id"},
		{"a member without =", jwtBearer + "&assertion&federation_rule_id=" + testRuleID, nil, "invalid_request", "member 2 must be assertion"},
		{"a trailing &", good + "&", nil, "invalid_request", "member 4"},
		{"empty assertion", exchangeBody("", testRuleID), nil, "invalid_request", "assertion is empty or not trimmed"},
		{"assertion not trimmed", exchangeBody("+"+testAssertion, testRuleID), nil, "invalid_request", "assertion is empty or not trimmed"},
		{"rule id not trimmed", exchangeBody(testAssertion, testRuleID+"+"), nil, "invalid_request", "federation_rule_id is empty or not trimmed"},
		{"empty body", "", nil, "invalid_request", "want the members"},
		{"unknown assertion", exchangeBody("other", testRuleID), nil, "invalid_grant", "not accepted for this federation rule"},
		{"unknown rule", exchangeBody(testAssertion, "rule-9"), nil, "invalid_grant", "not accepted"},
		{"another rule's assertion", exchangeBody("assertion-2", testRuleID), nil, "invalid_grant", "not accepted"},
		{"a charset", good, http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, "invalid_request", "Content-Type"},
		{"an Authorization header", good, http.Header{"Authorization": {"Basic YXBwOg=="}}, "invalid_request", "Authorization"},
		{"too large", exchangeBody(strings.Repeat("a", 300<<10), testRuleID), nil, "invalid_request", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := exchange(t, srv, nil, tt.body, tt.header)
			require.NoError(t, err)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, resp.StatusCode, string(body))
			var out map[string]string
			require.NoError(t, json.Unmarshal(body, &out), string(body))
			assert.Equal(t, tt.wantError, out["error"])
			assert.Contains(t, out["error_description"], tt.wantWhy)
			assert.NotContains(t, string(body), testAssertion)
		})
	}
	st := srv.Stats()
	assert.Equal(t, len(tests), st.TokenExchanges)
	assert.Equal(t, len(tests), st.TokenExchangesRefused)
	assert.Equal(t, 0, st.Refreshes+st.RefreshesRefused, "a form body is never a refresh")

	// A JSON body at the same URL is a refresh, not an exchange.
	status, out := post(t, srv, srv.RefreshTokenURL, `{"client_id":"c","grant_type":"refresh_token","refresh_token":"rt-x"}`, http.Header{"Content-Type": {"application/json"}})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "invalid_grant", out["error"])
	assert.Equal(t, 1, srv.Stats().RefreshesRefused)
	assert.Equal(t, len(tests), srv.Stats().TokenExchanges)
}

// TestTokenExchangeFaults: every answer the interop record lists, and the
// transport failures, through SetFault with TokenExchange.
func TestTokenExchangeFaults(t *testing.T) {
	edit := func(f func(m map[string]any)) identitytest.Fault {
		return identitytest.Fault{TokenExchange: true, EditAnswer: f}
	}
	del := func(name string) identitytest.Fault { return edit(func(m map[string]any) { delete(m, name) }) }
	set := func(name string, v any) identitytest.Fault { return edit(func(m map[string]any) { m[name] = v }) }
	huge := bytes.Repeat([]byte(" "), 8<<20)
	tests := []struct {
		name       string
		fault      identitytest.Fault
		timeout    time.Duration
		wantErr    bool // a transport error
		wantStatus int
		check      func(t *testing.T, m map[string]json.RawMessage, raw []byte) // of a 2xx answer
		wantHeader http.Header
	}{
		{"token_type bearer", set("token_type", "bearer"), 0, false, 200, func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
			assert.Equal(t, `"bearer"`, string(m["token_type"]))
		}, nil},
		{"an unknown member", set("x_extra", true), 0, false, 200, func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
			assert.Equal(t, "true", string(m["x_extra"]))
		}, nil},
		{"no chatgpt_plan_type", del("chatgpt_plan_type"), 0, false, 200, absent("chatgpt_plan_type"), nil},
		{"no scope", del("scope"), 0, false, 200, absent("scope"), nil},
		{"no chatgpt_account_user_id", del("chatgpt_account_user_id"), 0, false, 200, absent("chatgpt_account_user_id"), nil},
		{"no user_id", del("user_id"), 0, false, 200, absent("user_id"), nil},
		{"no chatgpt_account_id", del("chatgpt_account_id"), 0, false, 200, absent("chatgpt_account_id"), nil},
		{"user_id not the token's", set("user_id", "user-other"), 0, false, 200, member("user_id", `"user-other"`), nil},
		{"chatgpt_account_id not the token's", set("chatgpt_account_id", "account-other"), 0, false, 200, member("chatgpt_account_id", `"account-other"`), nil},
		{"issued_token_type id_token", set("issued_token_type", "urn:ietf:params:oauth:token-type:id_token"), 0, false, 200, member("issued_token_type", `"urn:ietf:params:oauth:token-type:id_token"`), nil},
		{"token_type mac", set("token_type", "mac"), 0, false, 200, member("token_type", `"mac"`), nil},
		{"expires_in 0", set("expires_in", 0), 0, false, 200, member("expires_in", `0`), nil},
		{"expires_in 3601", set("expires_in", 3601), 0, false, 200, member("expires_in", `3601`), nil},
		{`expires_in "3600"`, set("expires_in", "3600"), 0, false, 200, member("expires_in", `"3600"`), nil},
		{"expires_in 3600.5", set("expires_in", 3600.5), 0, false, 200, member("expires_in", `3600.5`), nil},
		{"access_token not a JWT", set("access_token", "opaque-token"), 0, false, 200, member("access_token", `"opaque-token"`), nil},
		{"not JSON", identitytest.Fault{TokenExchange: true, Body: []byte("<html>")}, 0, false, 200, func(t *testing.T, _ map[string]json.RawMessage, raw []byte) {
			assert.Equal(t, "<html>", string(raw))
		}, nil},
		{"huge", identitytest.Fault{TokenExchange: true, Body: huge}, 0, false, 200, func(t *testing.T, _ map[string]json.RawMessage, raw []byte) {
			assert.Len(t, raw, len(huge))
		}, nil},
		{"HTTP 401", identitytest.Fault{TokenExchange: true, Status: 401, Body: []byte(`{"error":"invalid_grant","error_description":"a detail"}`)}, 0, false, 401, nil, nil},
		{"HTTP 429", identitytest.Fault{TokenExchange: true, Status: 429, RetryAfter: "2"}, 0, false, 429, nil, http.Header{"Retry-After": {"2"}}},
		{"HTTP 503", identitytest.Fault{TokenExchange: true, Status: 503}, 0, false, 503, nil, nil},
		{"HTTP 307", identitytest.Fault{TokenExchange: true, RedirectTo: "https://auth.openai.com/oauth/token-moved"}, 0, false, 307, nil,
			http.Header{"Location": {"https://auth.openai.com/oauth/token-moved"}}},
		{"slow", identitytest.Fault{TokenExchange: true, Delay: time.Minute}, 50 * time.Millisecond, true, 0, nil, nil},
		{"hang-up", identitytest.Fault{TokenExchange: true, HangUp: true}, 0, true, 0, nil, nil},
		{"an AuthAPI fault leaves it alone", identitytest.Fault{Status: 503, HangUp: true}, 0, false, 200, member("token_type", `"Bearer"`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, identitytest.Options{})
			_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
			require.NoError(t, err)
			srv.SetFault(tt.fault)
			hc := &http.Client{Timeout: tt.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			defer hc.CloseIdleConnections()
			resp, body, err := exchange(t, srv, hc, exchangeBody(testAssertion, testRuleID), nil)
			assert.Equal(t, 1, srv.Stats().TokenExchanges)
			assert.Equal(t, 0, srv.Stats().TokenExchangesRefused)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, tt.timeout > 0, errorsIsTimeout(err), err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			for k := range tt.wantHeader {
				assert.Equal(t, tt.wantHeader.Get(k), resp.Header.Get(k), k)
			}
			if tt.check != nil {
				var m map[string]json.RawMessage
				_ = json.Unmarshal(body, &m)
				tt.check(t, m, body)
			}
		})
	}
}

func absent(name string) func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
	return func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
		assert.NotContains(t, m, name)
		assert.Len(t, m, 8, "the other members stay")
	}
}

func member(name, want string) func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
	return func(t *testing.T, m map[string]json.RawMessage, _ []byte) {
		assert.Equal(t, want, string(m[name]))
	}
}

// TestTokenExchangeFaultCount: a counted failure, then a real exchange;
// the per-request log sees each, the hang-up included.
func TestTokenExchangeFaultCount(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	srv := newServer(t, identitytest.Options{OnRequest: func(e identitytest.Exchange) {
		mu.Lock()
		lines = append(lines, e.LogLine())
		mu.Unlock()
	}})
	_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
	require.NoError(t, err)
	srv.SetFault(identitytest.Fault{TokenExchange: true, HangUp: true, Count: 1})
	_, _, err = exchange(t, srv, nil, exchangeBody(testAssertion, testRuleID), nil)
	require.Error(t, err)
	resp, body, err := exchange(t, srv, nil, exchangeBody(testAssertion, testRuleID), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	_, _, err = exchange(t, srv, nil, exchangeBody("unknown", testRuleID), nil)
	require.NoError(t, err)
	assert.Equal(t, 3, srv.Stats().TokenExchanges)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"POST /oauth/token no-auth hung up (fault) 0",
		"POST /oauth/token no-auth verified 200",
		"POST /oauth/token no-auth refused: invalid_grant (the assertion is not accepted for this federation rule) 400",
	}, lines)
	for _, l := range lines {
		assert.NotContains(t, l, testAssertion)
	}
}

// TestHangUpOverHTTP2: over TLS (HTTP/2) a hang-up resets the stream, and
// the next request on the connection is answered.
func TestHangUpOverHTTP2(t *testing.T) {
	srv := newTLSServer(t, identitytest.Options{})
	_, err := srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(testAssertion), wifAccount)
	require.NoError(t, err)
	pat, _ := srv.MintPersonalAccessToken(patAccount)
	tests := []struct {
		name  string
		fault identitytest.Fault
		call  func() (*http.Response, error)
	}{
		{"token exchange", identitytest.Fault{TokenExchange: true, HangUp: true, Count: 1}, func() (*http.Response, error) {
			resp, _, err := exchange(t, srv, srv.Client(), exchangeBody(testAssertion, testRuleID), nil)
			return resp, err
		}},
		{"lookup", identitytest.Fault{HangUp: true, Count: 1}, func() (*http.Response, error) {
			resp, _, err := whoami(t, srv, nil, bearerHeader(pat))
			return resp, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetFault(tt.fault)
			_, err := tt.call()
			require.Error(t, err)
			resp, err := tt.call()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 2, resp.ProtoMajor)
		})
	}
}
