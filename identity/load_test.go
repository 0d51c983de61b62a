package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

type loadFixture struct {
	srv   *identitytest.Server
	home  string
	login identitytest.ChatGPTLogin
}

func newLoadFixture(t *testing.T, o identitytest.CodexHomeOptions) *loadFixture {
	t.Helper()
	identity.ResetBootstrapCooldownForTest()
	srv := identitytest.NewServer()
	t.Cleanup(srv.Close)
	f := &loadFixture{srv: srv, home: t.TempDir()}
	if o.Login == nil {
		l := srv.MintChatGPTLogin(identitytest.LoginOptions{})
		f.login = l
	} else {
		f.login = *o.Login
	}
	return f
}

func (f *loadFixture) write(t *testing.T, o identitytest.CodexHomeOptions) {
	t.Helper()
	require.NoError(t, f.srv.WriteCodexHome(f.home, o))
}

// getenv gives the server's override variables and nothing of the real
// environment.
func (f *loadFixture) getenv(extra map[string]string) func(string) string {
	return f.srv.Getenv(func(k string) string { return extra[k] })
}

func (f *loadFixture) load(ctx context.Context, p identity.Policy, extra map[string]string) (*identity.RunAuth, error) {
	return identity.Load(ctx, identity.LoadOptions{CodexHome: f.home, Policy: p, Getenv: f.getenv(extra)})
}

func readAuth(t *testing.T, home string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(home, "auth.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

func TestLoadChatGPTProvisionsThenReuses(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	before := readAuth(t, f.home)
	ctx := context.Background()

	ra, err := f.load(ctx, 0, nil) // policy from config.toml: the opt-in is on
	require.NoError(t, err)
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered)
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered, "provisioning registers the run task")
	task, err := ra.TaskID(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered)
	assert.Equal(t, f.login.Account, ra.Account(), "the login's whole account")

	after := readAuth(t, f.home)
	assert.Equal(t, before["tokens"], after["tokens"], "the ChatGPT login is never touched")
	assert.Equal(t, before["last_refresh"], after["last_refresh"])
	assert.Contains(t, after, "OPENAI_API_KEY")
	assert.Nil(t, after["OPENAI_API_KEY"])
	rec, ok := after["agent_identity"].(map[string]any)
	require.True(t, ok, "a record object is stored")
	assert.Equal(t, ra.AgentRuntimeID(), rec["agent_runtime_id"])
	assert.Equal(t, task, rec["task_id"])
	assert.Equal(t, f.login.AccountID, rec["account_id"])
	assert.Equal(t, f.login.UserID, rec["chatgpt_user_id"])
	assert.Equal(t, f.login.Email, rec["email"])
	assert.Equal(t, os.FileMode(0o600), fileMode(t, filepath.Join(f.home, "auth.json")))

	// A restart reuses the identity and the task: zero new registrations.
	ra2, err := f.load(ctx, identity.PolicyChatGPTAuth, nil)
	require.NoError(t, err)
	task2, err := ra2.TaskID(ctx)
	require.NoError(t, err)
	assert.Equal(t, ra.AgentRuntimeID(), ra2.AgentRuntimeID())
	assert.Equal(t, task, task2)
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered)
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered)

	// Requests through the reloaded auth verify on the server.
	c := &http.Client{Transport: ra2.Transport(nil)}
	code, v := postJSON(t, c, f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{"x":1}`))
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, task, v.TaskID)

	// With the opt-in off (JWT-only), the stored record is not used.
	_, err = f.load(ctx, identity.PolicyJWTOnly, nil)
	require.ErrorIs(t, err, identity.ErrNoAgentIdentity)
}

func TestLoadTaskInMemoryOnly(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	ctx := context.Background()
	opts := identity.LoadOptions{CodexHome: f.home, Getenv: f.getenv(nil), TaskInMemoryOnly: true}
	ra, err := identity.Load(ctx, opts)
	require.NoError(t, err)
	task, err := ra.TaskID(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, task)
	rec := readAuth(t, f.home)["agent_identity"].(map[string]any)
	assert.NotContains(t, rec, "task_id", "the task is kept in memory only")

	ra2, err := identity.Load(ctx, opts)
	require.NoError(t, err)
	task2, err := ra2.TaskID(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, task, task2, "every run registers its own task")
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered)
	assert.Equal(t, 2, f.srv.Stats().TasksRegistered)
}

func TestLoadStoredRecordWithoutTaskSavesIt(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	ctx := context.Background()
	_, err := f.load(ctx, 0, nil)
	require.NoError(t, err)
	// Drop the stored task, as an older writer may have.
	store := codexhome.OpenStore(f.home)
	require.NoError(t, store.Update(ctx, func(a *codexhome.AuthFile) error {
		rec := a.AgentIdentityRecord()
		rec.TaskID = ""
		return a.SetAgentIdentityRecord(rec)
	}))
	ra, err := f.load(ctx, 0, nil)
	require.NoError(t, err)
	task, err := ra.TaskID(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, f.srv.Stats().TasksRegistered)
	rec := readAuth(t, f.home)["agent_identity"].(map[string]any)
	assert.Equal(t, task, rec["task_id"], "a newly registered run task is saved")
}

func TestLoadLoginChangedReprovisions(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	ctx := context.Background()
	ra, err := f.load(ctx, 0, nil)
	require.NoError(t, err)

	// Another account logs in; the old record must not be reused for it.
	other := f.srv.MintChatGPTLogin(identitytest.LoginOptions{})
	store := codexhome.OpenStore(f.home)
	raw, err := os.ReadFile(store.Path())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["tokens"] = map[string]any{"id_token": other.IDToken.Reveal(), "access_token": other.AccessToken.Reveal(), "refresh_token": other.RefreshToken.Reveal(), "account_id": other.AccountID}
	data, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(store.Path(), data, 0o600))

	ra2, err := f.load(ctx, 0, nil)
	require.NoError(t, err)
	assert.NotEqual(t, ra.AgentRuntimeID(), ra2.AgentRuntimeID())
	assert.Equal(t, other.AccountID, ra2.Account().AccountID)
	assert.Equal(t, 2, f.srv.Stats().AgentsRegistered)
}

func TestLoadLoginChangedDuringProvisioningPersistsNothing(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	authPath := filepath.Join(f.home, "auth.json")
	h := holdAgentRegistration(t, f)

	done := make(chan error, 1)
	go func() {
		_, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, Getenv: h.getenv})
		done <- err
	}()
	<-h.arrived
	// The Codex CLI logs out (it does not take our lock) while we talk to
	// the backend.
	require.NoError(t, os.WriteFile(authPath, []byte("{\n  \"OPENAI_API_KEY\": null\n}\n"), 0o600))
	close(h.release)
	err := <-done
	require.ErrorIs(t, err, identity.ErrLoginChanged)
	m := readAuth(t, f.home)
	assert.NotContains(t, m, "agent_identity", "no identity is saved for a login that is gone")
	assert.NotContains(t, m, "tokens", "no account is resurrected")
}

// TestLoadNeverHoldsTheCodexLockAcrossRegistration: while Load waits for the
// backend to answer an agent registration, the Codex CLI can take
// auth.json.lock at once (it gives up after about 5 s and registers again,
// leaving orphan agents). Checked with a non-blocking lock attempt, no
// timing.
func TestLoadNeverHoldsTheCodexLockAcrossRegistration(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	h := holdAgentRegistration(t, f)

	done := make(chan error, 1)
	go func() {
		_, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, Getenv: h.getenv})
		done <- err
	}()
	<-h.arrived
	codexLock := flock.New(filepath.Join(f.home, "auth.json.lock"))
	ok, err := codexLock.TryLock()
	require.NoError(t, err)
	assert.True(t, ok, "auth.json.lock is free while a registration is in flight")
	if ok {
		require.NoError(t, codexLock.Unlock())
	}
	ours := flock.New(filepath.Join(f.home, "agentidentity.lock"))
	ok, err = ours.TryLock()
	require.NoError(t, err)
	assert.False(t, ok, "the module's own lock is held across the registration")
	close(h.release)
	require.NoError(t, <-done)
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered)
	assert.NotContains(t, []string{"auth.json.lock", "auth.lock"}, "agentidentity.lock")
}

// heldRegistration is an AuthAPI in front of the fixture's server that holds
// every agent registration until release is closed, after signalling arrived.
type heldRegistration struct {
	getenv  func(string) string
	arrived chan struct{}
	release chan struct{}
}

func holdAgentRegistration(t *testing.T, f *loadFixture) *heldRegistration {
	t.Helper()
	target, err := url.Parse(f.srv.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	h := &heldRegistration{arrived: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/agent/register") {
			once.Do(func() { close(h.arrived) })
			<-h.release
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	authAPI := strings.Replace(f.srv.AuthAPIBaseURL, f.srv.URL, front.URL, 1)
	base := f.getenv(nil)
	h.getenv = func(k string) string {
		if k == "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL" || k == endpointrule.EnvAuthAPIBaseURLNew {
			return authAPI
		}
		return base(k)
	}
	return h
}

func TestLoadJWTFromEnvironment(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{Account: codexhome.Account{FedRAMP: true}})
	require.NoError(t, err)
	ctx := context.Background()
	// No auth.json at all, and no config: nothing is written.
	require.NoError(t, os.WriteFile(filepath.Join(f.home, "config.toml"), []byte(fmt.Sprintf("chatgpt_base_url = %q\n", f.srv.ChatGPTBaseURL)), 0o600))

	ra, err := f.load(ctx, identity.PolicyJWTOnly, map[string]string{identity.EnvAccessToken: token.Reveal()})
	require.NoError(t, err)
	assert.True(t, ra.Account().FedRAMP)
	task, err := ra.TaskID(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, task)
	_, err = os.Stat(filepath.Join(f.home, "auth.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the JWT path writes nothing")

	c := &http.Client{Transport: ra.Transport(nil)}
	code, v := postJSON(t, c, f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{}`))
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, task, v.TaskID)
}

func TestLoadStoredJWT(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	f.write(t, identitytest.CodexHomeOptions{AgentJWT: token})
	before, err := os.ReadFile(filepath.Join(f.home, "auth.json"))
	require.NoError(t, err)

	ra, err := f.load(context.Background(), 0, nil)
	require.NoError(t, err)
	_, err = ra.TaskID(context.Background())
	require.NoError(t, err)
	after, err := os.ReadFile(filepath.Join(f.home, "auth.json"))
	require.NoError(t, err)
	assert.Equal(t, before, after, "a stored JWT is used as is, nothing written")
}

func TestLoadRefusals(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	expired, err := f.srv.MintAgentJWT(identitytest.JWTOptions{IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour})
	require.NoError(t, err)
	wrongAud, err := f.srv.MintAgentJWT(identitytest.JWTOptions{Audience: "someone-else"})
	require.NoError(t, err)
	agents := f.srv.Stats().AgentsRegistered

	tests := []struct {
		name    string
		home    identitytest.CodexHomeOptions
		raw     string // auth.json bytes, when set
		policy  identity.Policy
		env     map[string]string
		wantIs  error
		notIs   error
		wantMsg string
	}{
		// A personal access token is used as one (pat_test.go); one the
		// server does not know fails its metadata lookup, closed.
		{name: "unknown personal access token in env", policy: identity.PolicyJWTOnly,
			env: map[string]string{identity.EnvAccessToken: "at-abcdef"}, wantIs: identity.ErrPersonalAccessTokenLookup,
			notIs: identity.ErrNoAgentIdentity, wantMsg: "status 401 Unauthorized"},
		{name: "ChatGPT access token in env", policy: identity.PolicyJWTOnly,
			env: map[string]string{identity.EnvAccessToken: f.login.AccessToken.Reveal()}, wantIs: identity.ErrInvalidJWT},
		{name: "expired JWT in env fails Load", policy: identity.PolicyJWTOnly,
			env: map[string]string{identity.EnvAccessToken: expired.Reveal()}, wantIs: identity.ErrInvalidJWT, notIs: identity.ErrNoAgentIdentity},
		{name: "wrong audience stored JWT fails Load", home: identitytest.CodexHomeOptions{AgentJWT: wrongAud},
			wantIs: identity.ErrInvalidJWT},
		{name: "jwt-only without JWT", home: identitytest.CodexHomeOptions{Login: &f.login},
			policy: identity.PolicyJWTOnly, wantIs: identity.ErrNoAgentIdentity},
		{name: "config off means jwt-only", home: identitytest.CodexHomeOptions{Login: &f.login},
			wantIs: identity.ErrNoAgentIdentity},
		{name: "chatgpt policy without login", home: identitytest.CodexHomeOptions{},
			policy: identity.PolicyChatGPTAuth, wantIs: identity.ErrNoAgentIdentity},
		{name: "corrupt auth.json", raw: `{"tokens": {"id_token": "x"`, policy: identity.PolicyChatGPTAuth,
			wantIs: codexhome.ErrCorruptAuthFile, notIs: identity.ErrNoAgentIdentity},
		{name: "duplicate members", raw: `{"agent_identity": "a", "agent_identity": "b"}`,
			wantIs: codexhome.ErrCorruptAuthFile, notIs: identity.ErrNoAgentIdentity},
		{name: "empty auth.json", raw: ``, policy: identity.PolicyJWTOnly,
			wantIs: codexhome.ErrCorruptAuthFile, notIs: identity.ErrNoAgentIdentity},
		{name: "unknown policy", policy: identity.Policy(99), wantMsg: "policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			require.NoError(t, f.srv.WriteCodexHome(home, tt.home))
			if tt.raw != "" || tt.name == "empty auth.json" {
				require.NoError(t, os.WriteFile(filepath.Join(home, "auth.json"), []byte(tt.raw), 0o600))
			}
			before, _ := os.ReadFile(filepath.Join(home, "auth.json"))
			_, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: home, Policy: tt.policy, Getenv: f.getenv(tt.env)})
			require.Error(t, err)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			if tt.notIs != nil {
				require.NotErrorIs(t, err, tt.notIs)
			}
			if tt.wantMsg != "" {
				assert.Contains(t, err.Error(), tt.wantMsg)
			}
			for _, secret := range []string{expired.Reveal(), wrongAud.Reveal(), f.login.AccessToken.Reveal()} {
				assert.NotContains(t, err.Error(), secret, "no token in errors")
			}
			after, _ := os.ReadFile(filepath.Join(home, "auth.json"))
			assert.Equal(t, before, after, "a refused load leaves auth.json as it was")
		})
	}
	assert.Equal(t, agents, f.srv.Stats().AgentsRegistered, "a refused load registers nothing")
}

func TestLoadBootstrapFailureRemembered(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	f.srv.SetFault(identitytest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	ctx := context.Background()
	_, err := f.load(ctx, 0, nil)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
	requests := f.srv.Stats().AuthAPIRequests

	_, err = f.load(ctx, 0, nil)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
	var cached *identity.BackoffError
	require.ErrorAs(t, err, &cached, "the remembered failure is returned, clearly marked")
	assert.Contains(t, err.Error(), "cached")
	assert.Equal(t, requests, f.srv.Stats().AuthAPIRequests, "no request within the hour")
	m := readAuth(t, f.home)
	assert.NotContains(t, m, "agent_identity")
}

// TestLoadHelperProcess is run as a child process by
// TestLoadEightProcesses; it is not a test on its own.
func TestLoadHelperProcess(t *testing.T) {
	if os.Getenv("AGENTIDENTITY_LOAD_HELPER") != "1" {
		return
	}
	ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: os.Getenv("CODEX_HOME")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(3)
	}
	task, err := ra.TaskID(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "task:", err)
		os.Exit(3)
	}
	fmt.Printf("RESULT %s %s\n", ra.AgentRuntimeID(), task)
	os.Exit(0)
}

func TestLoadEightProcesses(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	exe, err := os.Executable()
	require.NoError(t, err)

	round := func() []string {
		const n = 8
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				cmd := exec.Command(exe, "-test.run=^TestLoadHelperProcess$", "-test.count=1")
				env := append(os.Environ(), "AGENTIDENTITY_LOAD_HELPER=1", "CODEX_HOME="+f.home, "CODEX_ACCESS_TOKEN=")
				for k, v := range f.srv.Env() {
					env = append(env, k+"="+v)
				}
				cmd.Env = env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				assert.NoError(t, err, "process %d: %s", i, stderr.String())
				for _, line := range strings.Split(stdout.String(), "\n") {
					if strings.HasPrefix(line, "RESULT ") {
						out[i] = strings.TrimPrefix(line, "RESULT ")
					}
				}
			})
		}
		wg.Wait()
		return out
	}
	first := round()
	for i, r := range first {
		require.NotEmpty(t, r, "process %d printed no result", i)
		assert.Equal(t, first[0], r, "all eight processes use one identity and one task")
	}
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered, "exactly one agent")
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered, "exactly one task")
	data, err := os.ReadFile(filepath.Join(f.home, "auth.json"))
	require.NoError(t, err)
	require.True(t, json.Valid(data))
	assert.Equal(t, os.FileMode(0o600), fileMode(t, filepath.Join(f.home, "auth.json")))

	second := round()
	for _, r := range second {
		assert.Equal(t, first[0], r)
	}
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered, "a second round registers nothing")
	assert.Equal(t, 1, f.srv.Stats().TasksRegistered)
}

// hookTransport runs before each request whose path ends with suffix, once.
type hookTransport struct {
	suffix string
	once   sync.Once
	hook   func()
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, h.suffix) {
		h.once.Do(h.hook)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// otherWriterRecord is a record another writer (which does not take our
// lock) saves for the same login, with an agent the server knows.
func otherWriterRecord(t *testing.T, f *loadFixture, taskID string) map[string]any {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	id, err := f.srv.AddAgent(km.PublicKeySSH, codexhome.Account{AccountID: f.login.AccountID, UserID: f.login.UserID})
	require.NoError(t, err)
	rec := map[string]any{
		"agent_runtime_id": id, "agent_private_key": km.PrivateKeyPKCS8Base64.Reveal(),
		"account_id": f.login.AccountID, "chatgpt_user_id": f.login.UserID,
		"email": f.login.Email, "plan_type": f.login.PlanType, "chatgpt_account_is_fedramp": false,
	}
	if taskID != "" {
		rec["task_id"] = taskID
	}
	return rec
}

func writeMember(t *testing.T, home, name string, value any) {
	t.Helper()
	m := readAuth(t, home)
	m[name] = value
	data, err := json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	// Atomically, as the Codex CLI writes it: a reader never sees a
	// half-written file.
	tmp := filepath.Join(home, ".auth.json.test-tmp")
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(home, "auth.json")))
}

func TestLoadProvisioningNeverOverwritesAnotherWriter(t *testing.T) {
	t.Run("a record saved meanwhile is used, not overwritten", func(t *testing.T) {
		f := newLoadFixture(t, identitytest.CodexHomeOptions{})
		f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
		theirs := otherWriterRecord(t, f, "")
		hc := &http.Client{Transport: &hookTransport{suffix: "/v1/agent/register", hook: func() {
			writeMember(t, f.home, "agent_identity", theirs)
		}}}
		ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, Getenv: f.getenv(nil), HTTPClient: hc})
		require.NoError(t, err)
		assert.Equal(t, theirs["agent_runtime_id"], ra.AgentRuntimeID())
		stored := readAuth(t, f.home)["agent_identity"].(map[string]any)
		assert.Equal(t, theirs["agent_runtime_id"], stored["agent_runtime_id"], "the other writer's identity survives")
		assert.Equal(t, theirs["agent_private_key"], stored["agent_private_key"])
	})
	t.Run("a JWT saved meanwhile is an error and survives", func(t *testing.T) {
		f := newLoadFixture(t, identitytest.CodexHomeOptions{})
		f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
		token, err := f.srv.MintAgentJWT(identitytest.JWTOptions{})
		require.NoError(t, err)
		hc := &http.Client{Transport: &hookTransport{suffix: "/v1/agent/register", hook: func() {
			writeMember(t, f.home, "agent_identity", token.Reveal())
		}}}
		_, err = identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, Getenv: f.getenv(nil), HTTPClient: hc})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), token.Reveal())
		assert.Equal(t, token.Reveal(), readAuth(t, f.home)["agent_identity"])
	})
}

func TestLoadTaskInMemoryOnlyNeverAdoptsAStoredTask(t *testing.T) {
	f := newLoadFixture(t, identitytest.CodexHomeOptions{})
	f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
	theirs := otherWriterRecord(t, f, "stored-task-of-another-process")

	// Hold the module's lock (as another process of this module provisioning
	// would) while that process saves its identity: whenever Load starts, it
	// reads auth.json only once it has the lock, so it finds that identity.
	lock := flock.New(filepath.Join(f.home, "agentidentity.lock"))
	require.NoError(t, lock.Lock())
	type result struct {
		ra  *identity.RunAuth
		err error
	}
	done := make(chan result, 1)
	go func() {
		ra, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: f.home, Getenv: f.getenv(nil), TaskInMemoryOnly: true})
		done <- result{ra, err}
	}()
	writeMember(t, f.home, "agent_identity", theirs)
	require.NoError(t, lock.Unlock())
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, theirs["agent_runtime_id"], r.ra.AgentRuntimeID())
	task, err := r.ra.TaskID(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, "stored-task-of-another-process", task, "a stored task is not reused when tasks stay in memory")
	assert.Equal(t, 1, f.srv.Stats().AgentsRegistered, "Load registered no agent: only the other writer's (AddAgent) exists")
}
