package codexhome

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// maxIDTokenSize bounds tokens.id_token before it is decoded.
const maxIDTokenSize = 64 << 10

// idTokenAuthClaim is the id token member holding the ChatGPT account data.
const idTokenAuthClaim = "https://api.openai.com/auth"

// ChatGPTLogin is the ChatGPT login found in auth.json
// (docs/protocol.md#chatgpt-login), the input of agent registration through
// ChatGPT auth. AccessToken is a secret: formatting a ChatGPTLogin with fmt
// or slog never prints it.
//
// Account.AccountID is tokens.account_id, or else the id token's
// chatgpt_account_id; UserID is the id token's chatgpt_user_id, or else its
// user_id; Email is its top-level email, PlanType its chatgpt_plan_type and
// FedRAMP its chatgpt_account_is_fedramp. AccountID or UserID may be empty
// for logins written by old Codex releases; such a login cannot own an agent
// identity.
type ChatGPTLogin struct {
	// AccessToken is tokens.access_token, the bearer token for agent
	// registration.
	AccessToken Secret
	Account
}

// ChatGPTLogin returns the ChatGPT login held in tokens, or nil, nil when
// tokens is absent or null.
//
// The id token's payload is decoded WITHOUT verifying its signature: it is
// local state that the Codex CLI wrote after its own OAuth exchange, and it
// only tells which account and user the login belongs to. The backend checks
// the access token when it is used. The payload must still be canonical
// unpadded base64url of a strict JSON object (no duplicate members) and the
// members read must have the right types; anything else, or a missing
// access_token or id_token, gives an error wrapping ErrCorruptAuthFile.
func (f *AuthFile) ChatGPTLogin() (*ChatGPTLogin, error) {
	t := f.Tokens()
	if t == nil {
		return nil, nil
	}
	if t.AccessToken.IsZero() {
		return nil, corrupt("member %q has no access_token", memberTokens)
	}
	if t.IDToken.IsZero() {
		return nil, corrupt("member %q has no id_token", memberTokens)
	}
	claims, err := decodeIDTokenClaims(t.IDToken.Reveal())
	if err != nil {
		return nil, err
	}
	login := &ChatGPTLogin{AccessToken: t.AccessToken, Account: Account{AccountID: t.AccountID, Email: claims.email}}
	if login.AccountID == "" {
		login.AccountID = claims.accountID
	}
	login.UserID = claims.chatgptUserID
	if login.UserID == "" {
		login.UserID = claims.userID
	}
	login.PlanType = claims.planType
	login.FedRAMP = claims.fedRAMP
	return login, nil
}

type idTokenClaims struct {
	email, accountID, chatgptUserID, userID, planType string
	fedRAMP                                           bool
}

// decodeIDTokenClaims decodes, without verification, the claims of a
// compact JWS that ChatGPTLogin needs. It uses the module's one JWT decoder
// (internal/jose) for the payload only, as the Codex CLI reads its id token:
// the header and signature are not looked at.
func decodeIDTokenClaims(token string) (*idTokenClaims, error) {
	const where = "tokens.id_token"
	payload, err := jose.DecodePayloadUnverified(token, maxIDTokenSize)
	switch {
	case errors.Is(err, jose.ErrTooLarge):
		return nil, corrupt("%s is longer than %d bytes", where, maxIDTokenSize)
	case errors.Is(err, jose.ErrSegments):
		return nil, corrupt("%s is not a JWT of three dot-separated parts", where)
	case errors.Is(err, jose.ErrEncoding):
		return nil, corrupt("%s payload is not canonical unpadded base64url", where)
	case errors.Is(err, jose.ErrJSON):
		var je *jose.Error
		cause := err
		if errors.As(err, &je) && je.Cause != nil {
			cause = je.Cause
		}
		return nil, fmt.Errorf("%w: %s payload: %w", ErrCorruptAuthFile, where, cause)
	case err != nil:
		return nil, corrupt("%s: %v", where, err)
	}
	c := &idTokenClaims{}
	if raw, ok := payload.Get("email"); ok {
		if err := optString(where+" claim email", raw, &c.email); err != nil {
			return nil, err
		}
	}
	if raw, ok := payload.Get(idTokenAuthClaim); ok && !strictjson.IsNull(raw) {
		if raw[0] != '{' {
			return nil, wrongType(where+" claim "+idTokenAuthClaim, raw, "an object")
		}
		if err := c.readAuthClaim(raw); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *idTokenClaims) readAuthClaim(raw json.RawMessage) error {
	members, err := strictjson.Members(raw)
	if err != nil {
		return corrupt("tokens.id_token claim %s: %v", idTokenAuthClaim, err)
	}
	for _, m := range members {
		name := "tokens.id_token claim " + idTokenAuthClaim + "." + m.Name
		var err error
		switch m.Name {
		case "chatgpt_account_id":
			err = optString(name, m.Raw, &c.accountID)
		case "chatgpt_user_id":
			err = optString(name, m.Raw, &c.chatgptUserID)
		case "user_id":
			err = optString(name, m.Raw, &c.userID)
		case "chatgpt_plan_type":
			err = optString(name, m.Raw, &c.planType)
		case "chatgpt_account_is_fedramp":
			if strictjson.IsNull(m.Raw) {
				continue
			}
			b, ok := strictjson.Bool(m.Raw)
			if !ok {
				err = wrongType(name, m.Raw, "a boolean or null")
			}
			c.fedRAMP = b
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// optString decodes a string-or-null member into dst.
func optString(name string, raw json.RawMessage, dst *string) error {
	if strictjson.IsNull(raw) {
		return nil
	}
	s, ok := strictjson.String(raw)
	if !ok {
		return wrongType(name, raw, "a string or null")
	}
	*dst = s
	return nil
}
