package identity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// Workload identity federation (docs/protocol.md#workload-identity): a
// workload's OIDC token or SPIFFE JWT-SVID is exchanged for a short-lived
// ChatGPT access token, kept in memory only.
const (
	envFederationRuleID    = "OPENAI_FEDERATION_RULE_ID"
	envIdentityTokenFile   = "OPENAI_IDENTITY_TOKEN_FILE"
	envIdentityTokenSource = "OPENAI_IDENTITY_TOKEN_SOURCE"
	envWorkloadContext     = "OPENAI_WORKLOAD_IDENTITY_CONTEXT"

	jwtBearerGrant  = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
	// tokenEndpointPath is the token endpoint on the origin of the
	// environment's AuthAPI base (https://auth.openai.com/oauth/token,
	// staging https://auth.api.openai.org/oauth/token).
	tokenEndpointPath = "/oauth/token"

	// maxAssertion bounds the assertion (the token file's content).
	maxAssertion = 16 << 10
	// maxExchangeAnswer bounds the exchange's answer.
	maxExchangeAnswer = 64 << 10
	// maxExpiresIn is the longest lifetime an answer may give.
	maxExpiresIn = 3600
	// exchangeLead is how long before its expiry an exchanged token is
	// replaced (half the lifetime for tokens that live less than twice as
	// long). The Codex CLI 0.171's lead was seen to be below 27 s.
	exchangeLead = 30 * time.Second
	// exchangeBackoffMin and exchangeBackoffMax bound the wait after a
	// failed exchange (doubling per failure) while a token is still valid.
	exchangeBackoffMin = time.Second
	exchangeBackoffMax = 30 * time.Second

	msgTrustedRouting = "workload identity auth supports only trusted production and staging app routing"
)

// workloadNow is the clock of exchanged tokens, and exchangeTimeout bounds
// one exchange (tests replace both).
var (
	workloadNow     = time.Now
	exchangeTimeout = 30 * time.Second
)

// ErrWorkloadIdentity is wrapped by every error of a workload identity that
// [Load] selected (OPENAI_FEDERATION_RULE_ID or OPENAI_IDENTITY_TOKEN_FILE
// is set): a configuration it refuses (those errors also wrap
// [ErrWorkloadIdentityConfig]), an exchange that was rejected ("… was
// rejected with HTTP 401"), answered something else than
// docs/protocol.md#workload-identity describes ("… returned an invalid
// response"), or failed ("… is unavailable"), and, from requests through
// the returned RunAuth, a token that expired and could not be replaced.
// Load never falls back to another credential then.
var ErrWorkloadIdentity = errors.New("identity: workload identity")

// ErrWorkloadIdentityConfig is wrapped by the errors of a workload identity
// that is selected but configured incompletely or wrongly (a variable
// missing, empty or invalid, a token file path that is not absolute, a
// ChatGPT base URL outside production and staging) or whose assertion could
// not be had (a token file that cannot be read, is not a regular file, is
// blank or larger than 16 KiB; a SPIFFE Workload API that cannot give a
// JWT-SVID): nothing was sent. The message names what is wrong, in the
// Codex CLI's words where it has some. It also wraps ErrWorkloadIdentity.
var ErrWorkloadIdentityConfig = errors.New("identity: workload identity configuration")

// workloadError is a failure of a selected workload identity.
type workloadError struct {
	config bool   // nothing was sent: wraps ErrWorkloadIdentityConfig
	msg    string // what the Codex CLI would say, or our own words
	// status is the HTTP status of a rejected exchange (0 otherwise).
	status int
	// transient says a later exchange may succeed (429, 5xx, a
	// transport failure).
	transient bool
	err       error // the cause, if any
}

func (e *workloadError) Error() string {
	if e.err == nil {
		return "identity: " + e.msg
	}
	return "identity: " + e.msg + ": " + e.err.Error()
}

func (e *workloadError) Unwrap() []error {
	errs := []error{ErrWorkloadIdentity}
	if e.config {
		errs = append(errs, ErrWorkloadIdentityConfig)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

func workloadConfigError(cause error, format string, args ...any) error {
	return &workloadError{config: true, msg: fmt.Sprintf(format, args...), err: cause}
}

// assertionSource gives the assertion of one exchange: the token file's
// content, or a JWT-SVID from the SPIFFE Workload API. Its errors wrap
// ErrWorkloadIdentityConfig.
type assertionSource interface {
	assertion(ctx context.Context) (string, error)
}

// workloadConfig is a selected workload identity's configuration.
type workloadConfig struct {
	ruleID  string
	context string // OPENAI_WORKLOAD_IDENTITY_CONTEXT, raw ("": none)
	source  assertionSource
}

// workloadFromEnv reads the workload identity variables. selected is
// false when neither OPENAI_FEDERATION_RULE_ID nor
// OPENAI_IDENTITY_TOKEN_FILE is set (set to "" counts as set, as for the
// Codex CLI); a selected but incomplete or invalid configuration is an
// error (docs/protocol.md#workload-identity), checked in the Codex CLI's
// order.
func workloadFromEnv(lookup func(string) (string, bool)) (cfg *workloadConfig, selected bool, err error) {
	rule, hasRule := lookup(envFederationRuleID)
	file, hasFile := lookup(envIdentityTokenFile)
	if !hasRule && !hasFile {
		return nil, false, nil
	}
	source := "file"
	if v, ok := lookup(envIdentityTokenSource); ok && strings.TrimSpace(v) != "" {
		source = strings.TrimSpace(v)
	}
	if source != "file" && source != "spiffe" {
		return nil, true, workloadConfigError(nil, "%s must be file or spiffe", envIdentityTokenSource)
	}
	cfg = &workloadConfig{}
	if v, ok := lookup(envWorkloadContext); ok {
		cfg.context = v
	}
	if source == "spiffe" {
		if hasFile {
			return nil, true, workloadConfigError(nil, "%s cannot be used with %s=spiffe", envIdentityTokenFile, envIdentityTokenSource)
		}
		if !hasRule {
			return nil, true, workloadConfigError(nil, "workload identity requires %s", envFederationRuleID)
		}
		if cfg.source, err = spiffeFromEnv(lookup); err != nil {
			return nil, true, err
		}
	} else {
		switch {
		case !hasFile:
			return nil, true, workloadConfigError(nil, "workload identity requires %s", envIdentityTokenFile)
		case !hasRule:
			return nil, true, workloadConfigError(nil, "workload identity requires %s", envFederationRuleID)
		}
	}
	if cfg.ruleID = strings.TrimSpace(rule); cfg.ruleID == "" {
		return nil, true, workloadConfigError(nil, "workload identity variable %s is invalid", envFederationRuleID)
	}
	if source == "file" {
		if !filepath.IsAbs(file) {
			return nil, true, workloadConfigError(nil, "%s must be an absolute path", envIdentityTokenFile)
		}
		cfg.source = fileAssertion{path: file}
	}
	return cfg, true, nil
}

// fileAssertion reads the assertion from a token file, again for every
// exchange (a projected token is rewritten while the workload runs).
type fileAssertion struct{ path string }

// assertion reads the file: it must be a regular file (a FIFO, device or
// directory is refused without blocking on it; a symbolic link is
// followed, as projected service account tokens are links), of at most
// 16 KiB, whose content trimmed of white space is not empty and is UTF-8.
func (a fileAssertion) assertion(context.Context) (string, error) {
	data, err := readRegularFile(a.path, maxAssertion)
	switch {
	case errors.Is(err, limitio.ErrTooLarge):
		return "", workloadConfigError(nil, "the workload identity assertion exceeds 16 KiB")
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return "", workloadConfigError(err, "could not read workload identity assertion file %s", a.path)
	}
	return checkAssertion(string(data))
}

// checkAssertion trims an assertion and refuses one that is blank, not
// UTF-8 or holds a NUL, or is longer than 16 KiB.
func checkAssertion(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > maxAssertion:
		return "", workloadConfigError(nil, "the workload identity assertion exceeds 16 KiB")
	case s == "" || !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", workloadConfigError(nil, "the workload identity assertion is invalid")
	}
	return s, nil
}

// formEncode is the WHATWG application/x-www-form-urlencoded byte
// serialiser (URL Standard, "urlencoded serializing"), as the Codex CLI's
// form encoder writes it: ASCII letters, digits and *-._ as they are, space
// as +, every other byte %XX in upper-case hex. Hand-written because the
// standard library has no such encoder: url.QueryEscape keeps ~ and
// escapes *, and url.Values.Encode also sorts the members.
func formEncode(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// exchangeBody is the form of one exchange, its members in the Codex CLI's
// order: grant_type, assertion, federation_rule_id and, when there is one,
// workload_identity_context.
func exchangeBody(assertion, ruleID, wctx string) string {
	var b strings.Builder
	b.Grow(96 + 3*(len(assertion)+len(ruleID)+len(wctx)))
	b.WriteString("grant_type=")
	formEncode(&b, jwtBearerGrant)
	b.WriteString("&assertion=")
	formEncode(&b, assertion)
	b.WriteString("&federation_rule_id=")
	formEncode(&b, ruleID)
	if wctx != "" {
		b.WriteString("&workload_identity_context=")
		formEncode(&b, wctx)
	}
	return b.String()
}

// exchanged is the valid answer of one exchange.
type exchanged struct {
	token string
	// account is the answer's: chatgpt_account_id, user_id,
	// chatgpt_plan_type and the access token's chatgpt_account_is_fedramp.
	account   codexhome.Account
	expires   time.Time // sent + expires_in, and no later than the JWT's exp
	refreshAt time.Time // when a new exchange is made
}

// tokenEndpoint returns where the exchange goes: the token endpoint of the
// production or staging environment base belongs to, or unsafe (a test's,
// LoadOptions.UnsafeTokenExchangeURL), which lets any environment through.
func tokenEndpoint(base, unsafe string) (string, error) {
	if unsafe != "" {
		u, err := netrule.CheckURL(unsafe, netrule.URLRule{HTTPOnLoopback: true, Endpoint: true})
		if err != nil {
			return "", workloadConfigError(invalidURL("%w", err), "LoadOptions.UnsafeTokenExchangeURL %s is unusable", netrule.Redact(unsafe))
		}
		return u.String(), nil
	}
	env, err := agentidentity.Resolve(base)
	if err != nil {
		return "", workloadConfigError(err, msgTrustedRouting)
	}
	origin, err := netrule.CheckOrigin(env.AuthAPIBaseURL)
	if err != nil {
		return "", workloadConfigError(err, msgTrustedRouting)
	}
	return origin + tokenEndpointPath, nil
}

// workloadTokens keeps a workload identity's exchanged token fresh: one
// exchange at a time however many callers (single flight), a new one
// before the token lapses, the last good token kept through a failed
// exchange while it is valid, and a back-off between failures. Safe for
// concurrent use.
type workloadTokens struct {
	cfg      *workloadConfig
	endpoint string
	client   *http.Client
	logger   *slog.Logger

	flight singleflight.Group

	mu       sync.Mutex
	cur      *exchanged // nil before the first exchange
	failures int
	retryAt  time.Time
	lastErr  error
	// gen counts recorded outcomes: a caller that saw generation g and
	// finds a later one when its exchange would start takes that outcome
	// instead (it finished just before the caller asked).
	gen uint64
}

// token returns the current token, exchanging first when it is due.
func (w *workloadTokens) token(ctx context.Context) (string, error) {
	now := workloadNow()
	w.mu.Lock()
	cur, lastErr, retryAt, gen := w.cur, w.lastErr, w.retryAt, w.gen
	w.mu.Unlock()
	switch {
	case cur != nil && now.Before(cur.refreshAt):
		return cur.token, nil
	case lastErr != nil && now.Before(retryAt):
		if cur != nil && now.Before(cur.expires) {
			return cur.token, nil
		}
		return "", lastErr
	}
	got, err := w.exchange(ctx, gen)
	if err == nil {
		return got.token, nil
	}
	if cur != nil && workloadNow().Before(cur.expires) {
		w.logger.Warn("agent identity: the workload identity token exchange failed; using the current token until it expires",
			slog.Time("expires", cur.expires), slog.String("error", err.Error()))
		return cur.token, nil
	}
	return "", err
}

// recover replaces a token a route refused with 401: a new exchange,
// unless the current token is already another one (or an exchange failed
// lately: then rejected comes back and the 401 stands).
func (w *workloadTokens) recover(ctx context.Context, rejected string) (string, error) {
	w.mu.Lock()
	cur, lastErr, retryAt, gen := w.cur, w.lastErr, w.retryAt, w.gen
	w.mu.Unlock()
	if cur != nil && cur.token != rejected {
		return cur.token, nil
	}
	if lastErr != nil && workloadNow().Before(retryAt) {
		return "", lastErr
	}
	got, err := w.exchange(ctx, gen)
	if err != nil {
		return "", err
	}
	return got.token, nil
}

// exchange runs one exchange for every caller that asks while it runs; a
// caller whose ctx ends stops waiting, the exchange goes on for the others
// (bounded by exchangeTimeout). seen is the generation the caller decided
// on: if an exchange finished since, its outcome is the answer.
func (w *workloadTokens) exchange(ctx context.Context, seen uint64) (*exchanged, error) {
	ch := w.flight.DoChan("exchange", func() (any, error) {
		w.mu.Lock()
		gen, cur, lastErr := w.gen, w.cur, w.lastErr
		w.mu.Unlock()
		switch {
		case gen != seen && lastErr != nil:
			return nil, lastErr
		case gen != seen:
			return cur, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exchangeTimeout)
		defer cancel()
		got, err := w.exchangeOnce(fctx)
		w.record(got, err)
		return got, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*exchanged), nil
	case <-ctx.Done():
		return nil, &workloadError{msg: "the workload identity token exchange is unavailable", transient: true, err: ctx.Err()}
	}
}

// record keeps the outcome of an exchange.
func (w *workloadTokens) record(got *exchanged, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	if err == nil {
		w.cur, w.failures, w.lastErr = got, 0, nil
		return
	}
	w.failures++
	w.lastErr = err
	w.retryAt = workloadNow().Add(doublingBackoff(w.failures, exchangeBackoffMin, exchangeBackoffMax))
}

// exchangeOnce reads the assertion and makes one exchange, as the Codex CLI
// sends it: POST, the form of exchangeBody, Content-Type
// application/x-www-form-urlencoded, Accept */*, no Authorization, no
// client id, no User-Agent; no redirect followed, no retry.
func (w *workloadTokens) exchangeOnce(ctx context.Context) (*exchanged, error) {
	assertion, err := w.cfg.source.assertion(ctx)
	if err != nil {
		return nil, err
	}
	body := exchangeBody(assertion, w.cfg.ruleID, w.cfg.context)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, strings.NewReader(body))
	if err != nil {
		return nil, &workloadError{msg: "the workload identity token exchange is unavailable", err: err}
	}
	req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	req.Header["Accept"] = []string{"*/*"}
	req.Header["User-Agent"] = []string{""} // none, as the Codex CLI sends none
	sent := workloadNow()
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return nil, &workloadError{msg: "the workload identity token exchange is unavailable", transient: true,
			err: scrubError(err, []string{assertion})}
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is not read into the error: it could echo the assertion.
		return nil, &workloadError{msg: fmt.Sprintf("the workload identity token exchange was rejected with HTTP %d", resp.StatusCode),
			status: resp.StatusCode, transient: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500}
	}
	data, err := limitio.ReadAll(resp.Body, maxExchangeAnswer)
	if err != nil {
		return nil, &workloadError{msg: "the workload identity token exchange returned an invalid response", err: scrubError(err, []string{assertion})}
	}
	got, err := parseExchangeAnswer(data, sent)
	if err != nil {
		return nil, &workloadError{msg: "the workload identity token exchange returned an invalid response", err: err}
	}
	w.mu.Lock()
	first := w.cur
	w.mu.Unlock()
	if first != nil && (first.account.AccountID != got.account.AccountID || first.account.UserID != got.account.UserID || first.account.FedRAMP != got.account.FedRAMP) {
		return nil, &workloadError{msg: "the workload identity token exchange returned an invalid response",
			err: errors.New("the account or user is not the run's")}
	}
	return got, nil
}

// fromWorkloadIdentity makes the first exchange of a selected workload
// identity and returns a run that sends its tokens as Bearer
// (docs/protocol.md#bearer-sources).
func (l *loader) fromWorkloadIdentity(ctx context.Context, cfg *workloadConfig, endpoint string) (*RunAuth, error) {
	w := &workloadTokens{cfg: cfg, endpoint: endpoint, client: noRedirects(l.opts.HTTPClient, 0), logger: l.logger}
	got, err := w.exchange(ctx, 0)
	if err != nil {
		return nil, err
	}
	return l.bearerRun(sourceWorkloadIdentity, secretSource(w.token), w.recover, got.account)
}
