package main

import (
	"encoding/json"
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

// TestStatusChecksWhatItShows: status reports what is wrong with the
// credential it shows, and exits 1 when nothing is usable.
func TestStatusChecksWhatItShows(t *testing.T) {
	srv := fakeBackend(t)
	good, goodClaims := mintJWT(t, srv, identitytest.JWTOptions{})
	issued := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	expired, _ := mintJWT(t, srv, identitytest.JWTOptions{IssuedAt: issued, TTL: time.Hour})
	expiredAt := issued.Add(time.Hour).UTC().Format(time.RFC3339)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	addSecret(t, "status login access token", login.AccessToken.Reveal())
	addSecret(t, "status login refresh token", login.RefreshToken.Reveal())
	addSecret(t, "status login id token", login.IDToken.Reveal())
	loginHome := filepath.Join(t.TempDir(), "login")
	require.NoError(t, srv.WriteCodexHome(loginHome, identitytest.CodexHomeOptions{Login: &login}))
	jwtHome := filepath.Join(t.TempDir(), "jwt")
	require.NoError(t, srv.WriteCodexHome(jwtHome, identitytest.CodexHomeOptions{AgentJWT: codexhome.NewSecret(expired)}))
	emptyHome := t.TempDir()
	pat, _ := srv.MintPersonalAccessToken(codexhome.Account{})
	addSecret(t, "status personal access token", pat.Reveal())
	patHome := filepath.Join(t.TempDir(), "pat")
	require.NoError(t, srv.WriteCodexHome(patHome, identitytest.CodexHomeOptions{PersonalAccessToken: pat}))
	patLoginHome := filepath.Join(t.TempDir(), "pat-login")
	require.NoError(t, srv.WriteCodexHome(patLoginHome, identitytest.CodexHomeOptions{PersonalAccessToken: pat, Login: &login}))
	badPATHome := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(badPATHome, "auth.json"), []byte(`{"OPENAI_API_KEY": null, "personal_access_token": "not-a-token"}`), 0o600))

	tests := []struct {
		name      string
		home      string
		token     string
		code      int
		state     string // access_token.state ("" when unset)
		kind      string // access_token.kind ("" for no check)
		usable    string // substring of "usable" ("" for none)
		problem   string // substring of the stderr line and of a problem
		textLines []string
	}{
		{name: "a good token", home: emptyHome, token: good, code: 0, state: "ok", usable: "$CODEX_ACCESS_TOKEN",
			textLines: []string{"$CODEX_ACCESS_TOKEN    present (takes precedence over auth.json): Agent Identity JWT of agent " + goodClaims.AgentRuntimeID}},
		{name: "an expired token", home: loginHome, token: expired, code: 1, state: "expired", problem: "EXPIRED: expired at " + expiredAt,
			textLines: []string{"problem                $CODEX_ACCESS_TOKEN: EXPIRED: expired at " + expiredAt}},
		{name: "a malformed token", home: loginHome, token: "a.b.c", code: 1, state: "malformed", problem: "MALFORMED: invalid Agent Identity JWT"},
		{name: "a ChatGPT access token", home: emptyHome, token: login.AccessToken.Reveal(), code: 1, state: "wrong-kind", problem: "NOT an Agent Identity JWT: a ChatGPT access token"},
		{name: "a personal access token", home: loginHome, token: "at-0123456789abcdef", code: 0, state: "ok", kind: "personal-access-token", usable: "$CODEX_ACCESS_TOKEN (personal access token",
			textLines: []string{"$CODEX_ACCESS_TOKEN    present (takes precedence over auth.json): personal access token (at-…): sent as Bearer"}},
		{name: "a personal access token in auth.json", home: patHome, code: 0, usable: "auth.json personal access token",
			textLines: []string{"personal_access_token  present\n"}},
		{name: "a personal access token in auth.json and a login", home: patLoginHome, code: 0, usable: "auth.json personal access token"},
		{name: "CODEX_ACCESS_TOKEN over a stored personal access token", home: patHome, token: good, code: 0, state: "ok", kind: "agent-identity-jwt", usable: "$CODEX_ACCESS_TOKEN"},
		{name: "a personal_access_token member that is not one", home: badPATHome, code: 1, problem: "auth.json's personal_access_token does not hold a personal access token"},
		{name: "an expired stored JWT", home: jwtHome, code: 1, problem: "the agent_identity JWT in auth.json expired at " + expiredAt,
			textLines: []string{"expires_at             " + expiredAt + " (EXPIRED)"}},
		{name: "a ChatGPT login", home: loginHome, code: 0, usable: "ChatGPT login"},
		{name: "nothing", home: emptyHome, code: 1, problem: "no usable identity or credential in " + emptyHome,
			textLines: []string{"usable                 nothing"}},
		{name: "a home that does not exist", home: filepath.Join(emptyHome, "missing"), code: 1, problem: "does not exist",
			textLines: []string{"codex_home             " + filepath.Join(emptyHome, "missing") + " (does not exist)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := mergeEnv(srv.Env(), map[string]string{"CODEX_HOME": tt.home})
			if tt.token != "" {
				env[envCodexAccessToken] = tt.token
			}
			r := runBin(t, invocation{args: []string{"status", "--json"}, env: env})
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			var rep statusReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "one JSON object, also on exit 1")
			assert.Equal(t, tt.code == 0, rep.OK)
			if tt.state != "" {
				require.NotNil(t, rep.AccessToken)
				assert.Equal(t, tt.state, rep.AccessToken.State)
				if tt.kind != "" {
					assert.Equal(t, tt.kind, rep.AccessToken.Kind)
				}
			} else {
				assert.Nil(t, rep.AccessToken)
			}
			if tt.usable != "" {
				assert.Contains(t, rep.Usable, tt.usable)
			} else {
				assert.Empty(t, rep.Usable)
			}
			if tt.code == 0 {
				assert.Empty(t, r.stderr)
				assert.Empty(t, rep.Problems)
			} else {
				assert.True(t, strings.HasPrefix(r.stderr, "agentid: status: "), r.stderr)
				assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
				assert.Contains(t, r.stderr, tt.problem)
				assert.Contains(t, strings.Join(rep.Problems, "\n"), tt.problem)
				assert.NotEmpty(t, rep.Hint, "what to do")
				assert.Contains(t, rep.Error, tt.problem)
			}

			r = runBin(t, invocation{args: []string{"status"}, env: env})
			require.Equal(t, tt.code, r.code)
			for _, l := range tt.textLines {
				assert.Contains(t, r.stdout, l)
			}
		})
	}
}

// TestStatusWorkloadIdentity: a selected workload identity is checked as
// Load checks it, wins over every other credential, and a configuration
// Load refuses is a problem.
func TestStatusWorkloadIdentity(t *testing.T) {
	srv := fakeBackend(t)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	addSecret(t, "status login access token", login.AccessToken.Reveal())
	addSecret(t, "status login refresh token", login.RefreshToken.Reveal())
	addSecret(t, "status login id token", login.IDToken.Reveal())
	fakeHome := filepath.Join(t.TempDir(), "fake")
	require.NoError(t, srv.WriteCodexHome(fakeHome, identitytest.CodexHomeOptions{Login: &login}))
	// A home of the production environment holding a login.
	prodHome := t.TempDir()
	require.NoError(t, srv.WriteCodexHome(prodHome, identitytest.CodexHomeOptions{Login: &login}))
	require.NoError(t, os.Remove(filepath.Join(prodHome, "config.toml")))
	tokenFile := filepath.Join(t.TempDir(), "oidc-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ3b3JrbG9hZCJ9.\n"), 0o600))
	wif := map[string]string{envFederationRuleID: " fedrule_status ", envIdentityTokenFile: tokenFile}

	tests := []struct {
		name    string
		home    string
		env     map[string]string
		code    int
		problem string // substring of the stderr line and of workload_identity.error
	}{
		{name: "a workload identity", home: prodHome, env: wif, code: 0},
		{name: "over a CODEX_ACCESS_TOKEN that is not usable", home: prodHome, env: mergeEnv(wif, map[string]string{envCodexAccessToken: "a.b.c"}), code: 0},
		{name: "only the rule", home: prodHome, env: map[string]string{envFederationRuleID: "fedrule_status"}, code: 1,
			problem: "workload identity requires OPENAI_IDENTITY_TOKEN_FILE"},
		{name: "the token file variable set to nothing", home: prodHome, env: map[string]string{envFederationRuleID: "fedrule_status", envIdentityTokenFile: ""}, code: 1,
			problem: "OPENAI_IDENTITY_TOKEN_FILE must be an absolute path"},
		{name: "a token file that does not exist", home: prodHome, env: mergeEnv(wif, map[string]string{envIdentityTokenFile: tokenFile + ".absent"}), code: 1,
			problem: "could not read workload identity assertion file " + tokenFile + ".absent"},
		{name: "the fake's base URL", home: fakeHome, env: mergeEnv(srv.Env(), wif), code: 1,
			problem: "workload identity auth supports only trusted production and staging app routing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := mergeEnv(tt.env, map[string]string{"CODEX_HOME": tt.home})
			r := runBin(t, invocation{args: []string{"status", "--json"}, env: env})
			require.Equal(t, tt.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			var rep statusReport
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "one JSON object, also on exit 1")
			require.NotNil(t, rep.WorkloadIdentity)
			assert.Equal(t, "file", rep.WorkloadIdentity.TokenSource)
			if tt.code == 0 {
				assert.Empty(t, r.stderr)
				assert.Equal(t, "fedrule_status", rep.WorkloadIdentity.FederationRuleID)
				assert.Contains(t, rep.Usable, "workload identity")
				assert.Empty(t, rep.WorkloadIdentity.Error)
			} else {
				assert.Empty(t, rep.Usable, "nothing else is used")
				assert.True(t, strings.HasPrefix(r.stderr, "agentid: status: workload identity refused: "), r.stderr)
				assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
				assert.Contains(t, r.stderr, tt.problem)
				assert.Contains(t, rep.WorkloadIdentity.Error, tt.problem)
			}
			r = runBin(t, invocation{args: []string{"status"}, env: env})
			assert.Contains(t, r.stdout, "workload_identity      selected (rule ")
		})
	}
}
