// Package jose is the module's one decoder of JWTs: the strict pre-pass that
// runs before github.com/golang-jwt/jwt/v5 sees an Agent Identity JWT, and the
// unverified payload decoding of the ChatGPT login's id token.
//
// golang-jwt accepts what RFC 7515 and RFC 7519 allow and encoding/json
// accepts: padded or non-canonical base64url, duplicate JSON members (the last
// wins), lone surrogate escapes, case-insensitive claim names. Each lets two
// parsers read one token differently, so [SplitCompact] refuses them first:
// a size bound, exactly three segments, canonical unpadded base64url
// (internal/b64), and header and payload that are strict JSON objects
// (internal/strictjson) ([ParseCompact]). [JWS.CheckHeader] and
// [DecodeAgentClaims] add the rules of an Agent Identity JWT (docs/protocol.md#agent-jwt).
//
// Errors are [*Error]s: a reason that never quotes the token, and a sentinel
// of this package for callers that translate them into their own errors.
package jose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/secret"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Sentinels wrapped by [*Error].
var (
	// ErrMalformed: not a JWS in compact form that this module reads (size,
	// segments, base64url, JSON, header members, claim types).
	ErrMalformed = errors.New("malformed JWT")
	// ErrTooLarge: longer than the size bound. It also wraps ErrMalformed.
	ErrTooLarge = errors.New("JWT too large")
	// ErrSegments: not three dot-separated segments. It also wraps
	// ErrMalformed.
	ErrSegments = errors.New("JWT is not three segments")
	// ErrEncoding: a segment is not canonical unpadded base64url. It also
	// wraps ErrMalformed.
	ErrEncoding = errors.New("JWT segment is not canonical base64url")
	// ErrJSON: the header or payload is not a strict JSON object. It also
	// wraps ErrMalformed, and the strictjson error.
	ErrJSON = errors.New("JWT header or payload is not a strict JSON object")
	// ErrPersonalAccessToken: the token starts with "at-".
	ErrPersonalAccessToken = errors.New("personal access token")
	// ErrChatGPTAccessToken: the payload is that of a ChatGPT access token.
	ErrChatGPTAccessToken = errors.New("ChatGPT access token")
)

// Error is a refused token. Reason says what was wrong without quoting the
// token; Unwrap gives the sentinels and the cause.
type Error struct {
	Reason string
	// Cause is the error of a lower layer (internal/strictjson for ErrJSON),
	// or nil.
	Cause error
	errs  []error
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the sentinels of the refusal and its cause, if any.
func (e *Error) Unwrap() []error { return e.errs }

func refuse(errs []error, format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...), errs: errs}
}

func malformed(format string, args ...any) *Error {
	return refuse([]error{ErrMalformed}, format, args...)
}

// JWS is a compact JWS split and decoded, not verified.
type JWS struct {
	// Header and Payload are the members of the header and (after
	// DecodePayload) the payload by exact name, each value compact JSON.
	Header  Members
	Payload Members
	// PayloadJSON is the decoded payload, as signed.
	PayloadJSON []byte
	// SigningInput is header "." payload as they appear in the token.
	SigningInput string
	// Signature is the decoded signature.
	Signature []byte
}

// segments splits token into three segments after the size check.
func segments(token string, maxSize int) (h, p, s string, err error) {
	if len(token) > maxSize {
		return "", "", "", refuse([]error{ErrMalformed, ErrTooLarge}, "token is %d bytes, more than the %d allowed", len(token), maxSize)
	}
	if token == "" {
		return "", "", "", refuse([]error{ErrMalformed, ErrSegments}, "token is empty")
	}
	if n := strings.Count(token, "."); n != 2 {
		return "", "", "", refuse([]error{ErrMalformed, ErrSegments}, "token has %d segments, a JWS in compact form has 3", n+1)
	}
	d1 := strings.IndexByte(token, '.')
	d2 := d1 + 1 + strings.IndexByte(token[d1+1:], '.')
	return token[:d1], token[d1+1 : d2], token[d2+1:], nil
}

func decodeSegment(part, seg string, nonEmpty bool) ([]byte, error) {
	b, err := b64.DecodeRawURL(seg)
	if err != nil || (nonEmpty && len(b) == 0) {
		return nil, refuse([]error{ErrMalformed, ErrEncoding}, "%s segment is not canonical unpadded base64url", part)
	}
	return b, nil
}

// Members are the members of a JSON object, names unique. The values share
// the memory of the decoded segment.
type Members []strictjson.Member

// Get returns the value of the member called name, compact JSON, or nil,
// false.
func (ms Members) Get(name string) (json.RawMessage, bool) { return strictjson.Lookup(ms, name) }

func decodeObject(part string, data []byte) (Members, error) {
	m, err := strictjson.Split(data)
	if errors.Is(err, strictjson.ErrDuplicateMember) {
		e := refuse([]error{ErrMalformed, ErrJSON, err}, "%s has a duplicate member", part)
		e.Cause = err
		return nil, e
	}
	if err != nil {
		e := refuse([]error{ErrMalformed, ErrJSON, err}, "%s is not a JSON object", part)
		e.Cause = err
		return nil, e
	}
	return m, nil
}

// SplitCompact checks the form of a compact JWS that needs no key: at most
// maxSize bytes, not empty, three segments, each canonical unpadded
// base64url (the header not empty), and a header that is a strict JSON
// object (valid UTF-8, no duplicate member at any depth after unescaping,
// no lone surrogate escape, no trailing data). The payload is decoded from
// base64url but not read: see DecodePayload and ParseCompact.
func SplitCompact(token string, maxSize int) (*JWS, error) {
	hs, ps, ss, err := segments(token, maxSize)
	if err != nil {
		return nil, err
	}
	hb, err := decodeSegment("header", hs, true)
	if err != nil {
		return nil, err
	}
	pb, err := decodeSegment("payload", ps, false)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSegment("signature", ss, false)
	if err != nil {
		return nil, err
	}
	j := &JWS{PayloadJSON: pb, SigningInput: token[:len(hs)+1+len(ps)], Signature: sig}
	if j.Header, err = decodeObject("header", hb); err != nil {
		return nil, err
	}
	return j, nil
}

// DecodePayload checks that the payload is a strict JSON object, as the
// payload of a JWT (RFC 7519) must be, and fills j.Payload.
func (j *JWS) DecodePayload() error {
	m, err := decodeObject("payload", j.PayloadJSON)
	if err != nil {
		return err
	}
	j.Payload = m
	return nil
}

// ParseCompact is SplitCompact followed by DecodePayload: the form of a JWT.
func ParseCompact(token string, maxSize int) (*JWS, error) {
	j, err := SplitCompact(token, maxSize)
	if err != nil {
		return nil, err
	}
	if err := j.DecodePayload(); err != nil {
		return nil, err
	}
	return j, nil
}

// DecodePayloadUnverified returns the members of the payload of a compact
// JWS, with SplitCompact's size, segment, base64url and JSON rules for the
// payload, WITHOUT looking at the header or the signature: it is for tokens
// that are only read, never trusted (the Codex CLI reads its id token the
// same way).
func DecodePayloadUnverified(token string, maxSize int) (Members, error) {
	_, ps, _, err := segments(token, maxSize)
	if err != nil {
		return nil, err
	}
	pb, err := decodeSegment("payload", ps, false)
	if err != nil {
		return nil, err
	}
	return decodeObject("payload", pb)
}

// Header is what an Agent Identity JWT's header says.
type Header struct {
	Alg string
	Kid string
	// KidPresent is true if the header has a "kid" member of any value.
	KidPresent bool
}

// RefusedHeaders are JOSE header members that point at keys or change how
// the token must be processed. They are refused outright: keys come only
// from the configured JWKS, and no critical extension is understood.
var RefusedHeaders = [...]string{"crit", "jku", "x5u", "jwk", "x5c"}

// CheckHeader applies the header rules of an Agent Identity JWT: none of
// RefusedHeaders, a string "alg", and "kid" a string if present. Whether alg
// is acceptable and kid present is for the verifier to say (an unverified
// decode does not care).
func (j *JWS) CheckHeader() (Header, error) {
	for _, name := range RefusedHeaders {
		if _, ok := j.Header.Get(name); ok {
			return Header{}, malformed("header member %q is not accepted", name)
		}
	}
	var h Header
	rawAlg, _ := j.Header.Get("alg")
	alg, present, err := optString(rawAlg)
	if err != nil || !present {
		return Header{}, malformed("header has no string \"alg\"")
	}
	h.Alg = alg
	if raw, ok := j.Header.Get("kid"); ok {
		h.KidPresent = true
		if h.Kid, _, err = optString(raw); err != nil {
			return Header{}, malformed("header \"kid\" is not a string")
		}
	}
	return h, nil
}

func isNull(raw json.RawMessage) bool { return strictjson.IsNull(raw) }

// optString decodes a JSON string member; a missing or null member is "".
func optString(raw json.RawMessage) (s string, present bool, err error) {
	if raw == nil || isNull(raw) {
		return "", false, nil
	}
	s, ok := strictjson.String(raw)
	if !ok {
		return "", true, errors.New("not a string")
	}
	return s, true, nil
}

// A JWS holds the token's payload as signed (for an Agent Identity JWT, the
// agent's private key) and its signature, so it never prints: every fmt verb,
// as a value and as a pointer, and every log/slog handler show
// secret.Redacted.

// String returns secret.Redacted.
func (j JWS) String() string { return secret.Redacted }

// GoString returns secret.Redacted.
func (j JWS) GoString() string { return secret.Redacted }

// Format prints secret.Redacted under every verb and flag.
func (j JWS) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, secret.Redacted) }

// LogValue makes every log/slog handler print secret.Redacted.
func (j JWS) LogValue() slog.Value { return slog.StringValue(secret.Redacted) }

// MarshalJSON returns secret.Redacted as a JSON string (slog's JSON handler,
// a struct holding one marshalled by accident).
func (j JWS) MarshalJSON() ([]byte, error) { return []byte(`"` + secret.Redacted + `"`), nil }
