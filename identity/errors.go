package identity

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity"
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

	// ErrInvalidTaskID means a task id is empty, longer than 4096 bytes, not
	// UTF-8 or holds a control character (C0, DEL or C1).
	ErrInvalidTaskID = ids.ErrInvalidTaskID

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

// Refusals a caller cannot act on beyond reading the message: a bad key, a
// signing time no verifier accepts, a sealed task id that does not open.
var (
	// errInvalidKey means an agent private or public key could not be used.
	errInvalidKey = wire.ErrInvalidKey

	// errInvalidSigningTime means a signing time outside
	// [2000-01-01, 9000-01-01): no verifier would accept the header.
	errInvalidSigningTime = wire.ErrInvalidSigningTime

	// errInvalidTaskIDCiphertext means an encrypted task id could not be
	// opened with the agent's key.
	errInvalidTaskIDCiphertext = errors.New("identity: cannot open encrypted task id")
)

// urlError is a URL this package refuses to send to or to build from. It
// wraps agentidentity.ErrInvalidBaseURL, the module's one sentinel for URLs,
// and the cause, if any.
type urlError struct{ err error }

func (e *urlError) Error() string { return "identity: invalid URL: " + e.err.Error() }

func (e *urlError) Unwrap() []error { return []error{agentidentity.ErrInvalidBaseURL, e.err} }

// invalidURL returns a *urlError saying why (format and args as for
// fmt.Errorf; %w keeps a cause).
func invalidURL(format string, args ...any) error {
	return &urlError{err: fmt.Errorf(format, args...)}
}

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

// errInvalidRegistrationResponse means the AuthAPI answered a registration
// with a 2xx status but a body that is not what docs/protocol.md#task-registration-answer or
// docs/protocol.md#agent-registration describes:
// not one strict JSON object, larger than 1 MiB, or without a usable task id
// or runtime id. Such an answer is not retried.
var errInvalidRegistrationResponse = errors.New("identity: invalid registration response")

// ErrInvalidJWTVerifier means a [JWTVerifier] is configured in a way it
// refuses (a leeway over 60 s, a JWKS URL that is not https outside
// loopback, …). Every Verify call of that verifier fails with it: it is the
// verifier's fault, not the token's.
var ErrInvalidJWTVerifier = errors.New("identity: invalid JWTVerifier configuration")

// ErrJWKSUnavailable means the keys a token is checked with are not at hand:
// the JWKS could not be fetched or parsed ([JWTVerifier.Verify],
// [JWTVerifier.Warm]), or [JWTVerifier.Keyfunc] was asked for a key before
// the JWKS was fetched or after the cached copy grew older than
// JWKSCacheTTL (call Warm or Verify first). The token was not judged: it may
// be good, and a later call may succeed.
var ErrJWKSUnavailable = errors.New("identity: the JWKS is not available")

// errLoginChanged is returned by [Load] when the ChatGPT login in auth.json
// changed or disappeared while an identity was being provisioned for it.
// Nothing is saved: an identity is never stored for a login that is gone.
var errLoginChanged = errors.New("identity: the ChatGPT login in auth.json changed during provisioning; nothing was saved, load again")

// errRoutingUnavailable is wrapped by the error [RunAuth.InferenceBaseURL]
// and inference requests through [RunAuth.Transport] return in ChatGPT
// opt-in mode when workspace routing discovery failed: the answer was a 401
// or 403, malformed, or named a workspace origin that may not receive
// credentials. Nothing is sent to inference then (the Codex CLI never
// reaches inference after a failed discovery either). Discovery is tried
// again on a later call, after a back-off (1 s doubling to 5 min).
var errRoutingUnavailable = errors.New("identity: workspace routing discovery failed")

// errSessionEnded is returned for requests made through the handle of a
// session after [RunAuth.EndSession].
var errSessionEnded = errors.New("identity: the session has ended")

// BackoffError is returned instead of trying again while a recent failure
// is remembered: by [RunAuth.TaskID] (and requests that need a task) for
// a task registration that failed less than its back-off ago (1 s, doubling
// up to 5 min), and by [Load] for an agent identity bootstrap of the same
// ChatGPT account and AuthAPI base that failed with ErrBootstrapUnavailable
// less than an hour ago. No request is made before RetryAt. It unwraps to
// the failure, so errors.Is(err, ErrBootstrapUnavailable) holds when the
// backend was unavailable.
type BackoffError struct {
	// What names what failed: "task registration" or "agent identity
	// bootstrap".
	What string
	// Since is when the remembered failure happened.
	Since time.Time
	// RetryAt is when a new attempt will be made.
	RetryAt time.Time
	// Err is the remembered failure.
	Err error
}

// Error says what failed, when, and when it is tried again.
func (e *BackoffError) Error() string {
	return fmt.Sprintf("identity: %s failed at %s (cached, retry after %s): %v",
		e.What, e.Since.UTC().Format(time.RFC3339), e.RetryAt.UTC().Format(time.RFC3339), e.Err)
}

// Unwrap returns the remembered failure.
func (e *BackoffError) Unwrap() error { return e.Err }

// jwksError means the JWKS could not be fetched or parsed. The token being
// verified was not judged; a later attempt may succeed. It wraps
// ErrJWKSUnavailable and the cause.
type jwksError struct {
	// URL is the JWKS URL with any user information, query and fragment
	// redacted.
	URL string
	// StatusCode is the HTTP status when the server answered with one other
	// than 200 (a redirect is never followed); 0 otherwise.
	StatusCode int
	// Err is the cause: a transport error, limitio.ErrTooLarge wrapped for a
	// body over maxJWKSSize, or a description of a malformed document.
	Err error
}

func (e *jwksError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("identity: fetching JWKS from %s: HTTP %d", e.URL, e.StatusCode)
	}
	return fmt.Sprintf("identity: fetching JWKS from %s: %v", e.URL, e.Err)
}

func (e *jwksError) Unwrap() []error { return []error{ErrJWKSUnavailable, e.Err} }

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
// body is made from such a signature. An [SSHAgentKey] whose agent refuses a
// request (a signature: a confirmation denied, a locked agent, a hardware
// token unplugged, an answer that is not an Ed25519 signature; or the list
// of its keys) fails with it too.
var ErrKeySignFailed = errors.New("identity: the agent key's signer failed")

// Conditions of an ssh-agent key, for errors.Is. Every error an
// [SSHAgentKey] returns wraps one of them, or ErrKeySignFailed when the
// agent refused to sign.
var (
	// ErrSSHAgentUnreachable means the agent socket could not be reached
	// ($SSH_AUTH_SOCK unset, no such socket, connection refused), the agent
	// went away during an exchange and could not be reached again, or it did
	// not answer within the time-out (that error also wraps
	// os.ErrDeadlineExceeded). A later attempt may succeed.
	ErrSSHAgentUnreachable = errors.New("identity: cannot reach the ssh-agent")
	// ErrSSHAgentKeyNotFound means the agent does not hold the agent key:
	// add it with ssh-add.
	ErrSSHAgentKeyNotFound = errors.New("identity: the ssh-agent does not hold the agent key")
)

// ErrSealedTaskIDNeedsSeed means a sealed task id (encrypted_task_id or
// encryptedTaskId) reached a Signer made by NewSignerFromCrypto: opening it
// needs the X25519 key derived from the private key seed, which a
// crypto.Signer does not give out. Only plaintext answers (task_id, taskId)
// work with such a key; use NewSigner with the PKCS#8 key where the AuthAPI
// seals task ids.
var ErrSealedTaskIDNeedsSeed = fmt.Errorf("%w: sealed task ids (encrypted_task_id, encryptedTaskId) need the agent private key seed, "+
	"and a key behind a crypto.Signer gives none; only plaintext task_id or taskId answers work with it", errInvalidTaskIDCiphertext)

// ErrLoginExpired means the ChatGPT login in auth.json can no longer be
// refreshed: the refresh token expired, was revoked or was already used
// (the backend answered 401 or one of the codes refresh_token_expired,
// refresh_token_invalidated, refresh_token_reused), or the login holds no
// refresh token. Bearer routes and the bearer fallback fail with it until
// the user logs in again (`codex login`); the refresh is not attempted
// again for that refresh token.
var ErrLoginExpired = errors.New("identity: the ChatGPT login has expired or was revoked; log in again with `codex login`")

// refreshError is a failed ChatGPT token refresh (POST
// https://auth.openai.com/oauth/token, or $CODEX_REFRESH_TOKEN_URL_OVERRIDE).
// A Permanent one wraps ErrLoginExpired; any other is retried, with
// back-off, no sooner than RetryAt. It never holds a token.
type refreshError struct {
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

func (e *refreshError) Error() string {
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
func (e *refreshError) Unwrap() []error {
	var errs []error
	if e.Permanent {
		errs = append(errs, ErrLoginExpired)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// TaskRejectedError is returned by [RunAuth.Transport] when the backend
// answered 401 to an AgentAssertion-signed request and the task could not
// heal: the replacement task was refused too (Retried), the request body
// could not be replayed after the task was replaced (NotReplayable: send the
// request again), no replacement may be registered yet (RetryAt), or the
// retry could not be prepared (Err). (When registering the replacement
// fails, the 401 answer itself is returned instead.) Find it with errors.As;
// it never holds a credential.
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

// Unwrap returns Err.
func (e *TaskRejectedError) Unwrap() error { return e.Err }
