package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Personal access tokens (docs/protocol.md#personal-access-tokens).
const (
	// personalAccessTokenPrefix starts every personal access token.
	personalAccessTokenPrefix = "at-"
	// memberPersonalAccessToken is the auth.json member `codex login
	// --with-access-token` writes.
	memberPersonalAccessToken = "personal_access_token"
	// maxPersonalAccessToken bounds the token sent.
	maxPersonalAccessToken = 4 << 10
	// maxWhoamiBody bounds the metadata answer.
	maxWhoamiBody = 64 << 10
	// maxAccountField bounds each id of a metadata or exchange answer.
	maxAccountField = 256
)

// whoamiTimeout bounds the metadata lookup (tests shorten it).
var whoamiTimeout = 15 * time.Second

// ErrPersonalAccessTokenLookup is wrapped by the error [Load] returns when
// the personal access token it selected (an "at-" token in
// CODEX_ACCESS_TOKEN, or auth.json's personal_access_token) cannot be used:
// the token is malformed, its metadata lookup (GET
// {AuthAPI}/v1/user-auth-credential/whoami) was answered with a status other
// than 2xx (a redirect is not followed), the answer is larger than 64 KiB
// or not what the lookup answers (docs/protocol.md#personal-access-tokens),
// or the lookup failed or took longer than 15 seconds. The error says which,
// never quoting the token or the answer. Load never falls back to another
// credential then, unlike the Codex CLI 0.171, which goes on without one.
var ErrPersonalAccessTokenLookup = errors.New("identity: personal access token metadata request failed")

// isPersonalAccessToken reports whether tok is a personal access token by
// its prefix.
func isPersonalAccessToken(tok string) bool { return strings.HasPrefix(tok, personalAccessTokenPrefix) }

// storedPersonalAccessToken returns auth.json's personal_access_token, if
// the member holds one (codexhome read it in the file's one walk and
// refused a member that is not a string).
func storedPersonalAccessToken(f *codexhome.AuthFile) (codexhome.Secret, bool, error) {
	tok, ok := f.PersonalAccessToken()
	switch {
	case !ok:
		return codexhome.Secret{}, false, nil
	case !isPersonalAccessToken(tok.Reveal()):
		return codexhome.Secret{}, false, fmt.Errorf("%w: member %q does not hold a personal access token (no %q prefix)", codexhome.ErrCorruptAuthFile, memberPersonalAccessToken, personalAccessTokenPrefix)
	}
	return tok, true, nil
}

// whoamiURL is the metadata lookup of the run's environment:
// {A}/v1/user-auth-credential/whoami, where A is CODEX_AUTHAPI_BASE_URL
// (trimmed of white space and trailing '/'), else the AuthAPI base of the
// table environment the ChatGPT base belongs to (the lookup is not moved by
// CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL, as in the Codex CLI), else, for a
// custom deployment, its AuthAPI base.
func (l *loader) whoamiURL(getenv func(string) string, base string) (string, error) {
	a := endpointrule.TrimBase(getenv(endpointrule.EnvAuthAPIBaseURLNew))
	if a == "" {
		if env, err := agentidentity.Resolve(base); err == nil {
			a = env.AuthAPIBaseURL
		} else {
			a = l.env.AuthAPIBaseURL
		}
	}
	return buildURL(a, "/v1/user-auth-credential/whoami", "v1", "user-auth-credential", "whoami")
}

// fromPersonalAccessToken looks the token's metadata up, once, and
// returns a run that sends it as Bearer with the account's headers
// (docs/protocol.md#personal-access-tokens).
func (l *loader) fromPersonalAccessToken(ctx context.Context, tok codexhome.Secret, where, endpoint string) (*RunAuth, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrPersonalAccessTokenLookup, where, fmt.Sprintf(format, args...))
	}
	t := tok.Reveal()
	if len(t) > maxPersonalAccessToken || checkBearerToken(t) != nil {
		return nil, fail("the token is longer than %d bytes or holds white space or a control character", maxPersonalAccessToken)
	}
	acct, err := l.lookupPersonalAccessToken(ctx, t, endpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return l.bearerRun(sourcePersonalAccessToken, func(context.Context) (codexhome.Secret, error) { return tok, nil }, nil, acct)
}

// lookupPersonalAccessToken makes the metadata lookup: one GET, no
// redirects, 15 s, at most 64 KiB of answer. Errors wrap
// ErrPersonalAccessTokenLookup (and, for a transport failure, its cause).
func (l *loader) lookupPersonalAccessToken(ctx context.Context, tok, endpoint string) (codexhome.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, whoamiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, http.NoBody)
	if err != nil {
		return codexhome.Account{}, fmt.Errorf("%w: %w", ErrPersonalAccessTokenLookup, err)
	}
	// The headers the Codex CLI sends, without an account header.
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "*/*")
	resp, err := noRedirects(l.opts.HTTPClient, 0).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return codexhome.Account{}, fmt.Errorf("%w: %w", ErrPersonalAccessTokenLookup, scrubError(err, []string{tok}))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return codexhome.Account{}, fmt.Errorf("%w with status %d %s", ErrPersonalAccessTokenLookup, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := limitio.ReadAll(resp.Body, maxWhoamiBody)
	if err != nil {
		return codexhome.Account{}, fmt.Errorf("%w: reading the answer: %w", ErrPersonalAccessTokenLookup, err)
	}
	acct, err := parseWhoami(body)
	if err != nil {
		return codexhome.Account{}, fmt.Errorf("%w: the answer is invalid: %w", ErrPersonalAccessTokenLookup, err)
	}
	return acct, nil
}

// parseWhoami reads a metadata answer: one strict JSON object with
// chatgpt_account_id and chatgpt_user_id (non-empty ids), email and
// chatgpt_plan_type (strings, null or absent) and chatgpt_account_is_fedramp
// (a boolean, null or absent: false); unknown members are ignored. Errors
// name members, never values.
func parseWhoami(body []byte) (codexhome.Account, error) {
	members, err := strictjson.Members(body)
	if err != nil {
		return codexhome.Account{}, errors.New("not one JSON object")
	}
	var a codexhome.Account
	for _, m := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"chatgpt_account_id", &a.AccountID, true},
		{"chatgpt_user_id", &a.UserID, true},
		{"email", &a.Email, false},
		{"chatgpt_plan_type", &a.PlanType, false},
	} {
		if *m.dst, err = stringMember(members, m.name, m.required); err != nil {
			return codexhome.Account{}, err
		}
	}
	for _, id := range []struct{ name, v string }{{"chatgpt_account_id", a.AccountID}, {"chatgpt_user_id", a.UserID}} {
		if err := checkAccountField(id.name, id.v); err != nil {
			return codexhome.Account{}, err
		}
	}
	if raw, ok := strictjson.Lookup(members, "chatgpt_account_is_fedramp"); ok && !strictjson.IsNull(raw) {
		v, ok := strictjson.Bool(raw)
		if !ok {
			return codexhome.Account{}, fmt.Errorf("chatgpt_account_is_fedramp is %s, want a boolean", strictjson.Kind(raw))
		}
		a.FedRAMP = v
	}
	return a, nil
}

// stringMember returns the string member name of members: "" when it is
// absent or null (an error when required), an error when it is not a
// string.
func stringMember(members []strictjson.Member, name string, required bool) (string, error) {
	raw, ok := strictjson.Lookup(members, name)
	if !ok || strictjson.IsNull(raw) {
		if required {
			return "", fmt.Errorf("%s is missing", name)
		}
		return "", nil
	}
	s, ok := strictjson.String(raw)
	if !ok {
		return "", fmt.Errorf("%s is %s, want a string", name, strictjson.Kind(raw))
	}
	if required && s == "" {
		return "", fmt.Errorf("%s is empty", name)
	}
	return s, nil
}

// checkAccountField refuses an account or user id that could not be sent
// as a header value as it is: empty, longer than 256 bytes, or holding
// anything but printable ASCII without spaces.
func checkAccountField(name, v string) error {
	if v == "" || len(v) > maxAccountField || strings.ContainsFunc(v, func(c rune) bool { return c <= ' ' || c >= 0x7f }) {
		return fmt.Errorf("%s is empty, longer than %d bytes or not printable ASCII", name, maxAccountField)
	}
	return nil
}
