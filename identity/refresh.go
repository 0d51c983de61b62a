package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// The ChatGPT token refresh of the Codex CLI, as Codex 0.171 sends it
// (docs/protocol.md#token-refresh).
const (
	// EnvRefreshTokenURLOverride replaces the refresh endpoint, used
	// verbatim as the Codex CLI does (but, unlike it, refused unless https
	// or plain http to a loopback host).
	EnvRefreshTokenURLOverride = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
	// defaultRefreshTokenURL is the ChatGPT login's token endpoint.
	defaultRefreshTokenURL = agentidentity.ChatGPTLoginIssuer + "/oauth/token"

	refreshClientID = "app_EMoamEEZ73f0CkXaXp7hrann"
	// refreshMargin: an access token whose exp is less than this away is
	// refreshed before it is used (Codex 0.155 and later).
	refreshMargin  = 5 * time.Minute
	refreshTimeout = 30 * time.Second
	maxRefreshBody = 1 << 20
	// maxAccessTokenSize bounds the access token whose exp is decoded.
	maxAccessTokenSize = 64 << 10
	// refreshBackoffMin and refreshBackoffMax bound the wait after a
	// transient failure (doubling per failure of one refresh token).
	refreshBackoffMin = 5 * time.Second
	refreshBackoffMax = 5 * time.Minute

	reasonProactive = "proactive_expiry"
	// reasonUnauthorized is what the Codex CLI sends after a 401 from a
	// Bearer route.
	reasonUnauthorized = "unauthorized_recovery"
)

// refreshNow is the clock of token refreshes (tests replace it).
var refreshNow = time.Now

// refreshOutcome is what this process knows of one refresh token.
type refreshOutcome struct {
	tokens    *codexhome.Tokens // redeemed: the answer
	permanent error             // refused for good
	transient error             // last transient failure
	failures  int
	retryAt   time.Time
}

// refreshLedger remembers, per refresh token (by SHA-256, never the token),
// what came of sending it, so that this process never sends a redeemed or
// refused refresh token again, and waits between transient failures.
type refreshLedger struct {
	mu sync.Mutex
	m  map[[32]byte]*refreshOutcome
}

var processRefreshes = &refreshLedger{m: make(map[[32]byte]*refreshOutcome)}

func refreshKey(rt codexhome.Secret) [32]byte { return sha256.Sum256([]byte(rt.Reveal())) }

func (l *refreshLedger) get(k [32]byte) refreshOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o := l.m[k]; o != nil {
		return *o
	}
	return refreshOutcome{}
}

// record stores the result of sending the refresh token k and returns the
// error to give the caller.
func (l *refreshLedger) record(k [32]byte, tokens *codexhome.Tokens, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := l.m[k]
	if o == nil {
		o = &refreshOutcome{}
		l.m[k] = o
	}
	var re *refreshError
	switch {
	case err == nil:
		o.tokens, o.transient = tokens, nil
	case errors.As(err, &re) && re.Permanent:
		o.permanent = err
	default:
		o.failures++
		o.retryAt = refreshNow().Add(doublingBackoff(o.failures, refreshBackoffMin, refreshBackoffMax))
		if re == nil {
			re = &refreshError{Err: err}
		}
		cp := *re
		cp.RetryAt = o.retryAt
		err = &cp
		o.transient = err
	}
	return err
}

// loginRefresher keeps the ChatGPT access token of one login fresh; it is
// the token source of RunAuthOptions.ChatGPTBearer and BearerFallback that
// Load gives an identity provisioned through that login. It is safe for
// concurrent use: refreshes go through Store.Coordinate, so goroutines and
// processes of this module make them one at a time.
type loginRefresher struct {
	store  *codexhome.Store
	login  *codexhome.ChatGPTLogin // the login the identity belongs to
	url    string                  // the endpoint, as configured
	client *http.Client
	logger *slog.Logger
	ledger *refreshLedger
}

// current returns the tokens of auth.json now, if they are still the
// login's.
func (r *loginRefresher) current() (*codexhome.Tokens, error) {
	f, err := r.store.Read()
	if err != nil {
		return nil, err
	}
	cur, err := f.ChatGPTLogin()
	if err != nil {
		return nil, err
	}
	t := f.Tokens()
	if !sameLogin(cur, r.login) || t == nil || t.AccessToken.IsZero() {
		return nil, errors.New("identity: the ChatGPT login in auth.json is no longer the one this identity belongs to")
	}
	return t, nil
}

// token returns the current access token of the login, refreshing it first
// when its exp is less than refreshMargin away (a token without a readable
// exp is used as it is). When a refresh fails for a reason that may pass
// and the old token has not expired yet, the old one is used, as the Codex
// CLI does; otherwise the failure is returned (a *refreshError).
func (r *loginRefresher) token(ctx context.Context) (string, error) {
	return r.tokenWith(ctx, r.refresh)
}

// tokenLocked is token for a caller that already holds the store's
// Coordinate lock (provisioning: docs/protocol.md#refresh-before-register).
func (r *loginRefresher) tokenLocked(ctx context.Context) (string, error) {
	return r.tokenWith(ctx, r.refreshLocked)
}

func (r *loginRefresher) tokenWith(ctx context.Context, refresh func(ctx context.Context, stale, reason string) (string, error)) (string, error) {
	t, err := r.current()
	if err != nil {
		return "", err
	}
	old := t.AccessToken.Reveal()
	exp, ok := accessTokenExpiry(old)
	now := refreshNow()
	if !ok || exp.Sub(now) >= refreshMargin {
		return old, nil
	}
	tok, err := refresh(ctx, old, reasonProactive)
	if err == nil {
		return tok, nil
	}
	if !errors.Is(err, ErrLoginExpired) && now.Before(exp) {
		r.logger.Warn("agent identity: the ChatGPT access token could not be refreshed; using it until it expires",
			slog.Time("expires", exp), slog.String("error", err.Error()))
		return old, nil
	}
	return "", err
}

// refresh replaces the access token stale (the one about to expire, or
// one a Bearer route refused: reason reasonUnauthorized) and returns the
// new one. Under this module's own lock it re-reads auth.json first: when
// the access token there is no longer stale, another writer (the Codex CLI
// or another process of ours) refreshed already and that token is adopted
// without a request. Otherwise it sends the file's refresh token, once
// (never one this process already redeemed or saw refused), and commits
// the answer under auth.json.lock, unless the file's refresh token changed
// meanwhile (a concurrent Codex refresh): then the file is kept and the new
// token is used from memory.
func (r *loginRefresher) refresh(ctx context.Context, stale, reason string) (string, error) {
	var result string
	err := r.store.Coordinate(ctx, func() error {
		var err error
		result, err = r.refreshLocked(ctx, stale, reason)
		return err
	})
	if err != nil {
		return "", err
	}
	return result, nil
}

// refreshLocked is refresh for a caller that holds the store's Coordinate
// lock already.
func (r *loginRefresher) refreshLocked(ctx context.Context, stale, reason string) (string, error) {
	var result string
	err := func() error {
		t, err := r.current()
		if err != nil {
			return err
		}
		if t.AccessToken.Reveal() != stale {
			result = t.AccessToken.Reveal()
			return nil
		}
		rt := t.RefreshToken
		if rt.IsZero() {
			return &refreshError{Permanent: true, Err: errors.New("auth.json holds no refresh_token")}
		}
		key := refreshKey(rt)
		o := r.ledger.get(key)
		got := o.tokens
		switch {
		case got != nil:
			// Redeemed by this process already but not saved: save it now.
		case o.permanent != nil:
			return o.permanent
		case o.transient != nil && refreshNow().Before(o.retryAt):
			return o.transient
		default:
			got, err = r.post(ctx, rt, reason)
			if err = r.ledger.record(key, got, err); err != nil {
				return err
			}
		}
		result = stale
		if !got.AccessToken.IsZero() {
			result = got.AccessToken.Reveal()
		}
		err = r.store.Update(ctx, func(f *codexhome.AuthFile) error {
			cur := f.Tokens()
			if cur == nil || cur.RefreshToken.Reveal() != rt.Reveal() {
				return nil // a concurrent refresh by another writer: keep its file
			}
			if err := f.SetRefreshedTokens(*got, refreshNow()); err != nil {
				return err
			}
			login, err := f.ChatGPTLogin()
			if err != nil {
				return err
			}
			if !sameLogin(login, r.login) {
				return errLoginMismatch
			}
			return nil
		})
		switch {
		case errors.Is(err, errLoginMismatch):
			result = ""
			return &refreshError{Permanent: true, Err: err}
		case err != nil:
			r.logger.Warn("agent identity: the refreshed ChatGPT tokens could not be saved; using them from memory",
				slog.String("auth_file", r.store.Path()), slog.String("error", err.Error()))
		default:
			r.logger.Info("agent identity: refreshed the ChatGPT access token", slog.String("reason", reason))
		}
		return nil
	}()
	if err != nil {
		return "", err
	}
	return result, nil
}

var errLoginMismatch = errors.New("the refreshed tokens belong to another account or user")

// refreshTokenURL returns the refresh endpoint if it may receive a refresh
// token, by the module's one URL rule (netrule.CheckURL): https, or plain
// http to a loopback host, with a plain ASCII host and path and no user
// information; a query is kept.
func refreshTokenURL(raw string) (string, error) {
	u, err := netrule.CheckURL(raw, netrule.URLRule{HTTPOnLoopback: true, Endpoint: true})
	if err != nil {
		return "", invalidURL("the token refresh URL %s (%s) %w",
			netrule.Redact(raw), EnvRefreshTokenURLOverride, err)
	}
	return u.String(), nil
}

// post sends one refresh request and reads its answer.
func (r *loginRefresher) post(ctx context.Context, rt codexhome.Secret, reason string) (*codexhome.Tokens, error) {
	endpoint, err := refreshTokenURL(r.url)
	if err != nil {
		return nil, &refreshError{Err: err}
	}
	// The members in the order Codex 0.171 sends them.
	body := make([]byte, 0, 160+len(rt.Reveal()))
	body = append(body, `{"client_id":`...)
	body = append(body, strictjson.Quote(refreshClientID)...)
	body = append(body, `,"grant_type":"refresh_token","refresh_reason":`...)
	body = append(body, strictjson.Quote(reason)...)
	body = append(body, `,"refresh_token":`...)
	body = append(body, strictjson.Quote(rt.Reveal())...)
	body = append(body, '}')

	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &refreshError{Err: fmt.Errorf("build the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL: its query could be anything
		}
		return nil, &refreshError{Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := limitio.ReadAll(resp.Body, maxRefreshBody)
	if err != nil {
		return nil, &refreshError{StatusCode: resp.StatusCode, Err: fmt.Errorf("read the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		code := refreshErrorCode(data)
		permanent := resp.StatusCode == http.StatusUnauthorized
		switch code {
		case "refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated":
			permanent = true
		}
		return nil, &refreshError{StatusCode: resp.StatusCode, Code: code, Permanent: permanent}
	}
	out, err := parseRefreshAnswer(data)
	if err != nil {
		return nil, &refreshError{StatusCode: resp.StatusCode, Err: err}
	}
	return out, nil
}

// parseRefreshAnswer reads a 2xx refresh answer: one strict JSON object
// whose id_token, access_token and refresh_token are strings, null or absent
// (absent and null leave the stored value), unknown members ignored. Errors
// name members, never values.
func parseRefreshAnswer(data []byte) (*codexhome.Tokens, error) {
	members, err := strictjson.Members(data)
	if err != nil {
		return nil, fmt.Errorf("the answer is not one JSON object: %w", err)
	}
	out := &codexhome.Tokens{}
	for _, m := range []struct {
		name string
		dst  *codexhome.Secret
	}{{"id_token", &out.IDToken}, {"access_token", &out.AccessToken}, {"refresh_token", &out.RefreshToken}} {
		raw, ok := strictjson.Lookup(members, m.name)
		if !ok || strictjson.IsNull(raw) {
			continue
		}
		s, ok := strictjson.String(raw)
		if !ok {
			return nil, fmt.Errorf("the answer's %s is %s, want a string", m.name, strictjson.Kind(raw))
		}
		if s != "" {
			*m.dst = codexhome.NewSecret(s)
		}
	}
	return out, nil
}

// refreshErrorCode returns the error code of a refused refresh as the Codex
// CLI reads it (error.code, or error when it is a string, else code), in
// lower case, or "" when there is none or it is not a short plain word (it
// goes into error messages).
func refreshErrorCode(data []byte) string {
	// One walk checks the body and reads error (an object with a code, or
	// a string) and code; values of other types count as absent.
	var (
		errorKind            string
		errorCode, errorText string
		topCode              string
	)
	err := strictjson.DecodeObject(data, func(d *strictjson.Decoder, name string) error {
		switch name {
		case "error":
			switch errorKind = d.Kind(); errorKind {
			case "an object":
				return d.Object(func(name string) error {
					if name == "code" && d.Kind() == "a string" {
						errorCode, _ = d.String()
					}
					return nil
				})
			case "a string":
				errorText, _ = d.String()
			}
		case "code":
			if d.Kind() == "a string" {
				topCode, _ = d.String()
			}
		}
		return nil
	})
	if err != nil {
		return ""
	}
	var code string
	switch errorKind {
	case "an object":
		code = errorCode
	case "a string":
		code = errorText
	default:
		code = topCode
	}
	code = netrule.ASCIILower(code)
	if len(code) > 64 || strings.ContainsFunc(code, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
	}) {
		return ""
	}
	return code
}

// accessTokenExpiry returns the exp of a ChatGPT access token, decoded from
// its JWT payload WITHOUT verification (the backend checks the token; exp
// only says when to refresh it). ok is false for a token that is not a JWT
// or has no numeric exp.
func accessTokenExpiry(token string) (time.Time, bool) {
	payload, err := jose.DecodePayloadUnverified(token, maxAccessTokenSize)
	if err != nil {
		return time.Time{}, false
	}
	return payloadExpiry(payload)
}

// payloadExpiry reads the numeric exp of a JWT payload already decoded
// (accessTokenExpiry), ok false when it has none.
func payloadExpiry(payload jose.Members) (time.Time, bool) {
	raw, ok := payload.Get("exp")
	if !ok {
		return time.Time{}, false
	}
	var exp float64
	if json.Unmarshal(raw, &exp) != nil || exp <= 0 || exp > jose.MaxNumericDate {
		return time.Time{}, false
	}
	sec := int64(exp)
	return time.Unix(sec, int64((exp-float64(sec))*1e9)), true
}

// refreshClient returns c (nil: a default) without redirects: a refresh
// token goes to the configured endpoint only.
func refreshClient(c *http.Client) *http.Client { return noRedirects(c, refreshTimeout) }

// recoverRejected replaces an access token a Bearer route refused with 401
// (refresh with reason "unauthorized_recovery"; a refresh another writer
// made meanwhile is adopted without a request).
func (r *loginRefresher) recoverRejected(ctx context.Context, rejected string) (string, error) {
	return r.refresh(ctx, rejected, reasonUnauthorized)
}
