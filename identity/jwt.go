package identity

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity/internal/b64"
)

// MaxJWTSize is the longest Agent Identity JWT accepted, in bytes. Longer
// tokens are refused before any decoding.
const MaxJWTSize = 64 << 10

// Errors for tokens that are not Agent Identity JWTs at all. Errors wrapping
// them also wrap [ErrInvalidJWT].
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

// jwtError is the error for a refused token. It wraps ErrInvalidJWT and, if
// set, a more precise cause (one of the sentinels above, or a golang-jwt
// error such as jwt.ErrTokenExpired). Its text never quotes the token.
type jwtError struct {
	reason string
	cause  error
}

func (e *jwtError) Error() string { return "identity: invalid Agent Identity JWT: " + e.reason }

func (e *jwtError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidJWT, e.cause}
	}
	return []error{ErrInvalidJWT}
}

func invalidJWT(cause error, format string, args ...any) error {
	return &jwtError{reason: fmt.Sprintf(format, args...), cause: cause}
}

// Claims are the claims of an Agent Identity JWT (spec §6).
//
// AgentPrivateKey is a secret: String, GoString, Format and LogValue never
// show it, whatever the verb or flag. Encoding Claims with encoding/json does
// include it; the caller owns that choice. Note that golang-jwt encodes a
// one-element Audience as an array by default, while Agent Identity JWTs
// carry "aud" as a single string.
type Claims struct {
	// RegisteredClaims holds iss, sub, aud, exp, nbf, iat and jti. A verified
	// token has exactly one Audience.
	jwt.RegisteredClaims

	// AgentRuntimeID is the agent_runtime_id claim.
	AgentRuntimeID string `json:"agent_runtime_id"`
	// AgentPrivateKey is the agent_private_key claim: the agent's Ed25519
	// key as PKCS #8 DER in standard base64. Secret.
	AgentPrivateKey string `json:"agent_private_key"`
	// AccountID is the account_id claim, sent as ChatGPT-Account-ID.
	AccountID string `json:"account_id"`
	// ChatGPTUserID is the chatgpt_user_id claim.
	ChatGPTUserID string `json:"chatgpt_user_id"`
	// Email is the optional email claim ("" when absent).
	Email string `json:"email,omitempty"`
	// PlanType is the plan_type claim.
	PlanType string `json:"plan_type"`
	// FedRAMP is the chatgpt_account_is_fedramp claim.
	FedRAMP bool `json:"chatgpt_account_is_fedramp"`
}

const redacted = "[REDACTED]"

// String describes the claims without the agent private key.
func (c Claims) String() string {
	var b strings.Builder
	b.WriteString("identity.Claims{")
	fmt.Fprintf(&b, "iss=%q aud=%q", c.Issuer, strings.Join(c.Audience, ","))
	if c.ExpiresAt != nil {
		fmt.Fprintf(&b, " exp=%s", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " agent_runtime_id=%q account_id=%q chatgpt_user_id=%q", c.AgentRuntimeID, c.AccountID, c.ChatGPTUserID)
	if c.Email != "" {
		fmt.Fprintf(&b, " email=%q", c.Email)
	}
	fmt.Fprintf(&b, " plan_type=%q fedramp=%t", c.PlanType, c.FedRAMP)
	if c.AgentPrivateKey != "" {
		b.WriteString(" agent_private_key=" + redacted)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is like String, for the %#v verb; it never shows the agent
// private key.
func (c Claims) GoString() string {
	key := `""`
	if c.AgentPrivateKey != "" {
		key = redacted
	}
	return fmt.Sprintf("identity.Claims{RegisteredClaims:%#v, AgentRuntimeID:%q, AgentPrivateKey:%s, AccountID:%q, ChatGPTUserID:%q, Email:%q, PlanType:%q, FedRAMP:%t}",
		c.RegisteredClaims, c.AgentRuntimeID, key, c.AccountID, c.ChatGPTUserID, c.Email, c.PlanType, c.FedRAMP)
}

// Format implements fmt.Formatter so that every verb and flag (%v, %+v, %#v,
// %s, %q, %x …) prints the redacted form.
func (c Claims) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, c.GoString())
	case verb == 'q':
		_, _ = fmt.Fprint(f, strconv.Quote(c.String()))
	default:
		_, _ = fmt.Fprint(f, c.String())
	}
}

// LogValue implements slog.LogValuer; the agent private key is redacted.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("iss", c.Issuer),
		slog.String("aud", strings.Join(c.Audience, ",")),
		slog.String("agent_runtime_id", c.AgentRuntimeID),
		slog.String("account_id", c.AccountID),
		slog.String("chatgpt_user_id", c.ChatGPTUserID),
		slog.String("plan_type", c.PlanType),
		slog.Bool("fedramp", c.FedRAMP),
		slog.String("agent_private_key", redacted),
	)
}

// DecodeJWTUnverified decodes the claims of an Agent Identity JWT WITHOUT
// checking its signature, issuer, audience or lifetime. It exists only to
// pre-read claims (for example to choose which account a token is for); its
// result must never grant access: use [JWTVerifier.Verify] for that.
//
// It is still strict about the form of the token: at most [MaxJWTSize]
// bytes, three segments in canonical unpadded base64url, header and payload
// JSON objects without duplicate members, "aud" a single string and the
// claims of the right JSON types. Every error wraps [ErrInvalidJWT]; a
// personal access token also gets [ErrPersonalAccessToken].
func DecodeJWTUnverified(token string) (*Claims, error) {
	p, err := parseJWT(token)
	if err != nil {
		return nil, err
	}
	return p.claims, nil
}

// parsedJWT is a token split and decoded, but not verified.
type parsedJWT struct {
	signingInput string // header "." payload, as signed
	signature    []byte
	payload      []byte
	header       jwtHeader
	claims       *Claims
	// hasRuntimeID reports whether agent_runtime_id was present.
	hasRuntimeID bool
}

type jwtHeader struct {
	alg string
	kid string
	// kidPresent is true if the header has a "kid" member of any value.
	kidPresent bool
}

// parseJWS does the checks of the compact form that need no key: size,
// three segments, canonical base64url, and a strict JSON header. The payload
// is decoded but not parsed.
func parseJWS(token string) (*parsedJWT, error) {
	if len(token) > MaxJWTSize {
		return nil, invalidJWT(nil, "token is %d bytes, more than the %d allowed", len(token), MaxJWTSize)
	}
	if token == "" {
		return nil, invalidJWT(nil, "token is empty")
	}
	if strings.HasPrefix(token, "at-") {
		return nil, invalidJWT(ErrPersonalAccessToken, "token starts with \"at-\": it is a personal access token, not an Agent Identity JWT")
	}
	if n := strings.Count(token, "."); n != 2 {
		return nil, invalidJWT(nil, "token has %d segments, a JWS in compact form has 3", n+1)
	}
	d1 := strings.IndexByte(token, '.')
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	hSeg, pSeg, sSeg := token[:d1], token[d1+1:d2], token[d2+1:]

	hb, err := b64.DecodeRawURL(hSeg)
	if err != nil || len(hb) == 0 {
		return nil, invalidJWT(nil, "header segment is not canonical unpadded base64url")
	}
	pb, err := b64.DecodeRawURL(pSeg)
	if err != nil {
		return nil, invalidJWT(nil, "payload segment is not canonical unpadded base64url")
	}
	sig, err := b64.DecodeRawURL(sSeg)
	if err != nil {
		return nil, invalidJWT(nil, "signature segment is not canonical unpadded base64url")
	}

	p := &parsedJWT{signingInput: token[:d2], signature: sig, payload: pb}
	if err := p.parseHeader(hb); err != nil {
		return nil, err
	}
	return p, nil
}

// parseJWT is parseJWS followed by the strict decoding of the claims.
func parseJWT(token string) (*parsedJWT, error) {
	p, err := parseJWS(token)
	if err != nil {
		return nil, err
	}
	if err := p.parseClaims(p.payload); err != nil {
		return nil, err
	}
	return p, nil
}

// verifySignature checks the RS256 signature of the token with key.
func (p *parsedJWT) verifySignature(key *rsa.PublicKey) error {
	if err := jwt.SigningMethodRS256.Verify(p.signingInput, p.signature, key); err != nil {
		return invalidJWT(jwt.ErrTokenSignatureInvalid, "signature does not verify")
	}
	return nil
}

// members checks a JSON object strictly (see scanJSONObject) and returns its
// top-level members by exact name (encoding/json matches struct fields
// case-insensitively, which would let "ALG" stand for "alg").
func members(part string, data []byte) (map[string]json.RawMessage, error) {
	m, err := scanJSONObject(data)
	if errors.Is(err, errJSONDuplicate) {
		return nil, invalidJWT(nil, "%s has a duplicate member", part)
	}
	if err != nil {
		return nil, invalidJWT(nil, "%s is not a JSON object", part)
	}
	return m, nil
}

// untrustedHeaders are JOSE header members that point at keys or change how
// the token must be processed. They are refused outright: keys come only
// from the configured JWKS, and no critical extension is understood.
var untrustedHeaders = [...]string{"crit", "jku", "x5u", "jwk", "x5c"}

func (p *parsedJWT) parseHeader(data []byte) error {
	m, err := members("header", data)
	if err != nil {
		return err
	}
	for _, name := range untrustedHeaders {
		if _, ok := m[name]; ok {
			return invalidJWT(nil, "header member %q is not accepted", name)
		}
	}
	alg, present, err := jwtRawString(m["alg"])
	if err != nil || !present {
		return invalidJWT(nil, "header has no string \"alg\"")
	}
	p.header.alg = alg
	raw, ok := m["kid"]
	p.header.kidPresent = ok
	if ok {
		kid, _, err := jwtRawString(raw)
		if err != nil {
			return invalidJWT(nil, "header \"kid\" is not a string")
		}
		p.header.kid = kid
	}
	return nil
}

// Largest NumericDate accepted: 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func (p *parsedJWT) parseClaims(data []byte) error {
	m, err := members("payload", data)
	if err != nil {
		return err
	}
	// A ChatGPT access token is recognised before any type check (its
	// "aud" is an array), so the caller gets the helpful error.
	rid, ok := m["agent_runtime_id"]
	p.hasRuntimeID = ok && !jwtIsNull(rid)
	if !p.hasRuntimeID {
		_, authClaims := m["https://api.openai.com/auth"]
		iss, _, _ := jwtRawString(m["iss"])
		if authClaims || iss == "https://auth.openai.com" || strings.HasPrefix(iss, "https://auth.openai.com/") {
			return invalidJWT(ErrChatGPTAccessToken, "it looks like a ChatGPT access token, not an Agent Identity JWT")
		}
	}
	c := &Claims{}
	strs := [...]struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer},
		{"sub", &c.Subject},
		{"jti", &c.ID},
		{"agent_runtime_id", &c.AgentRuntimeID},
		{"agent_private_key", &c.AgentPrivateKey},
		{"account_id", &c.AccountID},
		{"chatgpt_user_id", &c.ChatGPTUserID},
		{"email", &c.Email},
		{"plan_type", &c.PlanType},
	}
	for _, s := range strs {
		v, _, err := jwtRawString(m[s.name])
		if err != nil {
			return invalidJWT(nil, "claim %q is not a string", s.name)
		}
		*s.dst = v
	}
	if raw, ok := m["aud"]; ok && !jwtIsNull(raw) {
		aud, _, err := jwtRawString(raw)
		if err != nil {
			return invalidJWT(nil, "claim \"aud\" must be a single string")
		}
		c.Audience = jwt.ClaimStrings{aud}
	}
	dates := [...]struct {
		name string
		dst  **jwt.NumericDate
	}{
		{"exp", &c.ExpiresAt},
		{"nbf", &c.NotBefore},
		{"iat", &c.IssuedAt},
	}
	for _, d := range dates {
		raw, ok := m[d.name]
		if !ok || jwtIsNull(raw) {
			continue
		}
		t, err := numericDate(raw)
		if err != nil {
			return invalidJWT(nil, "claim %q %v", d.name, err)
		}
		*d.dst = t
	}
	if raw, ok := m["chatgpt_account_is_fedramp"]; ok && !jwtIsNull(raw) {
		switch string(raw) {
		case "true":
			c.FedRAMP = true
		case "false":
		default:
			return invalidJWT(nil, "claim \"chatgpt_account_is_fedramp\" is not a boolean")
		}
	}
	p.claims = c
	return nil
}

func jwtIsNull(raw json.RawMessage) bool { return string(raw) == "null" }

// rawString decodes a JSON string member; a missing or null member is "".
func jwtRawString(raw json.RawMessage) (s string, present bool, err error) {
	if raw == nil || jwtIsNull(raw) {
		return "", false, nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return "", true, errors.New("not a string")
	}
	inner := raw[1 : len(raw)-1]
	if !strings.ContainsRune(string(inner), '\\') {
		// The document has been checked: an unescaped string is valid
		// UTF-8 without control characters.
		return string(inner), true, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	return s, true, nil
}

// numericDate decodes a NumericDate (RFC 7519 §2): a JSON number of seconds,
// not a string, between 0 and the year 9999.
func numericDate(raw json.RawMessage) (*jwt.NumericDate, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return nil, errors.New("is not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errors.New("is not a usable number")
	}
	if f < 0 || f > maxNumericDate {
		return nil, errors.New("is out of range")
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

// jwtRuntimeIDValid reports whether id passes the runtime-id allowlist of
// ValidateRuntimeID.
func jwtRuntimeIDValid(id string) bool { return ValidateRuntimeID(id) == nil }
