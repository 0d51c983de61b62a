package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// Time-outs of one registration attempt (docs/protocol.md#task-registration-request,
// docs/protocol.md#agent-registration).
const (
	// taskRegistrationTimeout bounds one task registration attempt.
	taskRegistrationTimeout = 30 * time.Second
	// agentRegistrationTimeout bounds one agent registration attempt.
	agentRegistrationTimeout = 15 * time.Second
)

// maxRegistrationAttempts is the most attempts a Client makes for one
// registration, whatever its MaxAttempts says.
const maxRegistrationAttempts = 3

// maxRegistrationResponse is the largest 2xx registration body read.
const maxRegistrationResponse = 1 << 20

// Names of the two registration calls, as they appear in RegistrationError.
const (
	endpointTask  = "task registration"
	endpointAgent = "agent registration"
)

// Client registers agents and tasks with the AuthAPI (docs/protocol.md#authapi-endpoints).
//
// The zero value is not usable: set Environment (a resolved
// agentidentity.Environment) or AuthAPIBaseURL. Set the fields before the
// first call and do not change them afterwards. A Client is safe for
// concurrent use.
//
// Every call is bounded: a per-attempt time-out (30 s for a task, 15 s for an
// agent), at most 3 attempts, back-off capped at
// 10 s, and bodies read through a size limit. Redirects are never followed,
// whatever the CheckRedirect of HTTPClient: a 3xx answer is an error.
// No error and no log line holds the access token, a key or a signature.
type Client struct {
	// AuthAPIBaseURL is the AuthAPI base, e.g.
	// "https://auth.openai.com/api/accounts". The endpoints are
	// {AuthAPIBaseURL}/v1/agent/register and
	// {AuthAPIBaseURL}/v1/agent/{agent_runtime_id}/task/register; the base
	// must be http(s) with a plain path and no user info, query or fragment.
	AuthAPIBaseURL string

	// Environment is the environment the agent belongs to, as
	// agentidentity.Resolve or ResolveFromEnv returns it. When it is set,
	// AuthAPIBaseURL may be left empty (it is then Environment's), and a
	// RunAuth built on this Client gives credentials to Environment's
	// ChatGPT backend origin. When it is the zero value, the first-party
	// origin is that of the table environment whose AuthAPI base
	// AuthAPIBaseURL is, else the origin of AuthAPIBaseURL itself (a custom
	// deployment or a test server, which already receives the agent's
	// signatures).
	Environment agentidentity.Environment

	// HTTPClient sends the requests. Nil means a client with a 60 s overall
	// time-out and dial, TLS and response-header time-outs (never
	// http.DefaultClient as is). A shallow copy is used whose CheckRedirect
	// refuses every redirect; the caller's client is not modified.
	HTTPClient *http.Client

	// MaxAttempts is the number of attempts for one registration when
	// failures are retryable (429, 5xx, time-outs, connection errors).
	// Zero or negative means 3, the most there are; larger values are
	// capped at 3. 1 disables retries.
	MaxAttempts int

	// Logger receives one debug line per failed attempt and per retry
	// (endpoint, attempt, status, delay); nil means no logs. Lines never
	// hold tokens, keys or signatures.
	Logger *slog.Logger

	// UserAgent, if set, is sent as the User-Agent header.
	UserAgent string

	// Test hooks (see export_test.go); nil means the real thing.
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
	jitter         func(n int64) int64
	attemptTimeout time.Duration
}

// AgentRegistration is what RegisterAgent sends (docs/protocol.md#agent-registration): the agent bill of
// materials and the agent's public key.
type AgentRegistration struct {
	// AgentVersion is abom.agent_version, e.g. the client's version.
	AgentVersion string
	// AgentHarnessID is abom.agent_harness_id, e.g. "codex-cli".
	AgentHarnessID string
	// RunningLocation is abom.running_location.
	RunningLocation string
	// PublicKeySSH is the agent's public key as an OpenSSH line with no
	// comment ("ssh-ed25519 AAAA…"), as returned by Signer.PublicKeySSH or
	// KeyMaterial.PublicKeySSH. It is checked as gateway.ParsePublicKeySSH checks it.
	PublicKeySSH string
	// FedRAMP adds the header "X-OpenAI-Fedramp: true", for FedRAMP
	// accounts only.
	FedRAMP bool
}

// RegisterTask registers one backend-owned task for the agent of s and
// returns its task id (docs/protocol.md#task-registration): POST {AuthAPIBaseURL}/v1/agent/{id}/task/register
// with a freshly signed {"timestamp","signature"} body and no Authorization
// header.
//
// The answer may spell the id task_id, taskId (plaintext; these win),
// encrypted_task_id or encryptedTaskId (sealed to the agent key and opened
// with s.OpenTaskID); a null member counts as absent. The returned id has
// passed ValidateTaskID.
//
// Errors: a non-2xx answer is a *RegistrationError (errors.As); once
// retryable failures have used every attempt the error also wraps
// ErrBootstrapUnavailable; a bad 2xx body is refused as an invalid
// registration response, not retried; the end of ctx stops at once with an
// error wrapping ctx.Err().
func (c *Client) RegisterTask(ctx context.Context, s *Signer) (string, error) {
	if s == nil {
		return "", errors.New("identity: RegisterTask needs a Signer, got nil")
	}
	endpoint, err := taskRegistrationURL(c.authAPIBase(), s.AgentRuntimeID())
	if err != nil {
		return "", err
	}
	var id string
	err = c.do(ctx, call{
		name:    endpointTask,
		url:     endpoint,
		timeout: taskRegistrationTimeout,
		body: func(now time.Time) ([]byte, []string, error) {
			b, err := s.taskRegistrationBody(now)
			if err != nil {
				return nil, nil, err
			}
			return b, []string{taskRegistrationSignature(b)}, nil
		},
		handle: func(body []byte) error {
			id, err = taskIDFromResponse(s, body)
			return err
		},
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// RegisterAgent registers a new agent for the ChatGPT login of accessToken
// and returns its agent runtime id (docs/protocol.md#agent-registration): POST
// {AuthAPIBaseURL}/v1/agent/register with "Authorization: Bearer
// <accessToken>" and the body
// {"abom":{…},"agent_public_key":…,"capabilities":["responsesapi"],"ttl":null}.
//
// Refused before any request: an empty access token or one with characters
// not allowed in a header, a PublicKeySSH that gateway.ParsePublicKeySSH
// refuses or that has a comment, and abom strings that are not UTF-8 or
// longer than 1 KiB. The returned id has passed ValidateRuntimeID (otherwise
// the error wraps ErrInvalidRuntimeID). Other errors are as for
// RegisterTask. No error quotes the access token.
func (c *Client) RegisterAgent(ctx context.Context, accessToken codexhome.Secret, r AgentRegistration) (string, error) {
	tok := accessToken.Reveal()
	if err := checkAccessToken(tok); err != nil {
		return "", err
	}
	body, err := agentRegistrationBody(r)
	if err != nil {
		return "", err
	}
	endpoint, err := agentRegistrationURL(c.authAPIBase())
	if err != nil {
		return "", err
	}
	var id string
	err = c.do(ctx, call{
		name:    endpointAgent,
		url:     endpoint,
		timeout: agentRegistrationTimeout,
		secrets: []string{tok},
		headers: func(h http.Header) {
			h.Set("Authorization", "Bearer "+tok)
			if r.FedRAMP {
				h.Set("X-OpenAI-Fedramp", "true")
			}
		},
		body: func(time.Time) ([]byte, []string, error) { return body, nil, nil },
		handle: func(b []byte) error {
			id, err = parseAgentRegistrationResponse(b)
			return err
		},
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// call describes one registration for Client.do.
type call struct {
	name    string
	url     string
	timeout time.Duration
	// secrets are strings cut out of any error body (the access token).
	secrets []string
	headers func(http.Header)
	// body makes the request body of one attempt, and the secrets it holds.
	body   func(now time.Time) ([]byte, []string, error)
	handle func(body []byte) error
}

// do runs c's attempts with back-off.
func (c *Client) do(ctx context.Context, k call) error {
	if ctx == nil {
		return errors.New("identity: nil context")
	}
	hc := c.httpClient()
	attempts := c.MaxAttempts
	if attempts <= 0 || attempts > maxRegistrationAttempts {
		attempts = maxRegistrationAttempts
	}
	var last *RegistrationError
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return canceled(k.name, err, last)
		}
		regErr, retryAfter, err := c.attempt(ctx, hc, k)
		if err == nil && regErr == nil {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return canceled(k.name, ctx.Err(), last)
			}
			return err
		}
		if ctx.Err() != nil {
			// The caller's context ended during the attempt: whatever the
			// transport said, the caller asked to stop.
			return canceled(k.name, ctx.Err(), regErr)
		}
		last = regErr
		c.log(ctx, "identity: registration attempt failed",
			slog.String("endpoint", k.name), slog.Int("attempt", attempt),
			slog.Int("status", regErr.StatusCode), slog.Bool("retryable", regErr.Retryable))
		if !regErr.Retryable {
			if regErr.StatusCode >= 300 && regErr.StatusCode < 400 {
				return fmt.Errorf("%w (redirects are not followed)", regErr)
			}
			return regErr
		}
		if attempt >= attempts {
			return fmt.Errorf("%w: %s gave up after %d attempts: %w", ErrBootstrapUnavailable, k.name, attempt, regErr)
		}
		d := c.backoff(attempt, retryAfter)
		c.log(ctx, "identity: retrying registration",
			slog.String("endpoint", k.name), slog.Int("attempt", attempt+1), slog.Duration("delay", d))
		if err := c.sleepCtx(ctx, d); err != nil {
			return canceled(k.name, err, last)
		}
	}
}

// canceled is the error when ctx ends.
func canceled(name string, ctxErr error, last *RegistrationError) error {
	if last != nil {
		return fmt.Errorf("identity: %s stopped: %w (last failure: %w)", name, ctxErr, last)
	}
	return fmt.Errorf("identity: %s stopped: %w", name, ctxErr)
}

// attempt sends one request. It returns a *RegistrationError for a failed
// HTTP exchange (with the Retry-After header, if any), or another error for
// a failure no retry can fix.
func (c *Client) attempt(ctx context.Context, hc *http.Client, k call) (*RegistrationError, string, error) {
	timeout := k.timeout
	if c.attemptTimeout > 0 {
		timeout = c.attemptTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, bodySecrets, err := k.body(c.clock())
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, k.url, bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("identity: %s: cannot build the request", k.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if k.headers != nil {
		k.headers(req.Header)
	}
	secrets := append(append([]string(nil), k.secrets...), bodySecrets...)

	resp, err := hc.Do(req)
	if err != nil {
		return &RegistrationError{
			Endpoint:  k.name,
			Retryable: retryableTransportError(err),
			Err:       scrubError(err, secrets),
		}, "", nil
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &RegistrationError{
			Endpoint:   k.name,
			StatusCode: resp.StatusCode,
			Body:       errorBody(resp.Body, secrets),
			Retryable:  retryableStatus(resp.StatusCode),
		}, resp.Header.Get("Retry-After"), nil
	}
	data, err := limitio.ReadAll(resp.Body, maxRegistrationResponse)
	if err != nil {
		if errors.Is(err, limitio.ErrTooLarge) {
			return nil, "", fmt.Errorf("%w: %s: the body is larger than %d bytes", errInvalidRegistrationResponse, k.name, maxRegistrationResponse)
		}
		// The body broke off: a connection error, retryable.
		return &RegistrationError{
			Endpoint:   k.name,
			StatusCode: 0,
			Retryable:  true,
			Err:        fmt.Errorf("reading the HTTP %d answer: %w", resp.StatusCode, scrubError(err, secrets)),
		}, "", nil
	}
	if err := k.handle(data); err != nil {
		return nil, "", fmt.Errorf("identity: %s: %w", k.name, err)
	}
	return nil, "", nil
}

// errorBody reads at most maxErrorBody bytes of an error answer, with every
// secret cut out, on a UTF-8 boundary.
func errorBody(r io.Reader, secrets []string) string {
	n := int64(maxErrorBody)
	for _, s := range secrets {
		// Read enough that a secret starting inside the kept part is whole.
		n += int64(len(s))
	}
	b, _ := io.ReadAll(io.LimitReader(r, n))
	out := redact(string(b), secrets)
	if int64(len(b)) == n {
		// The read stopped inside the answer: a secret echoed at its end may
		// be cut, and redaction shortened what came before, so the start of
		// that secret could slide into the kept part. Drop it.
		out = trimSecretPrefix(out, secrets)
	}
	return truncateUTF8(out, maxErrorBody)
}

// trimSecretPrefix removes from the end of s the longest run that is the
// start of one of the secrets.
func trimSecretPrefix(s string, secrets []string) string {
	for _, sec := range secrets {
		for k := min(len(sec)-1, len(s)); k > 0; k-- {
			if strings.HasSuffix(s, sec[:k]) {
				s = s[:len(s)-k]
				break
			}
		}
	}
	return s
}

// redact replaces every non-empty secret in s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

// redactedError keeps the error chain of err for errors.Is/As but prints a
// text with every secret cut out.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrubError returns err, or a wrapper with a redacted text if err's text
// holds a secret.
func scrubError(err error, secrets []string) error {
	msg := err.Error()
	if clean := redact(msg, secrets); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// retryableStatus reports whether an HTTP status may succeed later.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code <= 599)
}

// retryableTransportError reports whether a transport error may succeed
// later: time-outs and connection errors are; certificate and TLS
// configuration errors and malformed requests are not.
func retryableTransportError(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth),
		errors.As(err, &hostErr), errors.As(err, &invalidCert),
		errors.As(err, &recordErr):
		return false
	}
	// Time-outs, connection refused or reset, EOF before the answer.
	return true
}

// taskRegistrationSignature returns the signature inside a task
// registration body, so that an echo of it can be cut out of errors.
func taskRegistrationSignature(body []byte) string {
	const mid = `","signature":"`
	i := bytes.Index(body, []byte(mid))
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(string(body[i+len(mid):]), `"}`)
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Client) log(ctx context.Context, msg string, attrs ...slog.Attr) {
	if c.Logger == nil {
		return
	}
	c.Logger.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
}

// httpClient returns a copy of the configured client that never follows a
// redirect.
func (c *Client) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return defaultRegistrationClient()
	}
	return noRedirects(c.HTTPClient, 0)
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// noRedirects returns a shallow copy of c (nil: a client with the given
// overall timeout) that never follows a redirect, whatever c's
// CheckRedirect: a 3xx answer is handed back as it came.
func noRedirects(c *http.Client, timeout time.Duration) *http.Client {
	cp := &http.Client{Timeout: timeout}
	if c != nil {
		*cp = *c
	}
	cp.CheckRedirect = refuseRedirect
	return cp
}

// defaultRegistrationClient is the client used when Client.HTTPClient is nil.
var defaultRegistrationClient = sync.OnceValue(func() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     t,
		Timeout:       60 * time.Second,
		CheckRedirect: refuseRedirect,
	}
})

// authAPIBase is AuthAPIBaseURL, or else the Environment's.
func (c *Client) authAPIBase() string {
	if c.AuthAPIBaseURL != "" {
		return c.AuthAPIBaseURL
	}
	return c.Environment.AuthAPIBaseURL
}

// firstPartyOrigin is the origin a RunAuth on this Client gives credentials
// to by default; see Client.Environment. With neither an Environment nor an
// AuthAPI base it is production's, the Codex CLI's default. It is ""
// (nothing is first-party) when the configured base is not a usable origin
// (plain http to a non-loopback host, for example).
func (c *Client) firstPartyOrigin() string {
	if c.Environment.ChatGPTBaseURL != "" {
		if o, err := netrule.CheckOrigin(c.Environment.ChatGPTBaseURL); err == nil {
			return o
		}
		return ""
	}
	base := strings.TrimRight(c.authAPIBase(), "/")
	if base == "" {
		return agentidentity.ProductionOrigin // the Codex CLI's default environment
	}
	for _, env := range agentidentity.Environments() {
		if env.AuthAPIBaseURL == base {
			o, _ := netrule.CheckOrigin(env.ChatGPTBaseURL)
			return o
		}
	}
	o, _ := netrule.CheckOrigin(base)
	return o
}
