package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Self-healing tasks (docs/protocol.md#task-healing).
//
// Nothing public says what the backend answers for an ended or unknown
// task. The Codex CLI registers one task per process, keeps it for the
// process's life and does not recover a 401 under agent identity auth;
// third-party clients of the real backend report HTTP 401 for a task that
// is no longer valid, and register one replacement task and retry once.
// So this package treats any 401 to an AgentAssertion-signed request as
// "the task may have ended":
//
//   - the task it was signed for is replaced once (single flight per run or
//     session); for the run, Load's saver first re-reads auth.json under the
//     module's lock and adopts a task another process saved meanwhile, else
//     registers one and saves it where the old one was kept; a session's
//     task is replaced in memory;
//   - the request is sent again once, when its body can be replayed
//     (no body, or http.Request.GetBody set); otherwise it fails with a
//     [*TaskRejectedError] saying so;
//   - when no new task can be registered, the 401 answer is returned as it
//     came and the registration back-off applies to later requests;
//   - a task id is never replaced twice, nor adopted again once refused;
//   - if the retry is refused too, the request fails with a
//     [*TaskRejectedError] and no task is registered for the slot until a
//     back-off (1 s, doubling up to 5 min) has passed. Never a loop.

// isStale reports whether task was refused already (replaced, or the task
// whose replacement is in back-off).
func (s *taskSlot) isStale(task string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.replaced[task]
	return ok || task == s.healBlocked
}

// replaceTask returns the task to use after the backend refused ended: the
// slot's current task if it was replaced meanwhile, else a new one (one
// registration however many callers ask). It fails while the slot is in
// heal back-off.
func (r *runState) replaceTask(ctx context.Context, slot *taskSlot, ended string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	slot.mu.Lock()
	switch {
	case slot.ended:
		slot.mu.Unlock()
		return "", errSessionEnded
	case slot.taskID != "" && slot.taskID != ended:
		// Replaced meanwhile (by another request of this slot).
		id := slot.taskID
		slot.mu.Unlock()
		return id, nil
	case slot.taskID == ended:
		if ended == slot.healBlocked && r.now().Before(slot.healRetryAt) {
			at := slot.healRetryAt
			slot.mu.Unlock()
			return "", &TaskRejectedError{StatusCode: http.StatusUnauthorized, RetryAt: at}
		}
		if slot.replaced == nil {
			slot.replaced = make(map[string]struct{})
		}
		slot.replaced[ended] = struct{}{}
		slot.taskID = ""
		slot.gen.Add(1)
		slot.header.Store(nil)
		// A failed registration before this one must not delay the
		// replacement.
		slot.lastErr, slot.failures = nil, 0
		if slot.flight == nil {
			r.startFlight(ctx, slot, ended)
		}
	}
	// No task (a replacement or first registration is in flight, or failed
	// within its back-off): join it.
	slot.mu.Unlock()
	return r.task(ctx, slot)
}

// retryRefused records that the retry with task was refused too: no
// replacement of it before the back-off has passed.
func (r *runState) retryRefused(slot *taskSlot, task string) time.Time {
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.healFailures++
	slot.healBlocked = task
	slot.healRetryAt = r.now().Add(doublingBackoff(slot.healFailures, minTaskBackoff, maxTaskBackoff))
	return slot.healRetryAt
}

// retryAccepted ends the heal back-off after a retry that was not refused.
func (slot *taskSlot) retryAccepted() {
	slot.mu.Lock()
	slot.healFailures, slot.healBlocked, slot.healRetryAt = 0, "", time.Time{}
	slot.mu.Unlock()
}

// replayable reports whether req can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replayRequest returns a clone of req with a fresh body from GetBody.
func replayRequest(req *http.Request) (*http.Request, error) {
	out := cloneRequest(req)
	if req.Body != nil && req.Body != http.NoBody {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = b
	}
	return out, nil
}

// peekBody reads the start of resp's body and puts it back, so that resp
// can still be handed to the caller whole.
func peekBody(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return string(b)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// discard drains (a bounded amount of) and closes resp's body.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// heal handles a 401 answer to a request signed for task: replaces the task
// and sends the request again once, if it can be replayed. When no new task
// can be registered (the registration failed), the backend's answer is
// returned as it came, and the slot's registration back-off applies.
func (t *transport) heal(base http.RoundTripper, req *http.Request, resp *http.Response, task string) (*http.Response, error) {
	r, slot := t.auth.run, t.auth.slot
	status, body := resp.StatusCode, peekBody(resp)
	ctx := req.Context()
	if _, err := r.replaceTask(ctx, slot, task); err != nil {
		var te *TaskRejectedError
		if errors.As(err, &te) {
			discard(resp)
			te.Body = body
			return nil, te
		}
		r.logger.Warn("agent identity: the backend refused the task and no new one could be registered",
			slog.String("agent_runtime_id", r.signer.AgentRuntimeID()),
			slog.String("session", slot.session),
			slog.String("error", err.Error()))
		return resp, nil
	}
	discard(resp)
	if !replayable(req) {
		return nil, &TaskRejectedError{StatusCode: status, Body: body, NotReplayable: true}
	}
	c, err := r.credentialFor(ctx, slot, req.URL)
	if err != nil {
		return nil, &TaskRejectedError{StatusCode: status, Body: body, Err: err}
	}
	again, err := replayRequest(req)
	if err != nil {
		return nil, &TaskRejectedError{StatusCode: status, Body: body, Err: err}
	}
	if !c.touch {
		return base.RoundTrip(again)
	}
	resp, err = base.RoundTrip(r.apply(again, c))
	if err != nil || c.task == "" {
		return resp, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		slot.retryAccepted()
		return resp, nil
	}
	status, body = resp.StatusCode, peekBody(resp)
	discard(resp)
	at := r.retryRefused(slot, c.task)
	return nil, &TaskRejectedError{StatusCode: status, Body: body, Retried: true, RetryAt: at}
}
