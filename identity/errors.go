package identity

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// Sentinel errors that callers branch on with errors.Is. Every error the
// package returns for one of these conditions wraps the matching sentinel.
var (
	// ErrInvalidRuntimeID means an agent runtime id is outside the allowlist:
	// ASCII letters, digits, '-', '_', '.', '~', 1 to 256 characters, and
	// neither "." nor "..".
	ErrInvalidRuntimeID = ids.ErrInvalidRuntimeID

	// ErrInvalidTaskID means a task id is empty, longer than MaxTaskIDLen
	// bytes, not UTF-8 or holds a control character (C0, DEL or C1).
	ErrInvalidTaskID = ids.ErrInvalidTaskID

	// ErrInvalidKey means an agent private or public key could not be used.
	ErrInvalidKey = wire.ErrInvalidKey

	// ErrInvalidSigningTime means a signing time outside
	// [2000-01-01, 9000-01-01): no verifier would accept the header.
	ErrInvalidSigningTime = wire.ErrInvalidSigningTime

	// ErrInvalidURL means a base URL cannot be used to build an endpoint.
	ErrInvalidURL = errors.New("identity: invalid URL")

	// ErrInvalidTaskIDCiphertext means an encrypted task id could not be
	// opened with the agent's key.
	ErrInvalidTaskIDCiphertext = errors.New("identity: cannot open encrypted task id")

	// ErrInvalidJWT means an Agent Identity JWT was refused.
	ErrInvalidJWT = errors.New("identity: invalid Agent Identity JWT")

	// ErrJWTExpired means an Agent Identity JWT is past its exp: Load
	// refuses a stored or $CODEX_ACCESS_TOKEN JWT that expired, and a RunAuth
	// made from one stops signing at its exp. Load a fresh token (a new
	// CODEX_ACCESS_TOKEN) and call Load again. It wraps nothing; errors
	// carrying it also wrap ErrInvalidJWT.
	ErrJWTExpired = errors.New("identity: the Agent Identity JWT has expired; load a fresh token")

	// ErrBootstrapUnavailable means agent or task registration failed with
	// retryable errors on every attempt: the backend is unavailable for now,
	// and callers may fall back to bearer auth.
	ErrBootstrapUnavailable = errors.New("identity: agent identity bootstrap unavailable")

	// ErrNoAgentIdentity means $CODEX_HOME holds no agent identity usable under
	// the chosen policy; callers fall back to bearer auth.
	ErrNoAgentIdentity = errors.New("identity: no agent identity configured")
)

// maxErrorBody is the largest part of a response body kept in an error.
const maxErrorBody = 512

// RegistrationError is returned when the AuthAPI answers an agent or task
// registration with a status other than 2xx.
type RegistrationError struct {
	// Endpoint names the call: "agent registration" or "task registration".
	Endpoint string
	// StatusCode is the HTTP status of the answer (0 for a transport error).
	StatusCode int
	// Body holds at most 512 bytes of the answer, cut on a UTF-8 boundary.
	Body string
	// Retryable reports whether the failure is 429, 5xx, a time-out or a
	// connection error, which a later attempt may not repeat.
	Retryable bool
	// Err is the underlying transport error, if any.
	Err error
}

// Error implements error.
func (e *RegistrationError) Error() string {
	name := e.Endpoint
	if name == "" {
		name = "registration"
	}
	if e.StatusCode == 0 {
		if e.Err != nil {
			return fmt.Sprintf("identity: %s failed: %v", name, e.Err)
		}
		return fmt.Sprintf("identity: %s failed", name)
	}
	if e.Body == "" {
		return fmt.Sprintf("identity: %s failed with HTTP %d", name, e.StatusCode)
	}
	return fmt.Sprintf("identity: %s failed with HTTP %d: %q", name, e.StatusCode, e.Body)
}

// Unwrap returns the underlying transport error, if any.
func (e *RegistrationError) Unwrap() error { return e.Err }

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// ErrInvalidRegistrationResponse means the AuthAPI answered a registration
// with a 2xx status but a body that is not what docs/protocol.md#task-registration-answer or
// docs/protocol.md#agent-registration describes:
// not one strict JSON object, larger than 1 MiB, or without a usable task id
// or runtime id. Such an answer is not retried.
var ErrInvalidRegistrationResponse = errors.New("identity: invalid registration response")

// ErrInvalidJWTVerifier means a [JWTVerifier] is configured in a way it
// refuses (a leeway over [MaxJWTLeeway], a JWKS URL that is not https outside
// loopback, …). Every Verify call of that verifier fails with it.
var ErrInvalidJWTVerifier = errors.New("identity: invalid JWTVerifier configuration")

// ErrJWKSNotCached means [JWTVerifier.Keyfunc] was asked for a key before
// the JWKS was fetched, or after the cached copy grew older than
// JWKSCacheTTL: call [JWTVerifier.Warm] (or Verify) first.
var ErrJWKSNotCached = errors.New("identity: the JWKS is not cached; call JWTVerifier.Warm or Verify before using Keyfunc")

// ErrLoginChanged is returned by [Load] when the ChatGPT login in auth.json
// changed or disappeared while an identity was being provisioned for it.
// Nothing is saved: an identity is never stored for a login that is gone.
var ErrLoginChanged = errors.New("identity: the ChatGPT login in auth.json changed during provisioning; nothing was saved, load again")

// ErrRoutingUnavailable is wrapped by the error [RunAuth.InferenceBaseURL]
// and inference requests through [RunAuth.Transport] return in ChatGPT
// opt-in mode when workspace routing discovery failed: the answer was a 401
// or 403, malformed, or named a workspace origin that may not receive
// credentials. Nothing is sent to inference then (the Codex CLI never
// reaches inference after a failed discovery either). Discovery is tried
// again on a later call, after a back-off (1 s doubling to 5 min).
var ErrRoutingUnavailable = errors.New("identity: workspace routing discovery failed")

// ErrSessionEnded is returned for requests made through the handle of a
// session after [RunAuth.EndSession].
var ErrSessionEnded = errors.New("identity: the session has ended")

// TaskBackoffError is returned by [RunAuth.TaskID] while a failed task
// registration is in its back-off: no request is made until RetryAt. It
// unwraps to the failure, so errors.Is(err, ErrBootstrapUnavailable) holds
// when the backend was unavailable.
type TaskBackoffError struct {
	RetryAt time.Time
	Err     error
}

// Error implements error.
func (e *TaskBackoffError) Error() string {
	return fmt.Sprintf("identity: task registration failed recently; next try after %s: %v",
		e.RetryAt.UTC().Format(time.RFC3339), e.Err)
}

// Unwrap returns the failure being backed off from.
func (e *TaskBackoffError) Unwrap() error { return e.Err }

// CachedBootstrapError is returned instead of trying again when an agent
// identity bootstrap for the same ChatGPT account and AuthAPI base failed
// with ErrBootstrapUnavailable less than an hour ago. It unwraps to the
// original error, so errors.Is(err, ErrBootstrapUnavailable) still holds.
type CachedBootstrapError struct {
	// Since is when the remembered failure happened.
	Since time.Time
	// RetryAfter is when a new attempt will be made.
	RetryAfter time.Time
	// Err is the original failure.
	Err error
}

// Error says that the failure is a cached one and when it will be retried.
func (e *CachedBootstrapError) Error() string {
	return fmt.Sprintf("identity: agent identity bootstrap failed at %s (cached, retry after %s): %v",
		e.Since.UTC().Format(time.RFC3339), e.RetryAfter.UTC().Format(time.RFC3339), e.Err)
}

// Unwrap returns the original failure.
func (e *CachedBootstrapError) Unwrap() error { return e.Err }

// JWKSError means the JWKS could not be fetched or parsed. The token being
// verified was not judged; a later attempt may succeed.
type JWKSError struct {
	// URL is the JWKS URL with any user information, query and fragment
	// redacted.
	URL string
	// StatusCode is the HTTP status when the server answered with one other
	// than 200 (a redirect is never followed); 0 otherwise.
	StatusCode int
	// Err is the cause: a transport error, limitio.ErrTooLarge wrapped for a
	// body over MaxJWKSSize, or a description of a malformed document.
	Err error
}

// Error implements error.
func (e *JWKSError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("identity: fetching JWKS from %s: HTTP %d", e.URL, e.StatusCode)
	}
	return fmt.Sprintf("identity: fetching JWKS from %s: %v", e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *JWKSError) Unwrap() error { return e.Err }

var (
	// ErrPersonalAccessToken means the token starts with "at-": it is a
	// personal access token, which is sent as a bearer token and is not an
	// Agent Identity JWT.
	ErrPersonalAccessToken = errors.New("identity: personal access token, not an Agent Identity JWT")

	// ErrChatGPTAccessToken means the token looks like a ChatGPT OAuth access
	// token (no agent_runtime_id; ChatGPT auth claims or issuer
	// https://auth.openai.com) rather than an Agent Identity JWT.
	ErrChatGPTAccessToken = errors.New("identity: ChatGPT access token, not an Agent Identity JWT")
)

// ErrKeySignFailed means the crypto.Signer behind a Signer made by
// NewSignerFromCrypto failed: it returned an error (wrapped too, so
// errors.Is also finds, say, ErrSSHAgentUnreachable), a signature that is not
// 64 bytes, or one that does not verify under its public key. No header or
// body is made from such a signature.
var ErrKeySignFailed = errors.New("identity: the agent key's signer failed")

// Conditions of an ssh-agent key, for errors.Is. Every error a SSHAgentKey
// returns wraps one of them.
var (
	// ErrSSHAgentUnreachable means the agent socket could not be reached
	// ($SSH_AUTH_SOCK unset, no such socket, connection refused) or the
	// agent went away during an exchange and could not be reached again.
	ErrSSHAgentUnreachable = errors.New("identity: cannot reach the ssh-agent")
	// ErrSSHAgentKeyNotFound means the agent does not hold the agent key.
	ErrSSHAgentKeyNotFound = errors.New("identity: the ssh-agent does not hold the agent key")
	// ErrSSHAgentRefused means the agent answered a signing request with a
	// failure (a confirmation denied, a locked agent, a hardware token
	// unplugged) or with something that is not an Ed25519 signature.
	ErrSSHAgentRefused = errors.New("identity: the ssh-agent refused to sign")
	// ErrSSHAgentTimeout means an exchange with the agent did not finish
	// within the time-out. It also wraps os.ErrDeadlineExceeded.
	ErrSSHAgentTimeout = errors.New("identity: the ssh-agent did not answer in time")
)

// ErrSealedTaskIDNeedsSeed means a sealed task id (encrypted_task_id or
// encryptedTaskId) reached a Signer made by NewSignerFromCrypto: opening it
// needs the X25519 key derived from the private key seed, which a
// crypto.Signer does not give out. Only plaintext answers (task_id, taskId)
// work with such a key; use NewSigner with the PKCS#8 key where the AuthAPI
// seals task ids. It wraps ErrInvalidTaskIDCiphertext.
var ErrSealedTaskIDNeedsSeed = fmt.Errorf("%w: sealed task ids (encrypted_task_id, encryptedTaskId) need the agent private key seed, "+
	"and a key behind a crypto.Signer gives none; only plaintext task_id or taskId answers work with it", ErrInvalidTaskIDCiphertext)

// ErrLoginExpired means the ChatGPT login in auth.json can no longer be
// refreshed: the refresh token expired, was revoked or was already used
// (the backend answered 401 or one of the codes refresh_token_expired,
// refresh_token_invalidated, refresh_token_reused), or the login holds no
// refresh token. Bearer routes and the bearer fallback fail with it until
// the user logs in again (`codex login`); the refresh is not attempted
// again for that refresh token. Errors carrying it are *RefreshError.
var ErrLoginExpired = errors.New("identity: the ChatGPT login has expired or was revoked; log in again with `codex login`")

// RefreshError is a failed ChatGPT token refresh (POST
// https://auth.openai.com/oauth/token, or $CODEX_REFRESH_TOKEN_URL_OVERRIDE).
// A Permanent one wraps ErrLoginExpired; any other is retried, with
// back-off, no sooner than RetryAt. It never holds a token.
type RefreshError struct {
	// StatusCode is the HTTP status of the answer, 0 when none came.
	StatusCode int
	// Code is the answer's error code ("refresh_token_reused"), if it had
	// a plain one.
	Code string
	// Permanent means the login must be made again (`codex login`).
	Permanent bool
	// RetryAt is when a transient failure may be retried.
	RetryAt time.Time
	// Err is the cause, if any.
	Err error
}

func (e *RefreshError) Error() string {
	var b strings.Builder
	if e.Permanent {
		b.WriteString("identity: the ChatGPT login cannot be refreshed")
	} else {
		b.WriteString("identity: refreshing the ChatGPT login failed")
	}
	switch {
	case e.StatusCode != 0 && e.Code != "":
		fmt.Fprintf(&b, " (HTTP %d, %s)", e.StatusCode, e.Code)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Permanent {
		b.WriteString("; log in again with `codex login`")
	} else if !e.RetryAt.IsZero() {
		fmt.Fprintf(&b, "; retried after %s", e.RetryAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// Unwrap returns ErrLoginExpired for a permanent failure, and the cause.
func (e *RefreshError) Unwrap() []error {
	var errs []error
	if e.Permanent {
		errs = append(errs, ErrLoginExpired)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ErrTaskRejected is wrapped by the [*TaskRejectedError] of a request the
// backend answered 401 although it was signed for the run's (or session's)
// task.
var ErrTaskRejected = errors.New("identity: the backend refused the task of an AgentAssertion-signed request")

// TaskRejectedError is returned by [RunAuth.Transport] when the backend
// answered 401 to an AgentAssertion-signed request and the task could not
// heal: the replacement task was refused too (Retried), the request body
// could not be replayed after the task was replaced (NotReplayable: send the
// request again), no replacement may be registered yet (RetryAt), or the
// retry could not be prepared (Err). (When registering the replacement
// fails, the 401 answer itself is returned instead.) It matches ErrTaskRejected with errors.Is; it never holds a
// credential.
type TaskRejectedError struct {
	// StatusCode is the backend's status (401).
	StatusCode int
	// Body is the start (at most 512 bytes) of the backend's answer.
	Body string
	// Retried reports that the request was sent again with a new task and
	// refused again.
	Retried bool
	// NotReplayable reports that the request was not sent again because its
	// body cannot be replayed (no http.Request.GetBody); a new task is in
	// place, so sending the request again can succeed.
	NotReplayable bool
	// RetryAt, when not zero, is the time before which no new task is
	// registered for this run or session.
	RetryAt time.Time
	// Err is why no replacement task could be had, if that was the reason.
	Err error
}

// Error implements error.
func (e *TaskRejectedError) Error() string {
	msg := fmt.Sprintf("identity: the backend answered %d to an AgentAssertion-signed request (the task may have ended)", e.StatusCode)
	switch {
	case e.NotReplayable:
		msg += "; a new task was registered but the request was not retried because its body cannot be replayed (set http.Request.GetBody); send it again"
	case e.Retried:
		msg += "; the request was retried once with a new task and refused again"
	}
	if !e.RetryAt.IsZero() {
		msg += "; no new task before " + e.RetryAt.UTC().Format(time.RFC3339)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrTaskRejected.
func (e *TaskRejectedError) Is(target error) bool { return target == ErrTaskRejected }

// Unwrap returns Err.
func (e *TaskRejectedError) Unwrap() error { return e.Err }
