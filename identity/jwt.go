package identity

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/jose"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// maxJWTSize is the longest Agent Identity JWT accepted, in bytes. Longer
// tokens are refused before any decoding.
const maxJWTSize = 64 << 10

// Errors for tokens that are not Agent Identity JWTs at all. Errors wrapping
// them also wrap [ErrInvalidJWT].

// chatGPTLoginIssuer is the issuer of the ChatGPT login's tokens, by which a
// ChatGPT access token is recognised.
const chatGPTLoginIssuer = agentidentity.ChatGPTLoginIssuer

// jwtError is the error for a refused token. It wraps ErrInvalidJWT and the
// more precise causes, if any (the sentinels above, a golang-jwt error such
// as jwt.ErrTokenExpired, an internal/jose error). Its text never quotes the
// token.
type jwtError struct {
	reason string
	causes []error
}

func (e *jwtError) Error() string { return "identity: invalid Agent Identity JWT: " + e.reason }

func (e *jwtError) Unwrap() []error { return append([]error{ErrInvalidJWT}, e.causes...) }

func invalidJWT(cause error, format string, args ...any) error {
	e := &jwtError{reason: fmt.Sprintf(format, args...)}
	if cause != nil {
		e.causes = []error{cause}
	}
	return e
}

// fromJOSE turns a refusal of the strict pre-pass into an identity error,
// keeping its reason.
func fromJOSE(err error) error {
	var je *jose.Error
	if !errors.As(err, &je) {
		return invalidJWT(err, "token cannot be decoded")
	}
	e := &jwtError{reason: je.Reason, causes: []error{je}}
	switch {
	case errors.Is(err, jose.ErrPersonalAccessToken):
		e.causes = append(e.causes, ErrPersonalAccessToken)
	case errors.Is(err, jose.ErrChatGPTAccessToken):
		e.causes = append(e.causes, ErrChatGPTAccessToken)
	}
	return e
}

// Claims are the claims of an Agent Identity JWT (docs/protocol.md#jwt-claims).
//
// AgentPrivateKey is a [codexhome.Secret], so Claims print and log it
// redacted, as a value, a pointer or inside other values, and encoding/json
// writes "[REDACTED]" for it. Note that golang-jwt encodes a one-element Audience as
// an array by default, while Agent Identity JWTs carry "aud" as a single
// string.
type Claims struct {
	// RegisteredClaims holds iss, sub, aud, exp, nbf, iat and jti. A verified
	// token has exactly one Audience.
	jwt.RegisteredClaims

	// AgentRuntimeID is the agent_runtime_id claim.
	AgentRuntimeID string `json:"agent_runtime_id"`
	// AgentPrivateKey is the agent_private_key claim: the agent's Ed25519
	// key as PKCS #8 DER in standard base64.
	AgentPrivateKey codexhome.Secret `json:"agent_private_key"`
	// Account holds the account_id (sent as ChatGPT-Account-ID),
	// chatgpt_user_id, optional email ("" when absent), plan_type and
	// chatgpt_account_is_fedramp claims.
	codexhome.Account
}

// DecodeJWTUnverified decodes the claims of an Agent Identity JWT WITHOUT
// checking its signature, issuer, audience or lifetime. It exists only to
// pre-read claims (for example to choose which account a token is for); its
// result must never grant access: use [JWTVerifier.Verify] for that.
//
// It is still strict about the form of the token: at most 64 KiB, three
// segments in canonical unpadded base64url, header and payload
// JSON objects without duplicate members, "aud" a single string and the
// claims of the right JSON types. Every error wraps [ErrInvalidJWT]; a
// personal access token also gets [ErrPersonalAccessToken].
func DecodeJWTUnverified(token codexhome.Secret) (*Claims, error) {
	p, err := parseJWT(token.Reveal())
	if err != nil {
		return nil, err
	}
	return p.claims, nil
}

// parsedJWT is a token through the strict pre-pass (internal/jose), not
// verified.
type parsedJWT struct {
	jws    *jose.JWS
	header jose.Header
	claims *Claims
	// hasRuntimeID reports whether agent_runtime_id was present.
	hasRuntimeID bool
}

// parseJWS does the checks of the compact form that need no key: size,
// three segments, canonical base64url, a strict JSON header and the header
// rules. The payload is not read.
func parseJWS(token string) (*parsedJWT, error) {
	if len(token) <= maxJWTSize && strings.HasPrefix(token, "at-") {
		return nil, invalidJWT(ErrPersonalAccessToken, "token starts with \"at-\": it is a personal access token, not an Agent Identity JWT")
	}
	j, err := jose.SplitCompact(token, maxJWTSize)
	if err != nil {
		return nil, fromJOSE(err)
	}
	h, err := j.CheckHeader()
	if err != nil {
		return nil, fromJOSE(err)
	}
	return &parsedJWT{jws: j, header: h}, nil
}

// parseJWT is parseJWS followed by the strict decoding of the claims.
func parseJWT(token string) (*parsedJWT, error) {
	p, err := parseJWS(token)
	if err != nil {
		return nil, err
	}
	if err := p.jws.DecodePayload(); err != nil {
		return nil, fromJOSE(err)
	}
	c, err := jose.DecodeAgentClaims(p.jws.Payload, chatGPTLoginIssuer)
	if err != nil {
		return nil, fromJOSE(err)
	}
	p.claims = claimsFromJOSE(c)
	p.hasRuntimeID = c.HasRuntimeID
	return p, nil
}

func claimsFromJOSE(c *jose.AgentClaims) *Claims {
	date := func(t *time.Time) *jwt.NumericDate {
		if t == nil {
			return nil
		}
		return jwt.NewNumericDate(*t)
	}
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			ID:        c.ID,
			Audience:  jwt.ClaimStrings(c.Audience),
			ExpiresAt: date(c.ExpiresAt),
			NotBefore: date(c.NotBefore),
			IssuedAt:  date(c.IssuedAt),
		},
		AgentRuntimeID:  c.AgentRuntimeID,
		AgentPrivateKey: codexhome.NewSecret(c.AgentPrivateKey),
		Account: codexhome.Account{
			AccountID: c.AccountID,
			UserID:    c.UserID,
			Email:     c.Email,
			PlanType:  c.PlanType,
			FedRAMP:   c.FedRAMP,
		},
	}
}

// verifySignature checks the RS256 signature of the token with key.
func (p *parsedJWT) verifySignature(key *rsa.PublicKey) error {
	if err := jwt.SigningMethodRS256.Verify(p.jws.SigningInput, p.jws.Signature, key); err != nil {
		return invalidJWT(jwt.ErrTokenSignatureInvalid, "signature does not verify")
	}
	return nil
}

// claimsDecoder is what golang-jwt decodes the payload into. It takes the
// claims of the strict pre-pass when golang-jwt hands it the payload the
// pre-pass decoded (always, for the token Verify parses), so that golang-jwt
// validates exactly what the pre-pass read; any other payload is decoded by
// the same strict rules. encoding/json is never used on claims: it matches
// names case-insensitively and keeps the last of duplicate members.
type claimsDecoder struct {
	*Claims
	pre        *Claims
	preJSON    []byte
	runtimeID  bool
	preRuntime bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *claimsDecoder) UnmarshalJSON(b []byte) error {
	if d.pre != nil && bytes.Equal(b, d.preJSON) {
		*d.Claims = *d.pre
		d.runtimeID = d.preRuntime
		return nil
	}
	m, err := strictjson.Split(b)
	if err != nil {
		return invalidJWT(err, "payload is not a JSON object")
	}
	c, err := jose.DecodeAgentClaims(m, chatGPTLoginIssuer)
	if err != nil {
		return fromJOSE(err)
	}
	*d.Claims = *claimsFromJOSE(c)
	d.runtimeID = c.HasRuntimeID
	return nil
}

// jwtRuntimeIDValid reports whether id passes the runtime-id allowlist of
// ValidateRuntimeID.
func jwtRuntimeIDValid(id string) bool { return ValidateRuntimeID(id) == nil }
