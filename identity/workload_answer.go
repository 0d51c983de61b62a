package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// chatgptAuthClaim is the claim of a ChatGPT access JWT that holds its
// account (docs/protocol.md#chatgpt-login).
const chatgptAuthClaim = "https://api.openai.com/auth"

// parseExchangeAnswer checks a 2xx exchange answer, every member as
// docs/protocol.md#workload-identity says: one strict JSON object (no
// duplicate members; unknown ones ignored) with access_token, a ChatGPT
// access JWT whose "https://api.openai.com/auth" chatgpt_user_id is
// user_id and whose chatgpt_account_id is chatgpt_account_id (the Codex CLI
// 0.171 does not compare the account; a token of another account is
// refused here), not expired; issued_token_type exactly
// urn:ietf:params:oauth:token-type:access_token; token_type "bearer" in any
// case; expires_in an integer literal from 1 to 3600; scope and
// chatgpt_account_user_id strings; chatgpt_account_id and user_id ids that
// can be sent as they are; chatgpt_plan_type a string, null or absent.
// sent is when the exchange was sent: the token is taken to expire
// expires_in after it (or at the JWT's exp, if sooner). Errors name
// members, never values.
func parseExchangeAnswer(data []byte, sent time.Time) (*exchanged, error) {
	members, err := strictjson.Members(data)
	if err != nil {
		return nil, errors.New("not one JSON object")
	}
	str := func(name string) (string, error) { return stringMember(members, name, true) }
	var got exchanged
	if got.token, err = str("access_token"); err != nil {
		return nil, err
	}
	if checkBearerToken(got.token) != nil || len(got.token) > maxAccessTokenSize {
		return nil, errors.New("access_token holds white space or a control character, or is too long")
	}
	tt, err := str("issued_token_type")
	if err != nil {
		return nil, err
	}
	if tt != accessTokenType {
		return nil, errors.New("issued_token_type is not " + accessTokenType)
	}
	if tt, err = str("token_type"); err != nil {
		return nil, err
	}
	if !netrule.ASCIIEqualFold(tt, "bearer") {
		return nil, errors.New("token_type is not bearer")
	}
	raw, ok := strictjson.Lookup(members, "expires_in")
	if !ok {
		return nil, errors.New("expires_in is missing")
	}
	secs, ok := smallInteger(raw)
	if !ok || secs < 1 || secs > maxExpiresIn {
		return nil, fmt.Errorf("expires_in is not an integer from 1 to %d", maxExpiresIn)
	}
	for _, name := range []string{"scope", "chatgpt_account_user_id"} {
		if _, err := stringMember(members, name, false); err != nil {
			return nil, err
		}
		if v, ok := strictjson.Lookup(members, name); !ok || strictjson.IsNull(v) {
			return nil, fmt.Errorf("%s is missing", name)
		}
	}
	acct := &got.account
	if acct.AccountID, err = str("chatgpt_account_id"); err != nil {
		return nil, err
	}
	if acct.UserID, err = str("user_id"); err != nil {
		return nil, err
	}
	for _, id := range []struct{ name, v string }{{"chatgpt_account_id", acct.AccountID}, {"user_id", acct.UserID}} {
		if err := checkAccountField(id.name, id.v); err != nil {
			return nil, err
		}
	}
	if acct.PlanType, err = stringMember(members, "chatgpt_plan_type", false); err != nil {
		return nil, err
	}
	var payload jose.Members
	if acct.FedRAMP, payload, err = checkAccessJWT(got.token, acct.AccountID, acct.UserID); err != nil {
		return nil, err
	}
	ttl := time.Duration(secs) * time.Second
	got.expires = sent.Add(ttl)
	if exp, ok := payloadExpiry(payload); ok {
		if !exp.After(sent) {
			return nil, errors.New("access_token has expired")
		}
		if exp.Before(got.expires) {
			got.expires = exp
		}
	}
	lead := min(exchangeLead, got.expires.Sub(sent)/2)
	got.refreshAt = got.expires.Add(-lead)
	return &got, nil
}

// checkAccessJWT decodes the payload of an exchanged access token once
// (not verified: the backend checks it; this only makes sure the answer is
// about one account) and returns its FedRAMP flag and the payload, from
// which the caller reads exp.
func checkAccessJWT(token, accountID, userID string) (bool, jose.Members, error) {
	payload, err := jose.DecodePayloadUnverified(token, maxAccessTokenSize)
	if err != nil {
		return false, nil, errors.New("access_token is not a JWT")
	}
	raw, ok := payload.Get(chatgptAuthClaim)
	if !ok {
		return false, nil, fmt.Errorf("access_token has no %q claim", chatgptAuthClaim)
	}
	auth, err := strictjson.Members(raw)
	if err != nil {
		return false, nil, fmt.Errorf("access_token's %q claim is not an object", chatgptAuthClaim)
	}
	if v, err := stringMember(auth, "chatgpt_user_id", true); err != nil || v != userID {
		return false, nil, errors.New("access_token's chatgpt_user_id is not user_id")
	}
	if v, err := stringMember(auth, "chatgpt_account_id", true); err != nil || v != accountID {
		return false, nil, errors.New("access_token's chatgpt_account_id is not chatgpt_account_id (another account)")
	}
	fedRAMP := false
	if raw, ok := strictjson.Lookup(auth, "chatgpt_account_is_fedramp"); ok && !strictjson.IsNull(raw) {
		if fedRAMP, ok = strictjson.Bool(raw); !ok {
			return false, nil, errors.New("access_token's chatgpt_account_is_fedramp is not a boolean")
		}
	}
	return fedRAMP, payload, nil
}

// smallInteger reads a JSON number written as a plain integer (digits
// only: no sign, fraction or exponent, no leading zero) of at most 9
// digits.
func smallInteger(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || len(raw) > 9 || (raw[0] == '0' && len(raw) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
