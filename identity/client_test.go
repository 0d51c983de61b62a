package identity_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/internal/wire"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// clientSleeps records the waits between attempts instead of sleeping.
type clientSleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *clientSleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *clientSleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// clientServer starts an identitytest server with a static RSA key (no key
// generation in tests).
func clientServer(t *testing.T) *identitytest.Server {
	t.Helper()
	key, err := jwttest.LoadKey(jwttest.KeyA)
	require.NoError(t, err)
	srv := identitytest.NewUnstartedServer(identitytest.Options{SigningKey: key})
	require.NoError(t, srv.Start())
	t.Cleanup(srv.Close)
	return srv
}

// clientFor returns a Client for base whose sleeps are recorded.
func clientFor(base string) (*identity.Client, *clientSleeps) {
	sl := &clientSleeps{}
	c := &identity.Client{AuthAPIBaseURL: base}
	identity.SetClientTestHooks(c, identity.ClientTestHooks{Sleep: sl.sleep})
	return c, sl
}

// clientAgent makes a key, registers it on srv and returns its Signer.
func clientAgent(t *testing.T, srv *identitytest.Server, o identitytest.LoginOptions) *identity.Signer {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	id, err := srv.AddAgent(km.PublicKeySSH, o.Account)
	require.NoError(t, err)
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	return s
}

func clientRegistration(t *testing.T, fedRAMP bool) (identity.AgentRegistration, identity.KeyMaterial) {
	t.Helper()
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	return identity.AgentRegistration{
		AgentVersion:    "1.2.3",
		AgentHarnessID:  "codex-cli",
		RunningLocation: "local",
		PublicKeySSH:    km.PublicKeySSH,
		FedRAMP:         fedRAMP,
	}, km
}

func TestClientRegisterTaskSpellings(t *testing.T) {
	tests := []struct {
		name    string
		members []string
	}{
		{"task_id", []string{"task_id"}},
		{"taskId", []string{"taskId"}},
		{"encrypted_task_id", []string{"encrypted_task_id"}},
		{"encryptedTaskId", []string{"encryptedTaskId"}},
		{"plaintext and encrypted", []string{"task_id", "encrypted_task_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clientServer(t)
			srv.SetFault(identitytest.Fault{TaskIDMembers: tt.members})
			s := clientAgent(t, srv, identitytest.LoginOptions{})
			c, _ := clientFor(srv.AuthAPIBaseURL)

			id, err := c.RegisterTask(context.Background(), s)
			require.NoError(t, err)
			assert.Equal(t, srv.TaskIDs(s.AgentRuntimeID()), []string{id})
			assert.Equal(t, 1, srv.Stats().TasksRegistered)
			assert.Equal(t, 1, srv.Stats().AuthAPIRequests)

			req := srv.LastAuthAPIRequest()
			require.NotNil(t, req)
			assert.Equal(t, "/api/accounts/v1/agent/"+s.AgentRuntimeID()+"/task/register", req.Path)
			assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
			assert.Empty(t, req.Header.Values("Authorization"), "task registration carries no Authorization")
			assert.Empty(t, req.Header.Values("X-OpenAI-Fedramp"))
		})
	}
}

// TestClientTaskResponses checks the response parser through a real client,
// with bodies the identitytest server does not make.
func TestClientTaskResponses(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	sealed, err := gateway.SealTaskID(s.PublicKey(), "task-sealed")
	require.NoError(t, err)
	otherKey, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	otherPub, err := gateway.ParsePublicKeySSH(otherKey.PublicKeySSH)
	require.NoError(t, err)
	sealedOther, err := gateway.SealTaskID(otherPub, "task-x")
	require.NoError(t, err)

	tests := []struct {
		name    string
		body    string
		want    string
		wantErr error
	}{
		{"task_id", `{"task_id":"t-1"}`, "t-1", nil},
		{"taskId", `{"taskId":"t-2"}`, "t-2", nil},
		{"unknown members ignored", `{"x":[1,{"y":null}],"task_id":"t-3","z":true}`, "t-3", nil},
		{"null task_id falls through", `{"task_id":null,"taskId":"t-4"}`, "t-4", nil},
		{"plaintext wins", `{"encrypted_task_id":"garbage","task_id":"t-5"}`, "t-5", nil},
		{"encrypted", `{"encrypted_task_id":"` + sealed + `"}`, "task-sealed", nil},
		{"encryptedTaskId", `{"encryptedTaskId":"` + sealed + `"}`, "task-sealed", nil},
		{"null plaintext, encrypted", `{"task_id":null,"taskId":null,"encrypted_task_id":"` + sealed + `"}`, "task-sealed", nil},
		{"colon and unicode kept", `{"task_id":"a:b\u00e9"}`, "a:bé", nil},
		{"empty", `{"task_id":""}`, "", identity.ErrInvalidRegistrationResponse},
		{"number", `{"task_id":7}`, "", identity.ErrInvalidRegistrationResponse},
		{"object", `{"task_id":{}}`, "", identity.ErrInvalidRegistrationResponse},
		{"missing", `{"id":"t"}`, "", identity.ErrInvalidRegistrationResponse},
		{"all null", `{"task_id":null,"taskId":null,"encrypted_task_id":null,"encryptedTaskId":null}`, "", identity.ErrInvalidRegistrationResponse},
		{"duplicate", `{"task_id":"a","task_id":"b"}`, "", identity.ErrInvalidRegistrationResponse},
		{"escaped duplicate", `{"task_id":"a","task\u005fid":"b"}`, "", identity.ErrInvalidRegistrationResponse},
		{"array", `["task_id"]`, "", identity.ErrInvalidRegistrationResponse},
		{"not JSON", `task_id=t`, "", identity.ErrInvalidRegistrationResponse},
		{"empty body", ``, "", identity.ErrInvalidRegistrationResponse},
		{"two values", `{"task_id":"a"}{}`, "", identity.ErrInvalidRegistrationResponse},
		{"invalid UTF-8", "{\"task_id\":\"a\xff\"}", "", identity.ErrInvalidRegistrationResponse},
		{"control character", `{"task_id":"a\nb"}`, "", identity.ErrInvalidTaskID},
		{"sealed to another key", `{"encrypted_task_id":"` + sealedOther + `"}`, "", identity.ErrInvalidTaskIDCiphertext},
		{"ciphertext not base64", `{"encrypted_task_id":"***"}`, "", identity.ErrInvalidTaskIDCiphertext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			c, _ := clientFor(ts.URL)
			id, err := c.RegisterTask(context.Background(), s)
			assert.EqualValues(t, 1, hits.Load(), "a 2xx answer is never retried")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.ErrorIs(t, err, identity.ErrInvalidRegistrationResponse)
				assert.NotErrorIs(t, err, identity.ErrBootstrapUnavailable)
				assert.Empty(t, id)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, id)
		})
	}
}

func TestClientRegisterAgent(t *testing.T) {
	tests := []struct {
		name    string
		fedRAMP bool
	}{
		{"commercial", false},
		{"FedRAMP", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clientServer(t)
			login := srv.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{FedRAMP: tt.fedRAMP}})
			reg, km := clientRegistration(t, tt.fedRAMP)
			c, _ := clientFor(srv.AuthAPIBaseURL)

			id, err := c.RegisterAgent(context.Background(), login.AccessToken, reg)
			require.NoError(t, err)
			require.NoError(t, identity.ValidateRuntimeID(id))
			assert.Equal(t, 1, srv.Stats().AgentsRegistered)

			req := srv.LastAuthAPIRequest()
			require.NotNil(t, req)
			assert.Equal(t, "/api/accounts/v1/agent/register", req.Path)
			assert.Equal(t, []string{"Bearer " + login.AccessToken.Reveal()}, req.Header.Values("Authorization"))
			if tt.fedRAMP {
				assert.Equal(t, []string{"true"}, req.Header.Values("X-OpenAI-Fedramp"))
			} else {
				assert.Empty(t, req.Header.Values("X-OpenAI-Fedramp"))
			}
			want := `{"abom":{"agent_version":"1.2.3","agent_harness_id":"codex-cli","running_location":"local"},` +
				`"agent_public_key":"` + km.PublicKeySSH + `","capabilities":["responsesapi"],"ttl":null}`
			assert.Equal(t, want, string(req.Body))

			// The registered agent can register a task.
			s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
			require.NoError(t, err)
			_, err = c.RegisterTask(context.Background(), s)
			require.NoError(t, err)
		})
	}
}

func TestClientAgentBodyEscaping(t *testing.T) {
	srv := clientServer(t)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	reg, _ := clientRegistration(t, false)
	reg.AgentVersion = "<1.0 & \"q\"\\>"
	reg.AgentHarnessID = "h\u2028é\n"
	c, _ := clientFor(srv.AuthAPIBaseURL)
	_, err := c.RegisterAgent(context.Background(), login.AccessToken, reg)
	require.NoError(t, err)
	body := string(srv.LastAuthAPIRequest().Body)
	assert.Contains(t, body, `"agent_version":"<1.0 & \"q\"\\>"`, "serde_json escaping: <>& as-is")
	assert.Contains(t, body, "\"agent_harness_id\":\"h\u2028é\\n\"")
}

func TestClientRegisterAgentRefusedBeforeSending(t *testing.T) {
	good, _ := clientRegistration(t, false)
	tests := []struct {
		name    string
		token   string
		mutate  func(*identity.AgentRegistration)
		base    string
		wantErr error
		wantMsg string
	}{
		{name: "empty token", token: "", wantMsg: "empty"},
		{name: "token with newline", token: "abc\ndef", wantMsg: "control"},
		{name: "token with space", token: "abc def", wantMsg: "space"},
		{name: "bad ssh key", token: "tok", mutate: func(r *identity.AgentRegistration) { r.PublicKeySSH = "ssh-rsa AAAA" }, wantErr: wire.ErrInvalidKey},
		{name: "ssh key with comment", token: "tok", mutate: func(r *identity.AgentRegistration) { r.PublicKeySSH += " me@host" }, wantErr: wire.ErrInvalidKey},
		{name: "empty ssh key", token: "tok", mutate: func(r *identity.AgentRegistration) { r.PublicKeySSH = "" }, wantErr: wire.ErrInvalidKey},
		{name: "invalid UTF-8 abom", token: "tok", mutate: func(r *identity.AgentRegistration) { r.AgentVersion = "\xff" }, wantMsg: "UTF-8"},
		{name: "huge abom", token: "tok", mutate: func(r *identity.AgentRegistration) { r.RunningLocation = strings.Repeat("x", 2000) }, wantMsg: "longer"},
		{name: "bad base URL", token: "tok", base: "ftp://x", wantErr: agentidentity.ErrInvalidBaseURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
			defer ts.Close()
			base := ts.URL
			if tt.base != "" {
				base = tt.base
			}
			r := good
			if tt.mutate != nil {
				tt.mutate(&r)
			}
			c, _ := clientFor(base)
			_, err := c.RegisterAgent(context.Background(), codexhome.NewSecret(tt.token), r)
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "), err.Error())
			assert.Zero(t, hits.Load(), "no request was sent")
		})
	}
}

func TestClientRegisterTaskRefusedBeforeSending(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	c, _ := clientFor("http://example.invalid/a/../b")
	_, err := c.RegisterTask(context.Background(), s)
	assert.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
	c, _ = clientFor(srv.AuthAPIBaseURL)
	_, err = c.RegisterTask(context.Background(), nil)
	assert.ErrorContains(t, err, "nil")
	assert.Zero(t, srv.Stats().AuthAPIRequests)
}

// TestClientRetries covers each status class and the retry count.
func TestClientRetries(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		failures     int
		maxAttempts  int
		wantAttempts int
		wantOK       bool
		wantRetry    bool // error is retryable (wraps ErrBootstrapUnavailable)
	}{
		{"429 then success", 429, 2, 0, 3, true, true},
		{"500 then success", 500, 1, 0, 2, true, true},
		{"502 then success", 502, 2, 0, 3, true, true},
		{"503 three times", 503, 3, 0, 3, false, true},
		{"504 ten times", 504, 10, 0, 3, false, true},
		{"599 three times", 599, 3, 0, 3, false, true},
		{"MaxAttempts capped at 3", 503, 10, 10, 3, false, true},
		{"MaxAttempts 1", 503, 1, 1, 1, false, true},
		{"MaxAttempts 2", 429, 2, 2, 2, false, true},
		{"400 not retried", 400, 3, 0, 1, false, false},
		{"401 not retried", 401, 3, 0, 1, false, false},
		{"403 not retried", 403, 3, 0, 1, false, false},
		{"404 not retried", 404, 3, 0, 1, false, false},
		{"409 not retried", 409, 3, 0, 1, false, false},
		{"418 not retried", 418, 3, 0, 1, false, false},
		{"300 not retried", 300, 3, 0, 1, false, false},
		{"304 not retried", 304, 3, 0, 1, false, false},
	}
	for _, tt := range tests {
		for _, endpoint := range []string{"task", "agent"} {
			t.Run(tt.name+"/"+endpoint, func(t *testing.T) {
				srv := clientServer(t)
				c, sleeps := clientFor(srv.AuthAPIBaseURL)
				c.MaxAttempts = tt.maxAttempts
				s := clientAgent(t, srv, identitytest.LoginOptions{})
				login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
				reg, _ := clientRegistration(t, false)
				srv.SetFault(identitytest.Fault{Status: tt.status, Count: tt.failures})

				var err error
				if endpoint == "task" {
					_, err = c.RegisterTask(context.Background(), s)
				} else {
					_, err = c.RegisterAgent(context.Background(), login.AccessToken, reg)
				}
				assert.Equal(t, tt.wantAttempts, srv.Stats().AuthAPIRequests)
				assert.Len(t, sleeps.all(), tt.wantAttempts-1)
				if tt.wantOK {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				var re *identity.RegistrationError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.status, re.StatusCode)
				assert.Equal(t, tt.wantRetry, re.Retryable)
				assert.Equal(t, endpoint+" registration", re.Endpoint)
				assert.Equal(t, tt.wantRetry, errors.Is(err, identity.ErrBootstrapUnavailable))
				assert.Contains(t, err.Error(), fmt.Sprintf("HTTP %d", tt.status))
				if tt.status != 304 {
					assert.Contains(t, re.Body, "injected failure")
				}
			})
		}
	}
}

// TestClientBackoffBounds checks the waits between attempts with the jitter
// at both ends of its range.
func TestClientBackoffBounds(t *testing.T) {
	tests := []struct {
		name   string
		jitter func(int64) int64
		want   []time.Duration
	}{
		{"least jitter", func(int64) int64 { return 0 }, []time.Duration{125 * time.Millisecond, 250 * time.Millisecond}},
		{"most jitter", func(n int64) int64 { return n - 1 }, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{"out-of-range jitter clamped", func(n int64) int64 { return n * 10 }, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clientServer(t)
			s := clientAgent(t, srv, identitytest.LoginOptions{})
			sl := &clientSleeps{}
			c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
			identity.SetClientTestHooks(c, identity.ClientTestHooks{Sleep: sl.sleep, Jitter: tt.jitter})
			srv.SetFault(identitytest.Fault{Status: 503, Count: 5})
			_, err := c.RegisterTask(context.Background(), s)
			require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
			got := sl.all()
			require.Len(t, got, 2)
			for i := range got {
				assert.InDelta(t, float64(tt.want[i]), float64(got[i]), float64(time.Nanosecond), "wait %d", i)
			}
		})
	}
	t.Run("random jitter stays in range", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		for range 20 {
			c, sl := clientFor(srv.AuthAPIBaseURL)
			srv.SetFault(identitytest.Fault{Status: 500, Count: 3})
			_, err := c.RegisterTask(context.Background(), s)
			require.Error(t, err)
			got := sl.all()
			require.Len(t, got, 2)
			assert.GreaterOrEqual(t, got[0], 125*time.Millisecond)
			assert.LessOrEqual(t, got[0], 250*time.Millisecond)
			assert.GreaterOrEqual(t, got[1], 250*time.Millisecond)
			assert.LessOrEqual(t, got[1], 500*time.Millisecond)
		}
	})
}

func TestClientRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "2", 2 * time.Second},
		{"zero keeps back-off", "0", 125 * time.Millisecond},
		{"capped at 10 s", "60", 10 * time.Second},
		{"huge capped", "99999999999999999999999", 10 * time.Second},
		{"HTTP date", now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{"HTTP date capped", now.Add(time.Hour).Format(http.TimeFormat), 10 * time.Second},
		{"HTTP date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 125 * time.Millisecond},
		{"negative ignored", "-5", 125 * time.Millisecond},
		{"fraction ignored", "1.5", 125 * time.Millisecond},
		{"garbage ignored", "soon", 125 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := identitytest.NewUnstartedServer(identitytest.Options{Now: func() time.Time { return now }})
			require.NoError(t, srv.Start())
			defer srv.Close()
			s := clientAgent(t, srv, identitytest.LoginOptions{})
			sl := &clientSleeps{}
			c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
			identity.SetClientTestHooks(c, identity.ClientTestHooks{
				Sleep:  sl.sleep,
				Now:    func() time.Time { return now },
				Jitter: func(int64) int64 { return 0 },
			})
			srv.SetFault(identitytest.Fault{Status: 429, Count: 1, RetryAfter: tt.retryAfter})
			_, err := c.RegisterTask(context.Background(), s)
			require.NoError(t, err)
			assert.Equal(t, []time.Duration{tt.want}, sl.all())
		})
	}
}

func TestClientConnectionRefused(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	dead := httptest.NewServer(http.NotFoundHandler())
	base := dead.URL + "/api/accounts"
	dead.Close()

	c, sl := clientFor(base)
	_, err := c.RegisterTask(context.Background(), s)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
	var re *identity.RegistrationError
	require.ErrorAs(t, err, &re)
	assert.Zero(t, re.StatusCode)
	assert.True(t, re.Retryable)
	assert.Error(t, re.Err)
	assert.Len(t, sl.all(), 2, "three attempts")
}

func TestClientAttemptTimeout(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	srv.SetFault(identitytest.Fault{Delay: 2 * time.Second})
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	sl := &clientSleeps{}
	identity.SetClientTestHooks(c, identity.ClientTestHooks{Sleep: sl.sleep, AttemptTimeout: 30 * time.Millisecond})

	start := time.Now()
	_, err := c.RegisterTask(context.Background(), s)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
	assert.Less(t, time.Since(start), 1500*time.Millisecond)
	var re *identity.RegistrationError
	require.ErrorAs(t, err, &re)
	assert.True(t, re.Retryable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 3, srv.Stats().AuthAPIRequests)
}

func TestClientContextCancellation(t *testing.T) {
	t.Run("during back-off", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		srv.SetFault(identitytest.Fault{Status: 503, Count: 3, RetryAfter: "10"})
		ctx, cancel := context.WithCancel(context.Background())
		c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
		identity.SetClientTestHooks(c, identity.ClientTestHooks{Sleep: func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}})
		_, err := c.RegisterTask(ctx, s)
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, identity.ErrBootstrapUnavailable)
		assert.Equal(t, 1, srv.Stats().AuthAPIRequests)
	})
	t.Run("real back-off timer stops at once", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		srv.SetFault(identitytest.Fault{Status: 503, Count: 3, RetryAfter: "10"})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
		start := time.Now()
		_, err := c.RegisterTask(ctx, s)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Equal(t, 1, srv.Stats().AuthAPIRequests)
	})
	t.Run("during the request", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		srv.SetFault(identitytest.Fault{Delay: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		c, sl := clientFor(srv.AuthAPIBaseURL)
		_, err := c.RegisterTask(ctx, s)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, identity.ErrBootstrapUnavailable)
		assert.Empty(t, sl.all(), "no retry once the caller's context ended")
	})
	t.Run("already canceled", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, _ := clientFor(srv.AuthAPIBaseURL)
		_, err := c.RegisterTask(ctx, s)
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, srv.Stats().AuthAPIRequests)
	})
}

func TestClientBodyFaults(t *testing.T) {
	// hugeBody is a valid JSON object of 10 MiB with the id member.
	hugeBody := func(member string) string {
		head := `{"` + member + `":"x","padding":"`
		return head + strings.Repeat("a", 10<<20-len(head)-2) + `"}`
	}
	tests := []struct {
		name      string
		status    int                 // 0: the body of a successful registration
		body      func(string) string // of the id member's name
		wantErr   error
		attempts  int
		maxErrLen int
	}{
		{"malformed JSON", 0, func(m string) string { return `{"` + m + `": "x"` }, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"10 MiB 200", 0, hugeBody, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"10 MiB 500", 500, hugeBody, identity.ErrBootstrapUnavailable, 3, 512},
		{"empty id", 0, func(m string) string { return `{"` + m + `":""}` }, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"null id", 0, func(m string) string { return `{"` + m + `":null}` }, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"number id", 0, func(m string) string { return `{"` + m + `":42}` }, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"missing id", 0, func(string) string { return `{}` }, identity.ErrInvalidRegistrationResponse, 1, 0},
		{"duplicate member", 0, func(m string) string { return `{"` + m + `":"a","` + m + `":"b"}` }, identity.ErrInvalidRegistrationResponse, 1, 0},
	}
	for _, tt := range tests {
		for _, endpoint := range []struct{ name, member string }{{"task", "task_id"}, {"agent", "agent_runtime_id"}} {
			t.Run(tt.name+"/"+endpoint.name, func(t *testing.T) {
				srv := clientServer(t)
				s := clientAgent(t, srv, identitytest.LoginOptions{})
				login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
				reg, _ := clientRegistration(t, false)
				c, _ := clientFor(srv.AuthAPIBaseURL)
				srv.SetFault(identitytest.Fault{Status: tt.status, Body: []byte(tt.body(endpoint.member))})
				var err error
				if endpoint.name == "task" {
					_, err = c.RegisterTask(context.Background(), s)
				} else {
					_, err = c.RegisterAgent(context.Background(), login.AccessToken, reg)
				}
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, tt.attempts, srv.Stats().AuthAPIRequests)
				if tt.maxErrLen > 0 {
					var re *identity.RegistrationError
					require.ErrorAs(t, err, &re)
					assert.Len(t, re.Body, tt.maxErrLen)
				}
			})
		}
	}
	t.Run("bad ciphertext", func(t *testing.T) {
		srv := clientServer(t)
		s := clientAgent(t, srv, identitytest.LoginOptions{})
		// 64 zero bytes: the shape of a sealed id, but it does not open.
		srv.SetFault(identitytest.Fault{Body: []byte(`{"encrypted_task_id":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `"}`)})
		c, _ := clientFor(srv.AuthAPIBaseURL)
		_, err := c.RegisterTask(context.Background(), s)
		require.ErrorIs(t, err, identity.ErrInvalidTaskIDCiphertext)
		assert.ErrorIs(t, err, identity.ErrInvalidRegistrationResponse)
	})
}

func TestClientErrorBodyTruncation(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"short", "nope", "nope"},
		{"exactly 512", strings.Repeat("a", 512), strings.Repeat("a", 512)},
		{"cut on a rune boundary", strings.Repeat("a", 511) + "é" + "zzz", strings.Repeat("a", 511)},
		{"three-byte rune", strings.Repeat("a", 510) + "€", strings.Repeat("a", 510)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			srv := clientServer(t)
			s := clientAgent(t, srv, identitytest.LoginOptions{})
			c, _ := clientFor(ts.URL)
			_, err := c.RegisterTask(context.Background(), s)
			var re *identity.RegistrationError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.want, re.Body)
			assert.LessOrEqual(t, len(re.Body), 512)
		})
	}
}

func TestClientRedirectNotFollowed(t *testing.T) {
	tests := []struct {
		name   string
		client func() *http.Client
	}{
		{"default client", func() *http.Client { return nil }},
		{"caller's client that follows redirects", func() *http.Client { return &http.Client{} }},
		{"caller's client with its own CheckRedirect", func() *http.Client {
			return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var targetHits atomic.Int32
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				targetHits.Add(1)
				_, _ = io.WriteString(w, `{"task_id":"stolen","agent_runtime_id":"agent-stolen"}`)
			}))
			defer target.Close()
			srv := clientServer(t)
			srv.SetFault(identitytest.Fault{RedirectTo: target.URL + "/elsewhere"})
			s := clientAgent(t, srv, identitytest.LoginOptions{})
			login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
			reg, _ := clientRegistration(t, false)
			hc := tt.client()
			var keep func(*http.Request, []*http.Request) error
			if hc != nil {
				keep = hc.CheckRedirect
			}
			c, sl := clientFor(srv.AuthAPIBaseURL)
			c.HTTPClient = hc

			_, err := c.RegisterTask(context.Background(), s)
			var re *identity.RegistrationError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, http.StatusTemporaryRedirect, re.StatusCode)
			assert.False(t, re.Retryable)
			assert.Contains(t, err.Error(), "HTTP 307")
			assert.Contains(t, err.Error(), "redirects are not followed")

			_, err = c.RegisterAgent(context.Background(), login.AccessToken, reg)
			require.ErrorAs(t, err, &re)
			assert.Equal(t, http.StatusTemporaryRedirect, re.StatusCode)

			assert.Zero(t, targetHits.Load(), "the redirect target is never contacted")
			assert.Empty(t, sl.all())
			if hc != nil {
				assert.Equal(t, fmt.Sprintf("%p", keep), fmt.Sprintf("%p", hc.CheckRedirect), "the caller's client is not modified")
			}
		})
	}
}

func TestClientUserAgentAndHTTPClient(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	var used atomic.Int32
	hc := &http.Client{Transport: clientCountingTransport{n: &used, rt: http.DefaultTransport}}
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL, HTTPClient: hc, UserAgent: "my-agent/1.0"}
	_, err := c.RegisterTask(context.Background(), s)
	require.NoError(t, err)
	assert.EqualValues(t, 1, used.Load())
	assert.Equal(t, "my-agent/1.0", srv.LastAuthAPIRequest().Header.Get("User-Agent"))
}

type clientCountingTransport struct {
	n  *atomic.Int32
	rt http.RoundTripper
}

func (t clientCountingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.rt.RoundTrip(r)
}

// TestClientNoSecretsInErrors runs every failure class against a server that
// echoes the request's Authorization header and body, and checks that no
// error text or log line holds the access token, the signature or the key.
func TestClientNoSecretsInErrors(t *testing.T) {
	srv := clientServer(t)
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	id, err := srv.AddAgent(km.PublicKeySSH, codexhome.Account{})
	require.NoError(t, err)
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	const token = "secret-access-token-0123456789abcdefghijklmnopqrstuvwxyz"

	var mu sync.Mutex
	var signatures []string
	echo := func(status int, prefix string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if sig := clientSignatureOf(body); sig != "" {
				mu.Lock()
				signatures = append(signatures, sig)
				mu.Unlock()
			}
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, prefix+"echo %s %s %s", r.Header.Get("Authorization"), body, r.Header.Get("Authorization"))
		}
	}
	classes := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"400 echo", echo(400, "")},
		{"401 echo", echo(401, "")},
		{"429 echo", echo(429, "")},
		{"500 echo", echo(500, "")},
		{"302 echo", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "http://elsewhere.invalid/"+r.Header.Get("Authorization"))
			echo(302, "")(w, r)
		}},
		{"200 not JSON echo", echo(200, "")},
		{"503 long echo", echo(503, strings.Repeat("x", 500))},
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var msgs []string
	for _, tc := range classes {
		ts := httptest.NewServer(tc.handler)
		c, _ := clientFor(ts.URL)
		c.Logger = logger
		reg := identity.AgentRegistration{AgentVersion: "1", AgentHarnessID: "h", RunningLocation: "l", PublicKeySSH: km.PublicKeySSH}
		_, err := c.RegisterAgent(context.Background(), codexhome.NewSecret(token), reg)
		require.Error(t, err, tc.name)
		msgs = append(msgs, tc.name+" agent: "+err.Error(), fmt.Sprintf("%+v %#v", err, err))
		_, err = c.RegisterTask(context.Background(), s)
		require.Error(t, err, tc.name)
		msgs = append(msgs, tc.name+" task: "+err.Error(), fmt.Sprintf("%+v %#v", err, err))
		ts.Close()
	}
	// Transport errors and time-outs.
	c, _ := clientFor(srv.AuthAPIBaseURL)
	c.Logger = logger
	srv.SetFault(identitytest.Fault{Delay: time.Second})
	identity.SetClientTestHooks(c, identity.ClientTestHooks{Sleep: (&clientSleeps{}).sleep, AttemptTimeout: 10 * time.Millisecond})
	_, err = c.RegisterAgent(context.Background(), codexhome.NewSecret(token), identity.AgentRegistration{PublicKeySSH: km.PublicKeySSH})
	require.Error(t, err)
	msgs = append(msgs, err.Error())
	_, err = c.RegisterAgent(context.Background(), codexhome.NewSecret(token+"\n"), identity.AgentRegistration{PublicKeySSH: km.PublicKeySSH})
	require.Error(t, err)
	msgs = append(msgs, err.Error())

	all := strings.Join(msgs, "\n") + "\n" + logs.String()
	require.NotEmpty(t, signatures)
	assert.NotContains(t, all, token)
	assert.NotContains(t, all, km.PrivateKeyPKCS8Base64.Reveal())
	for _, sig := range signatures {
		assert.NotContains(t, all, sig)
	}
	assert.Contains(t, all, "[REDACTED]", "echoed secrets are replaced, not silently dropped")
	assert.Contains(t, logs.String(), "attempt=", "the logger was used")
}

// clientSignatureOf returns the signature member of a task registration body.
func clientSignatureOf(body []byte) string {
	_, after, ok := strings.Cut(string(body), `"signature":"`)
	if !ok {
		return ""
	}
	sig, _, _ := strings.Cut(after, `"`)
	return sig
}

// TestClientFreshSignaturePerAttempt checks that each attempt signs anew.
func TestClientFreshSignaturePerAttempt(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(503)
	}))
	defer ts.Close()
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &identity.Client{AuthAPIBaseURL: ts.URL}
	identity.SetClientTestHooks(c, identity.ClientTestHooks{
		Now: func() time.Time { return clock },
		Sleep: func(ctx context.Context, d time.Duration) error {
			clock = clock.Add(time.Second)
			return nil
		},
	})
	_, err := c.RegisterTask(context.Background(), s)
	require.ErrorIs(t, err, identity.ErrBootstrapUnavailable)
	require.Len(t, bodies, 3)
	for i, b := range bodies {
		_, err := gateway.VerifyTaskRegistration(s.AgentRuntimeID(), []byte(b), s.PublicKey(), clock, time.Minute)
		require.NoError(t, err, "body %d", i)
		assert.Contains(t, b, clock.Add(time.Duration(i-2)*time.Second).Format(time.RFC3339))
	}
	assert.NotEqual(t, bodies[0], bodies[1])
}

func TestClientConcurrentUse(t *testing.T) {
	srv := clientServer(t)
	s := clientAgent(t, srv, identitytest.LoginOptions{})
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	var wg sync.WaitGroup
	ids := make([]string, 32)
	for i := range ids {
		wg.Go(func() {
			id, err := c.RegisterTask(context.Background(), s)
			assert.NoError(t, err)
			ids[i] = id
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "task ids are unique")
		seen[id] = true
	}
	assert.Equal(t, 32, srv.Stats().TasksRegistered)
}

func TestClientRefusesPlainHTTPToRemoteHosts(t *testing.T) {
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	s, err := identity.NewSigner("agent-1", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	for _, base := range []string{"http://auth.example.com/api/accounts", "http://10.0.0.1/api", "http://localhoſt/api"} {
		t.Run(base, func(t *testing.T) {
			c := &identity.Client{AuthAPIBaseURL: base}
			_, err := c.RegisterTask(context.Background(), s)
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			_, err = c.RegisterAgent(context.Background(), codexhome.NewSecret("token"), identity.AgentRegistration{
				AgentVersion: "1", AgentHarnessID: "h", RunningLocation: "l", PublicKeySSH: km.PublicKeySSH})
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
		})
	}
}
