package identitytest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

// The workload identity token exchange (docs/protocol.md#workload-identity).
const (
	// jwtBearerGrant is the grant_type of the token exchange.
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// accessTokenType is the issued_token_type of its answer.
	accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
	// exchangeScope is the scope of its answer, as the Codex CLI saw it.
	exchangeScope = "openid profile email"
	// maxExchangeBody bounds the form: a 16 KiB assertion, percent-encoded
	// three bytes a byte, and a context.
	maxExchangeBody = 256 << 10
	// defaultExchangeTTL is the lifetime of an exchanged token when
	// Options.TokenExchangeTTL is 0; the answer's expires_in may be at
	// most this.
	defaultExchangeTTL = time.Hour
)

// whoamiOrder and exchangeOrder are the member orders of the answers, as
// the Codex CLI saw them.
var (
	whoamiOrder   = []string{"email", "chatgpt_user_id", "chatgpt_account_id", "chatgpt_plan_type", "chatgpt_account_is_fedramp"}
	exchangeOrder = []string{"access_token", "chatgpt_account_id", "chatgpt_account_user_id", "chatgpt_plan_type",
		"expires_in", "issued_token_type", "scope", "token_type", "user_id"}
)

// workloadKey is what a token exchange presents: a federation rule id and
// an assertion.
type workloadKey struct{ ruleID, assertion string }

// MintPersonalAccessToken makes a personal access token ("at-" and 43
// random characters) bound to account, and returns it with the account as
// the server then holds it: empty AccountID, UserID and PlanType get
// defaults ("account-pat-<n>", "user-pat-<n>", "plus"); an empty Email
// stays empty and is answered as null.
//
// The server answers the token's metadata lookup
// (GET /api/accounts/v1/user-auth-credential/whoami) with the account, and
// accepts the token as the Bearer credential of every first-party route,
// inference included, with the account's ChatGPT-Account-ID (and
// X-OpenAI-Fedramp: true for a FedRAMP account;
// docs/protocol.md#personal-access-tokens). It never expires, never
// registers an agent, and is no AgentAssertion.
func (s *Server) MintPersonalAccessToken(account codexhome.Account) (codexhome.Secret, codexhome.Account) {
	tok := "at-" + randomToken()
	s.mu.Lock()
	s.nextLogin++
	n := strconv.Itoa(s.nextLogin)
	account.AccountID = orDefault(account.AccountID, "account-pat-"+n)
	account.UserID = orDefault(account.UserID, "user-pat-"+n)
	account.PlanType = orDefault(account.PlanType, "plus")
	s.bearers[tok] = &bearer{kind: kindPAT, account: account}
	s.mu.Unlock()
	return codexhome.NewSecret(tok), account
}

// AddWorkloadIdentity makes the server's token exchange accept assertion
// (a workload's OIDC token or JWT-SVID, as the client sends it: trimmed)
// for the federation rule ruleID, and answer it with a fresh access token
// of account. It returns the account as the server then holds it: empty
// AccountID, UserID and PlanType get defaults ("account-wif-<n>",
// "user-wif-<n>", "plus"). A rule may accept several assertions (a token
// file that is rewritten); adding a pair again replaces its account. It
// fails if ruleID or assertion is blank or has surrounding white space (a
// client trims both, so such a pair could never match).
//
// The exchanged access token is a ChatGPT access JWT of the server whose
// "https://api.openai.com/auth" claim has the account (chatgpt_user_id is
// the answer's user_id). The server accepts it like a login's, with its
// ChatGPT-Account-ID, on every first-party route, inference included,
// until it expires (Options.TokenExchangeTTL), and never at agent
// registration (docs/protocol.md#workload-identity).
func (s *Server) AddWorkloadIdentity(ruleID string, assertion codexhome.Secret, account codexhome.Account) (codexhome.Account, error) {
	for _, v := range []struct{ name, value string }{{"federation rule id", ruleID}, {"assertion", assertion.Reveal()}} {
		if v.value == "" || strings.TrimSpace(v.value) != v.value {
			return codexhome.Account{}, fmt.Errorf("identitytest: the %s is blank or has surrounding white space", v.name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextLogin++
	n := strconv.Itoa(s.nextLogin)
	account.AccountID = orDefault(account.AccountID, "account-wif-"+n)
	account.UserID = orDefault(account.UserID, "user-wif-"+n)
	account.PlanType = orDefault(account.PlanType, "plus")
	if s.workloads == nil {
		s.workloads = make(map[workloadKey]codexhome.Account)
	}
	s.workloads[workloadKey{ruleID, assertion.Reveal()}] = account
	return account, nil
}

// handleWhoami serves the metadata lookup of a personal access token:
// GET {AuthAPI}/v1/user-auth-credential/whoami with the token as Bearer
// and no account headers, as the Codex CLI sends it.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	s.bump(&s.stats.PersonalAccessTokenLookups)
	_, fault, ok := s.preamble(w, r, false)
	if !ok {
		return
	}
	var b *bearer
	if v := r.Header.Values("Authorization"); len(v) == 1 {
		if tok, found := strings.CutPrefix(v[0], "Bearer "); found {
			b = s.lookupBearer(tok)
		}
	}
	switch {
	case b == nil || b.kind != kindPAT:
		writeError(w, http.StatusUnauthorized, "the Bearer token is not a personal access token minted by this server")
		return
	case len(r.Header.Values("ChatGPT-Account-ID")) != 0 || len(r.Header.Values("X-OpenAI-Fedramp")) != 0:
		writeError(w, http.StatusBadRequest, "the lookup carries no ChatGPT-Account-ID or X-OpenAI-Fedramp header")
		return
	}
	setVerdict(r, "verified")
	var email any // null when the account has none
	if b.account.Email != "" {
		email = b.account.Email
	}
	writeAnswer(w, fault, map[string]any{
		"email":                      email,
		"chatgpt_user_id":            b.account.UserID,
		"chatgpt_account_id":         b.account.AccountID,
		"chatgpt_plan_type":          b.account.PlanType,
		"chatgpt_account_is_fedramp": b.account.FedRAMP,
	}, whoamiOrder...)
}

// handleToken serves POST /oauth/token: the workload identity token
// exchange for a form body, the ChatGPT token refresh otherwise.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.handleExchange(w, r)
		return
	}
	s.handleRefresh(w, r)
}

// handleExchange serves the workload identity token exchange: the form of
// docs/protocol.md#workload-identity, checked byte for byte, for a pair of
// rule id and assertion added with AddWorkloadIdentity.
func (s *Server) handleExchange(w http.ResponseWriter, r *http.Request) {
	s.bump(&s.stats.TokenExchanges)
	body, err := limitio.ReadAll(r.Body, maxExchangeBody)
	fault, ok := s.injectFault(w, r, true)
	if !ok {
		return
	}
	refuse := func(status int, code, why string) {
		s.bump(&s.stats.TokenExchangesRefused)
		setVerdict(r, "refused: "+code+" ("+why+")")
		writeJSON(w, status, map[string]string{"error": code, "error_description": why})
	}
	if err != nil {
		refuse(http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
		return
	}
	switch {
	case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		refuse(http.StatusBadRequest, "invalid_request", "Content-Type must be exactly application/x-www-form-urlencoded")
		return
	case len(r.Header.Values("Authorization")) != 0:
		refuse(http.StatusBadRequest, "invalid_request", "the exchange carries no Authorization header")
		return
	}
	form, err := parseExchangeForm(string(body))
	if err != nil {
		refuse(http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	account, known := s.workloads[workloadKey{form.ruleID, form.assertion}]
	s.mu.Unlock()
	if !known {
		refuse(http.StatusBadRequest, "invalid_grant", "the assertion is not accepted for this federation rule")
		return
	}
	ttl := s.exchangeTTL
	// The token's exp is now+ttl cut to the second: it may lapse up to a
	// second before now+expires_in, as a real token may.
	tok := s.mintAccessJWT(kindExchange, account, s.now(), ttl)
	setVerdict(r, "verified")
	answer := map[string]any{
		"access_token":            tok.Reveal(),
		"chatgpt_account_id":      account.AccountID,
		"chatgpt_account_user_id": account.UserID + "__" + account.AccountID,
		"expires_in":              int(ttl / time.Second),
		"issued_token_type":       accessTokenType,
		"scope":                   exchangeScope,
		"token_type":              "Bearer",
		"user_id":                 account.UserID,
	}
	if account.PlanType != "" {
		answer["chatgpt_plan_type"] = account.PlanType
	}
	writeAnswer(w, fault, answer, exchangeOrder...)
}

// exchangeTTL is the lifetime of exchanged tokens for the option d: whole
// seconds from 1 s to 1 h (0: 1 h).
func exchangeTTL(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return defaultExchangeTTL
	case d < time.Second:
		return time.Second
	case d > defaultExchangeTTL:
		return defaultExchangeTTL
	}
	return d.Truncate(time.Second)
}

// exchangeForm is what the server reads of a token exchange's form (a
// workload_identity_context is checked, not used).
type exchangeForm struct{ assertion, ruleID string }

// parseExchangeForm checks body against the form the Codex CLI sends:
// grant_type, assertion, federation_rule_id and optionally
// workload_identity_context, in this order, each once, each value in the
// encoding of the WHATWG application/x-www-form-urlencoded serialiser
// (formEncode) and nothing else; assertion and rule id non-empty and
// trimmed. Its errors never quote a value.
func parseExchangeForm(body string) (exchangeForm, error) {
	names := []string{"grant_type", "assertion", "federation_rule_id", "workload_identity_context"}
	pairs := strings.Split(body, "&")
	if len(pairs) < 3 || len(pairs) > 4 {
		return exchangeForm{}, errors.New("want the members grant_type, assertion, federation_rule_id and optionally workload_identity_context")
	}
	values := make([]string, len(pairs))
	for i, p := range pairs {
		name, raw, found := strings.Cut(p, "=")
		if !found || name != names[i] {
			return exchangeForm{}, fmt.Errorf("member %d must be %s", i+1, names[i])
		}
		v, err := url.QueryUnescape(raw)
		if err != nil || formEncode(v) != raw {
			return exchangeForm{}, fmt.Errorf("%s is not in the WHATWG form encoding (letters, digits and *-._ kept, space as +, the rest %%XX in upper case)", name)
		}
		values[i] = v
	}
	f := exchangeForm{assertion: values[1], ruleID: values[2]}
	switch {
	case values[0] != jwtBearerGrant:
		return exchangeForm{}, errors.New("grant_type must be " + jwtBearerGrant)
	case f.assertion == "" || strings.TrimSpace(f.assertion) != f.assertion:
		return exchangeForm{}, errors.New("the assertion is empty or not trimmed")
	case f.ruleID == "" || strings.TrimSpace(f.ruleID) != f.ruleID:
		return exchangeForm{}, errors.New("federation_rule_id is empty or not trimmed")
	}
	return f, nil
}

// formEncode is the WHATWG application/x-www-form-urlencoded byte
// serialiser: ASCII letters, digits and *-._ as they are, space as +,
// every other byte %XX in upper-case hex. Hand-written because no library
// has it: url.QueryEscape keeps ~ and escapes *, and url.Values.Encode
// also sorts the members.
func formEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
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
	return b.String()
}
