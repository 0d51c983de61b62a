package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// storedTask returns the task_id of the agent_identity record in auth.json.
func storedTask(t *testing.T, home string) string {
	t.Helper()
	rec, ok := readAuth(t, home)["agent_identity"].(map[string]any)
	require.True(t, ok, "auth.json holds an agent_identity record")
	id, _ := rec["task_id"].(string)
	return id
}

// TestTaskEndedMidRunIsReplacedOnce ends the task at the backend between two
// requests: the next request is refused once, the task is replaced once,
// the request is retried once and succeeds, and the new run task is saved
// where the old one was (auth.json for Load; the saver for NewRunAuth;
// nowhere for a session).
func TestTaskEndedMidRunIsReplacedOnce(t *testing.T) {
	type setup struct {
		ra     *identity.RunAuth
		srv    *identitytest.Server
		base   string
		saved  func() string // the persisted run task ("" when not persisted)
		runTsk func() string // the run task that must stay untouched, if any
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T) setup
	}{
		{"Load ChatGPT run task in auth.json", func(t *testing.T) setup {
			f := newLoadFixture(t, identitytest.CodexHomeOptions{})
			f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
			ra, err := f.load(context.Background(), identity.PolicyChatGPTAuth, nil)
			require.NoError(t, err)
			return setup{ra: ra, srv: f.srv, base: f.srv.ChatGPTBaseURL, saved: func() string { return storedTask(t, f.home) }}
		}},
		{"NewRunAuth with a task saver", func(t *testing.T) setup {
			f := newRunAuthFixture(t)
			var mu sync.Mutex
			var saved string
			ra := f.runAuth(t, identity.RunAuthOptions{SaveTask: func(_ context.Context, id string) error {
				mu.Lock()
				defer mu.Unlock()
				saved = id
				return nil
			}})
			return setup{ra: ra, srv: f.srv, base: f.srv.ChatGPTBaseURL, saved: func() string { mu.Lock(); defer mu.Unlock(); return saved }}
		}},
		{"session task in memory", func(t *testing.T) setup {
			f := newLoadFixture(t, identitytest.CodexHomeOptions{})
			f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
			run, err := f.load(context.Background(), identity.PolicyChatGPTAuth, nil)
			require.NoError(t, err)
			runTask := storedTask(t, f.home)
			return setup{ra: run.ForSession("s1"), srv: f.srv, base: f.srv.ChatGPTBaseURL,
				runTsk: func() string { return runTask + "|" + storedTask(t, f.home) }}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.make(t)
			ctx := context.Background()
			c := &http.Client{Transport: s.ra.Transport(nil)}
			url := s.base + "/codex/responses"
			code, v := postJSON(t, c, url, []byte(`{"n":1}`))
			require.Equal(t, http.StatusOK, code)
			old := v.TaskID
			var runBefore string
			if s.runTsk != nil {
				runBefore = s.runTsk()
			}
			st := s.srv.Stats()
			registered, rejected := st.TasksRegistered, st.RequestsRejected

			require.True(t, s.srv.EndTask(s.ra.AgentRuntimeID(), old))
			code, v = postJSON(t, c, url, []byte(`{"n":2}`))
			require.Equal(t, http.StatusOK, code, "the request is retried with a new task")
			assert.NotEqual(t, old, v.TaskID)
			assert.Equal(t, registered+1, s.srv.Stats().TasksRegistered, "exactly one replacement")
			assert.Equal(t, rejected+1, s.srv.Stats().RequestsRejected, "exactly one refused attempt")
			task, err := s.ra.TaskID(ctx)
			require.NoError(t, err)
			assert.Equal(t, v.TaskID, task)
			if s.saved != nil {
				assert.Equal(t, v.TaskID, s.saved(), "the new task is saved where the old one was")
			}
			if s.runTsk != nil {
				assert.Equal(t, runBefore, s.runTsk(), "a session heals in memory, the run task is untouched")
			}

			// Later requests use the new task: no more refusals or
			// registrations.
			code, _ = postJSON(t, c, url, []byte(`{"n":3}`))
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, registered+1, s.srv.Stats().TasksRegistered)
			assert.Equal(t, rejected+1, s.srv.Stats().RequestsRejected)
		})
	}
}

// TestTaskEndedConcurrentRequestsOneReplacement: many requests refused for
// the same ended task make one registration between them.
func TestTaskEndedConcurrentRequestsOneReplacement(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	c := &http.Client{Transport: ra.Transport(nil)}
	url := f.srv.ChatGPTBaseURL + "/codex/responses"
	code, v := postJSON(t, c, url, []byte(`{}`))
	require.Equal(t, http.StatusOK, code)
	require.True(t, f.srv.EndTask(ra.AgentRuntimeID(), v.TaskID))
	before := f.srv.Stats().TasksRegistered

	const n = 50
	tasks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, v := postJSON(t, c, url, []byte(`{}`))
			if assert.Equal(t, http.StatusOK, code) {
				tasks[i] = v.TaskID
			}
		})
	}
	wg.Wait()
	assert.Equal(t, before+1, f.srv.Stats().TasksRegistered)
	for _, id := range tasks {
		assert.Equal(t, tasks[0], id)
	}
}

// TestTaskEndedTwoProcessesOneNewTask: two "processes" (two Loads of one
// CODEX_HOME) whose shared stored task ends get one new task between them:
// the second adopts the one the first saved.
func TestTaskEndedTwoProcessesOneNewTask(t *testing.T) {
	for _, tc := range []struct {
		name       string
		concurrent bool
	}{
		{"one after the other", false},
		{"at the same time", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoadFixture(t, identitytest.CodexHomeOptions{})
			f.write(t, identitytest.CodexHomeOptions{Login: &f.login, UseAgentIdentity: true})
			ctx := context.Background()
			a, err := f.load(ctx, identity.PolicyChatGPTAuth, nil)
			require.NoError(t, err)
			b, err := f.load(ctx, identity.PolicyChatGPTAuth, nil)
			require.NoError(t, err)
			old := storedTask(t, f.home)
			require.True(t, f.srv.EndTask(a.AgentRuntimeID(), old))
			before := f.srv.Stats().TasksRegistered

			url := f.srv.ChatGPTBaseURL + "/codex/responses"
			got := make([]string, 2)
			send := func(i int, ra *identity.RunAuth) {
				code, v := postJSON(t, &http.Client{Transport: ra.Transport(nil)}, url, []byte(`{}`))
				if assert.Equal(t, http.StatusOK, code) {
					got[i] = v.TaskID
				}
			}
			if tc.concurrent {
				var wg sync.WaitGroup
				wg.Go(func() { send(0, a) })
				wg.Go(func() { send(1, b) })
				wg.Wait()
			} else {
				send(0, a)
				send(1, b)
			}
			assert.Equal(t, before+1, f.srv.Stats().TasksRegistered, "one new task for both processes")
			assert.NotEqual(t, old, got[0])
			assert.Equal(t, got[0], got[1], "both processes end up on one task")
			assert.Equal(t, got[0], storedTask(t, f.home))
		})
	}
}

// refuseInference answers 401 to every inference request while on is set,
// without asking the server, and passes everything else on.
type refuseInference struct {
	on      atomic.Bool
	refused atomic.Int32
}

func (r *refuseInference) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.on.Load() && strings.HasSuffix(req.URL.Path, "/codex/responses") {
		r.refused.Add(1)
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{"error":"task expired"}`)), Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestTaskRetryRefusedTooFailsTyped: when the retry with the new task is
// refused too, the request fails with a *TaskRejectedError, exactly one task
// was registered, and no other is registered before the back-off passed.
func TestTaskRetryRefusedTooFailsTyped(t *testing.T) {
	f := newRunAuthFixture(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ra := f.runAuthAt(t, clock, identity.RunAuthOptions{})
	base := &refuseInference{}
	c := &http.Client{Transport: ra.Transport(base)}
	url := f.srv.ChatGPTBaseURL + "/codex/responses"
	code, _ := postJSON(t, c, url, []byte(`{}`))
	require.Equal(t, http.StatusOK, code)
	before := f.srv.Stats().TasksRegistered
	base.on.Store(true)

	send := func() error {
		resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(`{}`)))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name           string
		advance        time.Duration
		wantRegistered int
		wantSent       int32 // attempts that reached the refusing transport
		wantRetried    bool
	}{
		{"refused, replaced once, retried once, refused again", 0, 1, 2, true},
		{"refused within the back-off: no new task, no retry", 0, 1, 1, false},
		{"after the back-off: one more replacement and retry", 2 * time.Second, 2, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			now = now.Add(tc.advance)
			mu.Unlock()
			sent := base.refused.Load()
			err := send()
			var te *identity.TaskRejectedError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, http.StatusUnauthorized, te.StatusCode)
			assert.Equal(t, `{"error":"task expired"}`, te.Body)
			assert.Equal(t, tc.wantRetried, te.Retried)
			assert.False(t, te.RetryAt.IsZero(), "the error says when a new task may be registered")
			assert.Equal(t, before+tc.wantRegistered, f.srv.Stats().TasksRegistered)
			assert.Equal(t, tc.wantSent, base.refused.Load()-sent, "never a loop")
		})
	}

	// Once the backend accepts the task again, requests succeed.
	base.on.Store(false)
	code, _ = postJSON(t, c, url, []byte(`{}`))
	assert.Equal(t, http.StatusOK, code)
}

// TestTaskEndedNonReplayableBody: a body without GetBody is not sent again;
// the error says so, and the replaced task serves the next request.
func TestTaskEndedNonReplayableBody(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	c := &http.Client{Transport: ra.Transport(nil)}
	url := f.srv.ChatGPTBaseURL + "/codex/responses"
	code, v := postJSON(t, c, url, []byte(`{}`))
	require.Equal(t, http.StatusOK, code)
	require.True(t, f.srv.EndTask(ra.AgentRuntimeID(), v.TaskID))
	st := f.srv.Stats()
	before, rejected := st.TasksRegistered, st.RequestsRejected

	req, err := http.NewRequest(http.MethodPost, url, io.NopCloser(strings.NewReader(`{"once":true}`)))
	require.NoError(t, err)
	require.Nil(t, req.GetBody, "a plain io.Reader body cannot be replayed")
	_, err = c.Do(req)
	var te *identity.TaskRejectedError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.NotReplayable)
	assert.False(t, te.Retried)
	assert.Contains(t, err.Error(), "cannot be replayed")
	assert.Equal(t, before+1, f.srv.Stats().TasksRegistered, "the task is still replaced")
	assert.Equal(t, rejected+1, f.srv.Stats().RequestsRejected, "the request was not sent again")

	code, v2 := postJSON(t, c, url, []byte(`{"once":true}`))
	require.Equal(t, http.StatusOK, code)
	assert.NotEqual(t, v.TaskID, v2.TaskID)
	assert.Equal(t, before+1, f.srv.Stats().TasksRegistered)
}

// TestTaskRejectedErrorMatches checks the error's matching and message.
func TestTaskRejectedErrorMatches(t *testing.T) {
	inner := errors.New("registration failed")
	for _, tc := range []struct {
		name string
		err  *identity.TaskRejectedError
		want []string
	}{
		{"retried", &identity.TaskRejectedError{StatusCode: 401, Retried: true}, []string{"retried once"}},
		{"not replayable", &identity.TaskRejectedError{StatusCode: 401, NotReplayable: true}, []string{"cannot be replayed", "GetBody"}},
		{"registration failed", &identity.TaskRejectedError{StatusCode: 401, Err: inner}, []string{"registration failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var te *identity.TaskRejectedError
			require.ErrorAs(t, fmt.Errorf("wrapped: %w", tc.err), &te)
			assert.Same(t, tc.err, te)
			if tc.err.Err != nil {
				assert.ErrorIs(t, tc.err, inner)
			}
			for _, w := range tc.want {
				assert.Contains(t, tc.err.Error(), w)
			}
			assert.True(t, strings.HasPrefix(tc.err.Error(), "identity: "))
		})
	}
}

// TestTaskEndedReplacementFails: when no new task can be registered, the
// backend's 401 answer is handed back as it came (body intact), the request
// is not retried, and later requests wait for the registration back-off.
func TestTaskEndedReplacementFails(t *testing.T) {
	f := newRunAuthFixture(t)
	ra := f.runAuth(t, identity.RunAuthOptions{})
	base := &refuseInference{}
	c := &http.Client{Transport: ra.Transport(base)}
	url := f.srv.ChatGPTBaseURL + "/codex/responses"
	code, _ := postJSON(t, c, url, []byte(`{}`))
	require.Equal(t, http.StatusOK, code)
	base.on.Store(true)
	f.srv.SetFault(identitytest.Fault{Status: http.StatusForbidden, Count: 100})
	before := base.refused.Load()

	resp, err := c.Post(url, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `{"error":"task expired"}`, string(body))
	assert.Equal(t, int32(1), base.refused.Load()-before, "not retried")

	_, err = c.Post(url, "application/json", strings.NewReader(`{}`))
	var be *identity.BackoffError
	require.ErrorAs(t, err, &be, "the next request waits for the back-off")
	assert.Equal(t, int32(1), base.refused.Load()-before, "and is not sent")
}
