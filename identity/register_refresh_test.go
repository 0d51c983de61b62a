package identity_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// fakeLog keeps the requests a fake server answered, in order.
type fakeLog struct {
	mu  sync.Mutex
	got []identitytest.Exchange
}

func (r *fakeLog) add(e identitytest.Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
}

func (r *fakeLog) all() []identitytest.Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]identitytest.Exchange(nil), r.got...)
}

// paths returns "METHOD path" of every request, in order.
func (r *fakeLog) paths() []string {
	var out []string
	for _, e := range r.all() {
		out = append(out, e.Method+" "+e.Path)
	}
	return out
}

// provisionFixture is a $CODEX_HOME with the opt-in on, a ChatGPT login
// issued `issued` ago with a 1 h lifetime, and no identity yet, on a fake
// that records its requests.
type provisionFixture struct {
	srv   *identitytest.Server
	rec   *fakeLog
	home  string
	login identitytest.ChatGPTLogin
	// refreshURL is where the refresh goes (the fake's by default).
	refreshURL string
}

func newProvisionFixture(t *testing.T, issued time.Duration) *provisionFixture {
	t.Helper()
	identity.ResetBootstrapCooldownForTest()
	rec := &fakeLog{}
	srv := identitytest.NewUnstartedServer(identitytest.Options{OnRequest: rec.add})
	require.NoError(t, srv.Start())
	t.Cleanup(srv.Close)
	f := &provisionFixture{srv: srv, rec: rec, home: t.TempDir(), refreshURL: srv.RefreshTokenURL}
	f.login = srv.MintChatGPTLogin(identitytest.LoginOptions{IssuedAt: time.Now().Add(-issued), TTL: time.Hour})
	require.NoError(t, srv.WriteCodexHome(f.home, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true}))
	return f
}

func (f *provisionFixture) load(ctx context.Context) (*identity.RunAuth, error) {
	env := map[string]string{identity.EnvRefreshTokenURLOverride: f.refreshURL}
	return identity.Load(ctx, identity.LoadOptions{CodexHome: f.home, Getenv: f.srv.Getenv(func(k string) string { return env[k] })})
}

func (f *provisionFixture) stored(t *testing.T) *codexhome.Tokens {
	t.Helper()
	af, err := codexhome.OpenStore(f.home).Read()
	require.NoError(t, err)
	require.NotNil(t, af.Tokens())
	return af.Tokens()
}

// goldenRefreshBody is the refresh body Codex 0.171 sent before it
// registered an agent with an expired login (the interop record), with
// the refresh token put in.
func goldenRefreshBody(t *testing.T, refreshToken string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "interop", "testdata", "codex-0.171", "l-refresh-then-register.txt"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, `{"client_id":`) {
			return strings.Replace(line, "{{REFRESH_TOKEN}}", refreshToken, 1)
		}
	}
	t.Fatal("the golden file has no refresh body")
	return ""
}

// Provisioning registers the agent with an access token that will last:
// an expired or nearly expired one is refreshed first, with the body Codex
// 0.171 sends, and the expired token is never sent to agent registration.
func TestLoadRefreshesBeforeRegistering(t *testing.T) {
	tests := []struct {
		name        string
		issued      time.Duration // how long ago the 1 h token was issued
		wantRefresh bool
	}{
		{"expired an hour ago", 2 * time.Hour, true},
		{"expired a second ago", time.Hour + time.Second, true},
		{"2 minutes left", 58 * time.Minute, true},
		{"just under 5 minutes left", 55*time.Minute + 10*time.Second, true},
		{"6 minutes left", 54 * time.Minute, false},
		{"fresh", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newProvisionFixture(t, tt.issued)
			ra, err := f.load(context.Background())
			require.NoError(t, err)
			assert.NotEmpty(t, ra.AgentRuntimeID())
			st := f.srv.Stats()
			assert.Equal(t, 1, st.AgentsRegistered)
			assert.Equal(t, 0, st.RefreshesRefused)
			stored := f.stored(t)

			var register *identitytest.Exchange
			all := f.rec.all()
			for i := range all {
				if all[i].Path == "/api/accounts/v1/agent/register" {
					register = &all[i]
				}
			}
			require.NotNil(t, register)
			assert.Equal(t, "Bearer "+stored.AccessToken.Reveal(), register.Header.Get("Authorization"),
				"the agent is registered with the token auth.json holds afterwards")
			assert.Equal(t, 200, register.Status)

			if !tt.wantRefresh {
				assert.Equal(t, 0, st.Refreshes)
				assert.Equal(t, f.login.AccessToken.Reveal(), stored.AccessToken.Reveal())
				assert.Equal(t, []string{"POST /api/accounts/v1/agent/register", "POST /api/accounts/v1/agent/" + ra.AgentRuntimeID() + "/task/register"}, f.rec.paths())
				return
			}
			assert.Equal(t, 1, st.Refreshes)
			assert.Equal(t, []string{"POST /oauth/token", "POST /api/accounts/v1/agent/register", "POST /api/accounts/v1/agent/" + ra.AgentRuntimeID() + "/task/register"}, f.rec.paths(),
				"the refresh comes first")
			refresh := all[0]
			assert.Equal(t, goldenRefreshBody(t, f.login.RefreshToken.Reveal()), string(refresh.Body), "the body byte for byte as Codex 0.171 sends it")
			assert.Equal(t, "application/json", refresh.Header.Get("Content-Type"))
			assert.Empty(t, refresh.Header.Values("Authorization"))
			assert.NotEqual(t, f.login.AccessToken.Reveal(), stored.AccessToken.Reveal())
			assert.NotEqual(t, f.login.RefreshToken.Reveal(), stored.RefreshToken.Reveal(), "the rotated refresh token is saved")
			for _, e := range all {
				assert.NotContains(t, e.Header.Get("Authorization"), f.login.AccessToken.Reveal(), "the old token is never sent (%s)", e.Path)
			}
		})
	}
}

// A 401 at agent registration is recovered once: one refresh with reason
// unauthorized_recovery, one more registration with the new token.
func TestLoadRecoversRegistrationUnauthorized(t *testing.T) {
	tests := []struct {
		name          string
		failures      int // 401 answers to agent registration
		wantErr       bool
		wantRefreshes int
		wantRegisters int
	}{
		{"one 401", 1, false, 1, 2},
		{"401 twice: no loop", 2, true, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newProvisionFixture(t, 0)
			f.srv.SetFault(identitytest.Fault{Status: http.StatusUnauthorized, Count: tt.failures})
			ra, err := f.load(context.Background())
			st := f.srv.Stats()
			assert.Equal(t, tt.wantRefreshes, st.Refreshes)
			var registers []identitytest.Exchange
			var refreshes []identitytest.Exchange
			for _, e := range f.rec.all() {
				switch e.Path {
				case "/api/accounts/v1/agent/register":
					registers = append(registers, e)
				case "/oauth/token":
					refreshes = append(refreshes, e)
				}
			}
			require.Len(t, registers, tt.wantRegisters)
			require.Len(t, refreshes, tt.wantRefreshes)
			assert.Contains(t, string(refreshes[0].Body), `"refresh_reason":"unauthorized_recovery"`)
			stored := f.stored(t)
			assert.Equal(t, "Bearer "+f.login.AccessToken.Reveal(), registers[0].Header.Get("Authorization"))
			assert.Equal(t, "Bearer "+stored.AccessToken.Reveal(), registers[1].Header.Get("Authorization"))
			if tt.wantErr {
				var re *identity.RegistrationError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
				assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
				assert.Equal(t, 0, st.AgentsRegistered)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, ra.AgentRuntimeID())
			assert.Equal(t, 1, st.AgentsRegistered)
		})
	}
}

// A login that cannot be refreshed: an expired token fails Load with the
// refresh's error (never ErrNoAgentIdentity) and nothing is registered; a
// token that has not expired yet is used as it is when the refresh fails
// for a reason that may pass.
func TestLoadRefreshBeforeRegisterFails(t *testing.T) {
	tests := []struct {
		name         string
		issued       time.Duration
		spoil        func(t *testing.T, f *provisionFixture)
		permanent    bool // the refresh error is final (ErrLoginExpired)
		wantRegister bool
	}{
		{"expired, refresh token reused", 2 * time.Hour, redeemElsewhere, true, false},
		{"2 minutes left, refresh token reused", 58 * time.Minute, redeemElsewhere, true, false},
		{"2 minutes left, refresh endpoint down", 58 * time.Minute, endpointDown, false, true},
		{"expired, refresh endpoint down", 2 * time.Hour, endpointDown, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newProvisionFixture(t, tt.issued)
			tt.spoil(t, f)
			before, err := os.ReadFile(filepath.Join(f.home, "auth.json"))
			require.NoError(t, err)
			_, err = f.load(context.Background())
			st := f.srv.Stats()
			if !tt.wantRegister {
				var re *identity.RefreshError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.permanent, re.Permanent)
				if tt.permanent {
					assert.ErrorIs(t, err, identity.ErrLoginExpired)
				}
				assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
				assert.Equal(t, 0, st.AgentsRegistered)
				assert.NotContains(t, f.rec.paths(), "POST /api/accounts/v1/agent/register")
				after, rerr := os.ReadFile(filepath.Join(f.home, "auth.json"))
				require.NoError(t, rerr)
				assert.True(t, bytes.Equal(before, after), "auth.json is not touched")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, st.AgentsRegistered)
		})
	}
}

// redeemElsewhere redeems the login's refresh token without saving the
// answer (another client did), so that our refresh is refused for good.
func redeemElsewhere(t *testing.T, f *provisionFixture) {
	resp, err := http.Post(f.srv.RefreshTokenURL, "application/json", strings.NewReader(
		`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_token":"`+f.login.RefreshToken.Reveal()+`"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// endpointDown points the refresh at an endpoint that answers 503.
func endpointDown(t *testing.T, f *provisionFixture) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	f.refreshURL = down.URL + "/oauth/token"
}

// Many Loads of one expired home at once: one refresh, one agent.
func TestLoadRefreshBeforeRegisterConcurrent(t *testing.T) {
	f := newProvisionFixture(t, 2*time.Hour)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Go(func() {
			ra, err := f.load(context.Background())
			errs[i] = err
			if err == nil {
				ids[i] = ra.AgentRuntimeID()
			}
		})
	}
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i])
		assert.Equal(t, ids[0], ids[i])
	}
	st := f.srv.Stats()
	assert.Equal(t, 1, st.Refreshes)
	assert.Equal(t, 0, st.RefreshesRefused)
	assert.Equal(t, 1, st.AgentsRegistered)
}
