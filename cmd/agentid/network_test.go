package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// fakeBackend starts an identitytest server for one test.
func fakeBackend(t *testing.T) *identitytest.Server {
	t.Helper()
	srv := identitytest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// loginHome writes a $CODEX_HOME with a minted ChatGPT login and returns it
// and the environment that points a child process at srv and that home.
func loginHome(t *testing.T, srv *identitytest.Server, optIn bool) (string, map[string]string, identitytest.ChatGPTLogin) {
	t.Helper()
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	addSecret(t, "access token", login.AccessToken.Reveal())
	addSecret(t, "id token", login.IDToken.Reveal())
	addSecret(t, "refresh token", login.RefreshToken.Reveal())
	home := filepath.Join(t.TempDir(), "codex")
	require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: optIn}))
	env := srv.Env()
	env["CODEX_HOME"] = home
	return home, env, login
}

// mintJWT mints an Agent Identity JWT and registers it and its key as
// secrets; it returns the token and its claims.
func mintJWT(t *testing.T, srv *identitytest.Server, o identitytest.JWTOptions) (string, *identity.Claims) {
	t.Helper()
	minted, err := srv.MintAgentJWT(o)
	require.NoError(t, err)
	tok := minted.Reveal()
	addSecret(t, "agent JWT", tok)
	addSecret(t, "agent JWT signature", tok[strings.LastIndexByte(tok, '.')+1:])
	claims, err := identity.DecodeJWTUnverified(codexhome.NewSecret(tok))
	require.NoError(t, err)
	addSecret(t, "agent JWT private key claim", claims.AgentPrivateKey.Reveal())
	return tok, claims
}

// storedRecord reads the agent identity record of home and registers its key
// as a secret.
func storedRecord(t *testing.T, home string) *codexhome.AgentIdentityRecord {
	t.Helper()
	af, err := codexhome.OpenStore(home).Read()
	require.NoError(t, err)
	rec := af.AgentIdentityRecord()
	require.NotNil(t, rec)
	addSecret(t, "stored agent private key", rec.AgentPrivateKey.Reveal())
	return rec
}

func TestProvisionStatusRegisterTask(t *testing.T) {
	srv := fakeBackend(t)
	home, env, login := loginHome(t, srv, false)

	t.Run("status before provisioning", func(t *testing.T) {
		r := runBin(t, invocation{args: []string{"status", "--json"}, env: env})
		require.Equal(t, 0, r.code, r.stderr)
		var got statusReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, home, got.CodexHome)
		assert.Equal(t, "none", got.AgentIdentity.Form)
		assert.True(t, got.ChatGPTLogin.Present)
		assert.Equal(t, "present", got.ChatGPTLogin.AccessToken)
		assert.Equal(t, login.AccountID, got.ChatGPTLogin.AccountID)
		assert.Equal(t, "custom", got.Environment.Name)
		assert.Equal(t, srv.AuthAPIBaseURL, got.Environment.AuthAPIBaseURL)
		assert.False(t, got.Config.UseAgentIdentity)
		assert.Equal(t, "jwt-only", got.Config.Policy)
	})

	r := runBin(t, invocation{args: []string{"provision"}, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	rec := storedRecord(t, home)
	assert.Equal(t, "agent_runtime_id "+rec.AgentRuntimeID+"\ntask_id "+rec.TaskID+"\naccount_id "+login.AccountID+
		"\nidentity registered (saved to "+filepath.Join(home, "auth.json")+")\ntask registered\n", r.stdout)
	assert.Contains(t, r.stderr, "agentid: registering agent at "+srv.AuthAPIBaseURL+"/v1/agent/register\n")
	assert.Contains(t, r.stderr, "agentid: registering task at "+srv.AuthAPIBaseURL+"/v1/agent/"+rec.AgentRuntimeID+"/task/register\n")
	assert.Equal(t, 1, srv.Stats().AgentsRegistered)
	assert.Equal(t, 1, srv.Stats().TasksRegistered)

	t.Run("provision again reuses everything", func(t *testing.T) {
		r := runBin(t, invocation{args: []string{"provision", "--json", "--codex-home", home}, env: srv.Env()})
		require.Equal(t, 0, r.code, r.stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, rec.AgentRuntimeID, got["agent_runtime_id"])
		assert.Equal(t, rec.TaskID, got["task_id"])
		assert.Empty(t, r.stderr, "no network step")
		assert.Equal(t, 1, srv.Stats().AgentsRegistered)
		assert.Equal(t, 1, srv.Stats().TasksRegistered)
	})

	t.Run("status after provisioning", func(t *testing.T) {
		r := runBin(t, invocation{args: []string{"status", "--json"}, env: env})
		require.Equal(t, 0, r.code, r.stderr)
		var got statusReport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, "record", got.AgentIdentity.Form)
		assert.Equal(t, rec.AgentRuntimeID, got.AgentIdentity.AgentRuntimeID)
		assert.Equal(t, rec.TaskID, got.AgentIdentity.TaskID)
		assert.Equal(t, redacted, got.AgentIdentity.PrivateKey)
		require.NotNil(t, got.AgentIdentity.MatchesLogin)
		assert.True(t, *got.AgentIdentity.MatchesLogin)

		r = runBin(t, invocation{args: []string{"status"}, env: env})
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "agent_identity         record\n")
		assert.Contains(t, r.stdout, "private_key            <redacted>\n")
	})

	t.Run("register-task from codex home", func(t *testing.T) {
		// Without the opt-in, Load uses no ChatGPT login: no identity.
		r := runBin(t, invocation{args: []string{"register-task"}, env: env})
		require.Equal(t, 1, r.code, r.stdout)
		assert.Contains(t, r.stderr, "no agent identity configured")

		optInHome := filepath.Join(t.TempDir(), "optin")
		require.NoError(t, srv.WriteCodexHome(optInHome, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}))
		auth, err := os.ReadFile(filepath.Join(home, "auth.json"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(optInHome, "auth.json"), auth, 0o600))
		before := srv.Stats().TasksRegistered
		r = runBin(t, invocation{args: []string{"register-task", "--codex-home", optInHome}, env: srv.Env()})
		require.Equal(t, 0, r.code, r.stderr)
		task := strings.TrimSuffix(r.stdout, "\n")
		assert.Contains(t, srv.TaskIDs(rec.AgentRuntimeID), task)
		assert.NotEqual(t, rec.TaskID, task)
		assert.Equal(t, before+1, srv.Stats().TasksRegistered)
		assert.Equal(t, 1, strings.Count(r.stderr, "agentid: registering task at "), r.stderr)
		assert.Equal(t, rec.TaskID, storedRecord(t, optInHome).TaskID, "the task is not saved")

		// A fresh login: the identity is provisioned and exactly one task,
		// the one printed, is registered.
		freshHome := filepath.Join(t.TempDir(), "fresh")
		freshLogin := srv.MintChatGPTLogin(identitytest.LoginOptions{})
		require.NoError(t, srv.WriteCodexHome(freshHome, identitytest.CodexHomeOptions{Login: &freshLogin, UseAgentIdentity: true}))
		st := srv.Stats()
		agents, tasks := st.AgentsRegistered, st.TasksRegistered
		r = runBin(t, invocation{args: []string{"register-task", "--codex-home", freshHome}, env: srv.Env()})
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, agents+1, srv.Stats().AgentsRegistered)
		assert.Equal(t, tasks+1, srv.Stats().TasksRegistered, "one task, not one at provisioning and another")
		fresh := storedRecord(t, freshHome)
		assert.Contains(t, srv.TaskIDs(fresh.AgentRuntimeID), strings.TrimSuffix(r.stdout, "\n"))
	})

	t.Run("register-task with key file", func(t *testing.T) {
		keyFile := writeFile(t, rec.AgentPrivateKey.Reveal()+"\n")
		r := runBin(t, invocation{args: []string{"register-task", "--authapi-base-url", srv.AuthAPIBaseURL, "--runtime-id", rec.AgentRuntimeID, "--key-file", keyFile}})
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, srv.TaskIDs(rec.AgentRuntimeID), strings.TrimSuffix(r.stdout, "\n"))

		// The AuthAPI resolved from a ChatGPT base URL and the overrides.
		r = runBin(t, invocation{args: []string{"register-task", "--chatgpt-base-url", srv.ChatGPTBaseURL, "--runtime-id", rec.AgentRuntimeID}, env: map[string]string{
			envPrivateKey: rec.AgentPrivateKey.Reveal(), "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL": srv.AuthAPIBaseURL, "CODEX_AGENT_IDENTITY_JWKS_BASE_URL": srv.ChatGPTBaseURL,
		}})
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, srv.TaskIDs(rec.AgentRuntimeID), strings.TrimSuffix(r.stdout, "\n"))
	})

	t.Run("register-task refused", func(t *testing.T) {
		km, err := identity.GenerateKeyMaterial()
		require.NoError(t, err)
		addSecret(t, "unregistered key", km.PrivateKeyPKCS8Base64.Reveal())
		r := runBin(t, invocation{args: []string{"register-task", "--authapi-base-url", srv.AuthAPIBaseURL, "--runtime-id", "agent-unknown", "--key-file", "-"}, stdin: km.PrivateKeyPKCS8Base64.Reveal()})
		require.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "404")
		// A key that does not belong to the agent.
		r = runBin(t, invocation{args: []string{"register-task", "--authapi-base-url", srv.AuthAPIBaseURL, "--runtime-id", rec.AgentRuntimeID, "--key-file", "-"}, stdin: km.PrivateKeyPKCS8Base64.Reveal()})
		require.Equal(t, 1, r.code)
		// Production is not reachable in tests: an unknown base URL is
		// refused before any request.
		r = runBin(t, invocation{args: []string{"register-task", "--chatgpt-base-url", "https://example.com", "--runtime-id", rec.AgentRuntimeID, "--key-file", "-"}, stdin: km.PrivateKeyPKCS8Base64.Reveal()})
		require.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "only supports production and staging")
	})
}

func TestProvisionFailures(t *testing.T) {
	srv := fakeBackend(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T, home string)
		wantErr string
	}{
		{"no login", func(t *testing.T, home string) {
			require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{}))
		}, "no agent identity configured"},
		{"corrupt auth.json", func(t *testing.T, home string) {
			require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{}))
			require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"), []byte(`{"tokens":1,"tokens":2}`), 0o600))
		}, "auth.json is corrupt"},
		{"bad config", func(t *testing.T, home string) {
			require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{}))
			require.NoError(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte("chatgpt_base_url = 3\n"), 0o600))
		}, "invalid config.toml"},
		{"unknown environment", func(t *testing.T, home string) {
			require.NoError(t, os.MkdirAll(home, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(home, "config.toml"), []byte("chatgpt_base_url = \"https://example.com\"\n"), 0o600))
		}, "only supports production and staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "codex")
			tt.setup(t, home)
			r := runBin(t, invocation{args: []string{"provision", "--codex-home", home}, env: srv.Env()})
			require.Equal(t, 1, r.code, r.stdout)
			assert.Contains(t, r.stderr, tt.wantErr)
			assert.Empty(t, r.stdout)

			r = runBin(t, invocation{args: []string{"status", "--codex-home", home}, env: srv.Env()})
			if tt.name == "no login" {
				require.Equal(t, 1, r.code, r.stderr)
				assert.Contains(t, r.stdout, "chatgpt_login          absent\n")
				assert.Contains(t, r.stderr, "no usable identity or credential")
				return
			}
			require.Equal(t, 1, r.code, r.stdout)
			assert.Contains(t, r.stdout, "problem")
			assert.Contains(t, r.stderr, tt.wantErr)
		})
	}
}

func TestJWT(t *testing.T) {
	srv := fakeBackend(t)
	tok, claims := mintJWT(t, srv, identitytest.JWTOptions{Account: codexhome.Account{Email: "a@example.com"}})
	expired, _ := mintJWT(t, srv, identitytest.JWTOptions{IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour})
	wrongAud, _ := mintJWT(t, srv, identitytest.JWTOptions{Audience: "someone-else"})
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	addSecret(t, "chatgpt access token", login.AccessToken.Reveal())
	verifyArgs := []string{"jwt", "verify", "--json", "--chatgpt-base-url", srv.ChatGPTBaseURL}

	tests := []struct {
		name     string
		inv      invocation
		wantCode int
		verified bool
		wantErr  string
	}{
		{"decode file", invocation{args: []string{"jwt", "decode", "--insecure", "--json", "--token-file", writeFile(t, tok+"\n")}}, 0, false, ""},
		{"decode stdin dash", invocation{args: []string{"jwt", "decode", "--insecure", "--json", "--token-file", "-"}, stdin: tok + "\r\n"}, 0, false, ""},
		{"decode token-stdin", invocation{args: []string{"jwt", "decode", "--insecure", "--json", "--token-stdin"}, stdin: tok}, 0, false, ""},
		{"decode CODEX_ACCESS_TOKEN", invocation{args: []string{"jwt", "decode", "--insecure", "--json"}, env: map[string]string{envCodexAccessToken: tok}}, 0, false, ""},
		{"decode AGENTID_ACCESS_TOKEN first", invocation{args: []string{"jwt", "decode", "--insecure", "--json"}, env: map[string]string{envAccessToken: tok, envCodexAccessToken: "garbage"}}, 0, false, ""},
		{"decode garbage", invocation{args: []string{"jwt", "decode", "--insecure", "--token-stdin"}, stdin: "a.b.c"}, 1, false, "invalid Agent Identity JWT"},
		{"decode personal access token", invocation{args: []string{"jwt", "decode", "--insecure", "--token-stdin"}, stdin: "at-0123456789abcdef"}, 1, false, "personal access token"},
		{"decode two newlines", invocation{args: []string{"jwt", "decode", "--insecure", "--token-stdin"}, stdin: tok + "\n\n"}, 1, false, "only one trailing newline"},
		{"verify", invocation{args: verifyArgs, env: mergeEnv(srv.Env(), map[string]string{envCodexAccessToken: tok})}, 0, true, ""},
		{"verify explicit jwks", invocation{args: []string{"jwt", "verify", "--json", "--jwks-url", srv.JWKSURL, "--issuer", srv.Issuer, "--audience", srv.Audience, "--token-stdin"}, stdin: tok}, 0, true, ""},
		{"verify expired", invocation{args: append(verifyArgs, "--token-stdin"), env: srv.Env(), stdin: expired}, 1, false, "expired"},
		{"verify wrong audience", invocation{args: append(verifyArgs, "--token-stdin"), env: srv.Env(), stdin: wrongAud}, 1, false, "invalid Agent Identity JWT"},
		{"verify wrong expected issuer", invocation{args: []string{"jwt", "verify", "--jwks-url", srv.JWKSURL, "--issuer", "https://evil.example", "--audience", srv.Audience, "--token-stdin"}, stdin: tok}, 1, false, "invalid Agent Identity JWT"},
		{"verify chatgpt access token", invocation{args: append(verifyArgs, "--token-stdin"), env: srv.Env(), stdin: login.AccessToken.Reveal()}, 1, false, "looks like a ChatGPT access token"},
		{"verify http jwks off loopback", invocation{args: []string{"jwt", "verify", "--jwks-url", "http://example.com/jwks", "--token-stdin"}, stdin: tok}, 1, false, "JWTVerifier"},
		{"verify unknown environment", invocation{args: []string{"jwt", "verify", "--chatgpt-base-url", "https://example.com", "--token-stdin"}, stdin: tok}, 1, false, "only supports production and staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, tt.wantCode, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			if tt.wantCode != 0 {
				if hasArg(tt.inv.args, "--json") {
					var got map[string]any
					require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "a JSON object also on failure")
					assert.Equal(t, false, got["verified"])
					assert.Contains(t, got["error"], tt.wantErr)
				} else {
					assert.Empty(t, r.stdout)
				}
				assert.Contains(t, r.stderr, tt.wantErr)
				return
			}
			var got struct {
				Verified bool           `json:"verified"`
				Warning  string         `json:"warning"`
				Claims   map[string]any `json:"claims"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			assert.Equal(t, tt.verified, got.Verified)
			assert.Equal(t, redacted, got.Claims["agent_private_key"])
			assert.Equal(t, claims.AgentRuntimeID, got.Claims["agent_runtime_id"])
			assert.Equal(t, claims.AccountID, got.Claims["account_id"])
			assert.Equal(t, srv.Audience, got.Claims["aud"])
			assert.Equal(t, "a@example.com", got.Claims["email"])
			if tt.verified {
				assert.Contains(t, r.stderr, "agentid: fetching JWKS from "+srv.JWKSURL+"\n")
			} else {
				assert.Contains(t, got.Warning, "NOT VERIFIED")
				assert.Contains(t, r.stderr, "NOT verified")
			}
		})
	}
}

func TestJWTHome(t *testing.T) {
	srv := fakeBackend(t)
	tok, claims := mintJWT(t, srv, identitytest.JWTOptions{})
	home := filepath.Join(t.TempDir(), "codex")
	require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{AgentJWT: codexhome.NewSecret(tok)}))
	env := mergeEnv(srv.Env(), map[string]string{"CODEX_HOME": home})

	r := runBin(t, invocation{args: []string{"status", "--json"}, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	var st statusReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	assert.Equal(t, "jwt", st.AgentIdentity.Form)
	assert.Equal(t, claims.AgentRuntimeID, st.AgentIdentity.AgentRuntimeID)
	assert.Equal(t, redacted, st.AgentIdentity.Token)
	assert.Equal(t, "agentIdentity", st.AuthFile.AuthMode)

	r = runBin(t, invocation{args: []string{"provision"}, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "agent_runtime_id "+claims.AgentRuntimeID+"\n")
	assert.Equal(t, 0, srv.Stats().AgentsRegistered-1, "no agent registered beyond the minted one")

	// $CODEX_ACCESS_TOKEN wins over auth.json, as in the Codex CLI.
	other, otherClaims := mintJWT(t, srv, identitytest.JWTOptions{})
	r = runBin(t, invocation{args: []string{"provision"}, env: mergeEnv(env, map[string]string{envCodexAccessToken: other})})
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "agent_runtime_id "+otherClaims.AgentRuntimeID+"\n")
	r = runBin(t, invocation{args: []string{"status"}, env: mergeEnv(env, map[string]string{envCodexAccessToken: other})})
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "$CODEX_ACCESS_TOKEN")
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestServe(t *testing.T) {
	home := filepath.Join(t.TempDir(), "served")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a free port for --addr
	cmd := exec.CommandContext(ctx, binPath, "serve", "--addr", addr, "--codex-home", home)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	env := map[string]string{}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			env[k] = v
		}
		if strings.HasPrefix(line, "export CODEX_HOME=") {
			break
		}
	}
	require.Contains(t, env, "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL")
	require.Contains(t, env, "CODEX_AGENT_IDENTITY_JWKS_BASE_URL")
	require.Equal(t, home, env["CODEX_HOME"])
	assert.Contains(t, env["CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL"], addr, "serve listens on --addr")

	r := runBin(t, invocation{args: []string{"provision", "--json"}, env: env})
	require.Equal(t, 0, r.code, r.stderr)
	storedRecord(t, home)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Equal(t, "agent-1", got["agent_runtime_id"])
	af, err := codexhome.OpenStore(home).Read()
	require.NoError(t, err)
	addSecret(t, "served access token", af.Tokens().AccessToken.Reveal())

	// A second serve into the same folder is refused.
	r = runBin(t, invocation{args: []string{"serve", "--codex-home", home}})
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "already holds")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	rest, _ := io.ReadAll(stdout)
	out.Write(rest)
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), "agentid: stopped (1 agents, 1 tasks registered")
	recordOutput(result{args: []string{"serve", "--codex-home", home}, stdout: out.String(), stderr: stderr.String()}, nil, false)
}
