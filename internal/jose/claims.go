package jose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/internal/secret"
)

// ChatGPTAuthClaim is the claim of a ChatGPT access or id token that holds
// the ChatGPT account data.
const ChatGPTAuthClaim = "https://api.openai.com/auth"

// AgentClaims are the claims of an Agent Identity JWT (docs/protocol.md#jwt-claims), decoded
// strictly by exact member name. The registered claims are plain values
// (package identity turns them into golang-jwt's RegisteredClaims), so that
// this package, which the Codex CLI's files are read with, does not link
// golang-jwt.
type AgentClaims struct {
	Issuer   string   // iss
	Subject  string   // sub
	ID       string   // jti
	Audience []string // aud: nil when absent, else the one audience
	// ExpiresAt, NotBefore and IssuedAt are exp, nbf and iat; nil when
	// absent or null.
	ExpiresAt, NotBefore, IssuedAt *time.Time

	AgentRuntimeID  string
	AgentPrivateKey string
	AccountID       string
	UserID          string
	Email           string
	PlanType        string
	FedRAMP         bool

	// HasRuntimeID reports whether agent_runtime_id is present and not
	// null.
	HasRuntimeID bool
}

// MaxNumericDate is the largest NumericDate accepted: 9999-12-31T23:59:59Z.
const MaxNumericDate = 253402300799

// DecodeAgentClaims decodes the payload members of an Agent Identity JWT:
// iss, sub, jti and the agent claims strings (or null or absent), aud a
// single string, exp, nbf and iat JSON numbers from 0 to MaxNumericDate,
// chatgpt_account_is_fedramp a boolean. Other members are ignored. Names are
// matched exactly: encoding/json would let "ISS" stand for "iss".
//
// A payload without agent_runtime_id whose issuer is loginIssuer (or a URL
// under it) or that carries ChatGPTAuthClaim is refused first with
// ErrChatGPTAccessToken, so that the caller can say what the token is.
// Presence requirements (exp, iss, aud, the agent claims) are the
// verifier's.
func DecodeAgentClaims(payload Members, loginIssuer string) (*AgentClaims, error) {
	rid, ok := payload.Get("agent_runtime_id")
	c := &AgentClaims{HasRuntimeID: ok && !isNull(rid)}
	if !c.HasRuntimeID {
		_, authClaims := payload.Get(ChatGPTAuthClaim)
		iss, _, _ := optString(payload.get("iss"))
		if authClaims || (loginIssuer != "" && (iss == loginIssuer || strings.HasPrefix(iss, strings.TrimSuffix(loginIssuer, "/")+"/"))) {
			return nil, refuse([]error{ErrChatGPTAccessToken}, "it looks like a ChatGPT access token, not an Agent Identity JWT")
		}
	}
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
		{"chatgpt_user_id", &c.UserID},
		{"email", &c.Email},
		{"plan_type", &c.PlanType},
	}
	for _, s := range strs {
		v, _, err := optString(payload.get(s.name))
		if err != nil {
			return nil, malformed("claim %q is not a string", s.name)
		}
		*s.dst = v
	}
	if raw, ok := payload.Get("aud"); ok && !isNull(raw) {
		aud, _, err := optString(raw)
		if err != nil {
			return nil, malformed("claim \"aud\" must be a single string")
		}
		c.Audience = []string{aud}
	}
	dates := [...]struct {
		name string
		dst  **time.Time
	}{
		{"exp", &c.ExpiresAt},
		{"nbf", &c.NotBefore},
		{"iat", &c.IssuedAt},
	}
	for _, d := range dates {
		raw, ok := payload.Get(d.name)
		if !ok || isNull(raw) {
			continue
		}
		t, err := numericDate(raw)
		if err != nil {
			return nil, malformed("claim %q %v", d.name, err)
		}
		*d.dst = t
	}
	if raw, ok := payload.Get("chatgpt_account_is_fedramp"); ok && !isNull(raw) {
		switch string(raw) {
		case "true":
			c.FedRAMP = true
		case "false":
		default:
			return nil, malformed("claim \"chatgpt_account_is_fedramp\" is not a boolean")
		}
	}
	return c, nil
}

// numericDate decodes a NumericDate (RFC 7519 §2): a JSON number of seconds,
// not a string, between 0 and the year 9999.
func numericDate(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return nil, errors.New("is not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errors.New("is not a usable number")
	}
	if f < 0 || f > MaxNumericDate {
		return nil, errors.New("is out of range")
	}
	sec, frac := math.Modf(f)
	t := time.Unix(int64(sec), int64(frac*1e9))
	return &t, nil
}

// get is Get for a value whose absence reads as null.
func (ms Members) get(name string) json.RawMessage {
	raw, _ := ms.Get(name)
	return raw
}

// AgentClaims hold the agent's private key (AgentPrivateKey), so they never
// print: every fmt verb, as a value and as a pointer, and every log/slog
// handler show secret.Redacted. (Package identity's Claims hold the key as a
// secret.Value instead.)

// String returns secret.Redacted.
func (c AgentClaims) String() string { return secret.Redacted }

// GoString returns secret.Redacted.
func (c AgentClaims) GoString() string { return secret.Redacted }

// Format prints secret.Redacted under every verb and flag.
func (c AgentClaims) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, secret.Redacted) }

// LogValue makes every log/slog handler print secret.Redacted.
func (c AgentClaims) LogValue() slog.Value { return slog.StringValue(secret.Redacted) }

// MarshalJSON returns secret.Redacted as a JSON string (slog's JSON handler,
// a struct holding one marshalled by accident).
func (c AgentClaims) MarshalJSON() ([]byte, error) { return []byte(`"` + secret.Redacted + `"`), nil }
