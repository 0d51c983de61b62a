package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// MaxAuthorizationHeaderLen is the longest AgentAssertion header value that
// VerifyAuthorizationHeader reads; longer values are refused unread.
const MaxAuthorizationHeaderLen = 16 << 10

// maxTaskRegistrationBody bounds the body VerifyTaskRegistration reads.
const maxTaskRegistrationBody = 4 << 10

// VerifyAuthorizationHeader is the server side of spec §3: it checks an
// Authorization header value made by AuthorizationHeader and returns what it
// asserts. It is safe for concurrent use.
//
// It is strict: the value must be "AgentAssertion " and canonical unpadded
// base64url of exactly the bytes AuthorizationHeader writes: a compact JSON
// object of the four string members agent_runtime_id, signature, task_id and
// timestamp in that order, escaped as serde_json escapes (so no whitespace,
// no other order, no duplicates or other members, no needless \u escapes).
// The runtime id must pass ValidateRuntimeID, the task id ValidateTaskID, the
// timestamp must have the form YYYY-MM-DDTHH:MM:SSZ and lie within maxSkew of
// now (now truncated to whole seconds; maxSkew must not be negative), the
// signature must be canonical padded standard base64 of 64 bytes, and it must
// be valid for pub over the colon payload. pub must be 32 bytes and not a
// small-order point (error wraps ErrInvalidKey). Every other refusal wraps
// ErrInvalidAssertion. The zero Assertion is returned with every error.
//
// It checks the runtime id the header names, not which runtime id pub
// belongs to: the caller picks pub for Assertion.AgentRuntimeID, or compares
// the two afterwards.
func VerifyAuthorizationHeader(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (Assertion, error) {
	return VerifyAuthorizationHeaderFormat(header, pub, now, maxSkew, PayloadColon)
}

// VerifyAuthorizationHeaderFormat is VerifyAuthorizationHeader for a chosen
// payload format. A header signed in one format never verifies in the other.
func VerifyAuthorizationHeaderFormat(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration, f PayloadFormat) (Assertion, error) {
	a, err := verifyAuthorizationHeader(header, pub, now, maxSkew, f)
	if err != nil {
		return Assertion{}, err
	}
	return a, nil
}

func invalidAssertion(what string) error {
	return fmt.Errorf("%w: %s", ErrInvalidAssertion, what)
}

func verifyAuthorizationHeader(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration, f PayloadFormat) (Assertion, error) {
	if f != PayloadColon && f != PayloadJSONArray {
		return Assertion{}, fmt.Errorf("identity: unknown payload format %d", int(f))
	}
	if maxSkew < 0 {
		return Assertion{}, fmt.Errorf("identity: negative maximum clock skew %v", maxSkew)
	}
	if err := checkVerifyKey(pub); err != nil {
		return Assertion{}, err
	}
	if len(header) > MaxAuthorizationHeaderLen {
		return Assertion{}, invalidAssertion(fmt.Sprintf("the header is longer than %d bytes", MaxAuthorizationHeaderLen))
	}
	token, ok := strings.CutPrefix(header, assertionScheme)
	if !ok {
		return Assertion{}, invalidAssertion(`the header does not start with "AgentAssertion "`)
	}
	// One buffer holds the decoded envelope, its canonical re-encoding and
	// the signed payload.
	eMax := base64.RawURLEncoding.DecodedLen(len(token))
	buf := make([]byte, eMax, 2*eMax+len(`["","",""]`)+timestampLen)
	envelope, ok := decodeCanonical(base64.RawURLEncoding, buf, token)
	if !ok {
		return Assertion{}, invalidAssertion("the token is not canonical unpadded base64url")
	}
	env, err := parseEnvelope(envelope)
	if err != nil {
		return Assertion{}, err
	}
	if err := validateRuntimeIDBytes(env.runtimeID); err != nil {
		return Assertion{}, fmt.Errorf("%w: %w", ErrInvalidAssertion, err)
	}
	if err := validateTaskIDBytes(env.taskID); err != nil {
		return Assertion{}, fmt.Errorf("%w: %w", ErrInvalidAssertion, err)
	}
	ts, ok := parseTimestamp(env.timestamp)
	if !ok {
		return Assertion{}, invalidAssertion("the timestamp is not of the form YYYY-MM-DDTHH:MM:SSZ")
	}
	var sigBuf [ed25519.SignatureSize + 2]byte
	sig, ok := decodeCanonical(base64.StdEncoding, sigBuf[:], env.signature)
	if !ok || len(sig) != ed25519.SignatureSize {
		return Assertion{}, invalidAssertion("the signature is not canonical standard base64 of 64 bytes")
	}

	// Re-encode with the signer's own encoder: only the one canonical
	// spelling is accepted.
	canon := appendEnvelope(buf[len(envelope):len(envelope)], env.runtimeID, env.taskID, env.timestamp, sig)
	if !bytes.Equal(canon, envelope) {
		return Assertion{}, invalidAssertion("the envelope is not in canonical form")
	}

	if err := checkSkew(ts, now, maxSkew); err != nil {
		return Assertion{}, err
	}

	payload := appendPayload(canon[len(canon):], env.runtimeID, env.taskID, env.timestamp, f)
	if !verifySignature(pub, payload, sig) {
		return Assertion{}, invalidAssertion("the signature does not verify")
	}
	return Assertion{AgentRuntimeID: string(env.runtimeID), TaskID: string(env.taskID), Timestamp: ts}, nil
}

// decodeCanonical decodes src into dst (which must be large enough) and
// reports whether src is the one canonical spelling in enc: no line breaks
// (which encoding/base64 skips) and, through Strict, zero padding bits and
// exact padding. A strict decode with no line breaks re-encodes identically.
func decodeCanonical[T string | []byte](enc *base64.Encoding, dst []byte, src T) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		if src[i] == '\r' || src[i] == '\n' {
			return nil, false
		}
	}
	if enc.DecodedLen(len(src)) > len(dst) {
		return nil, false
	}
	n, err := enc.Strict().Decode(dst, []byte(src))
	if err != nil {
		return nil, false
	}
	return dst[:n], true
}

// verifySignature is the single Ed25519 verification of this file; the
// Wycheproof, RFC 8032 and CCTV vectors run through it. pub must be 32 bytes.
func verifySignature(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

func checkSkew(ts, now time.Time, maxSkew time.Duration) error {
	d := now.Truncate(time.Second).Sub(ts)
	if d < 0 {
		d = -d
	}
	if d > maxSkew {
		return invalidAssertion(fmt.Sprintf("the timestamp is %v away from now, more than the allowed %v", d, maxSkew))
	}
	return nil
}

type envelopeFields struct {
	runtimeID, signature, taskID, timestamp []byte
}

// parseEnvelope reads the four-member envelope in its one canonical layout.
// Any other layout (whitespace, another order, other or repeated members) is
// refused here; escapes are decoded and the caller re-encodes to compare.
func parseEnvelope(b []byte) (envelopeFields, error) {
	var e envelopeFields
	p := envParser{b: b}
	p.lit(envKeyRuntime)
	e.runtimeID = p.str()
	p.lit(envKeySig)
	e.signature = p.str()
	p.lit(envKeyTask)
	e.taskID = p.str()
	p.lit(envKeyTime)
	e.timestamp = p.str()
	p.lit(envEnd)
	if p.err == nil && p.i != len(p.b) {
		p.fail("trailing bytes after the JSON object")
	}
	if p.err != nil {
		return envelopeFields{}, p.err
	}
	return e, nil
}

type envParser struct {
	b   []byte
	i   int
	err error
}

func (p *envParser) fail(what string) {
	if p.err == nil {
		p.err = invalidAssertion("the envelope is not the compact JSON object " +
			`{"agent_runtime_id","signature","task_id","timestamp"}: ` + what)
	}
}

// lit consumes the literal s. Member names and the quotes around values are
// part of the literals, so the cursor ends inside a string value.
func (p *envParser) lit(s string) {
	if p.err != nil {
		return
	}
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		p.fail(fmt.Sprintf("unexpected bytes at offset %d", p.i))
		return
	}
	p.i += len(s)
}

// str reads string content up to (not including) the closing quote. The
// result aliases the input when the string holds no escape.
func (p *envParser) str() []byte {
	if p.err != nil {
		return nil
	}
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			if !utf8.Valid(s) {
				p.fail("a string is not valid UTF-8")
				return nil
			}
			return s
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.fail("a string holds a raw control character")
			return nil
		}
		p.i++
	}
	if p.i >= len(p.b) {
		p.fail("a string is not terminated")
		return nil
	}
	// Slow path: decode with encoding/json, which handles every escape;
	// the caller's re-encoding refuses non-canonical spellings.
	end := p.i
	for end < len(p.b) {
		c := p.b[end]
		if c == '\\' {
			end += 2
			continue
		}
		if c == '"' {
			break
		}
		end++
	}
	if end >= len(p.b) {
		p.fail("a string is not terminated")
		return nil
	}
	raw := p.b[start-1 : end+1]
	if !utf8.Valid(raw) {
		p.fail("a string is not valid UTF-8")
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.fail("a string has a bad escape")
		return nil
	}
	p.i = end
	return []byte(s)
}

// VerifyTaskRegistration is the server side of the task registration body of
// spec §4, for test servers and self-hosted backends. body must be a JSON
// object (at most 4 KiB, no duplicate members) of exactly the two string
// members "timestamp" and "signature" (any order and insignificant
// whitespace are accepted); the timestamp must have the form
// YYYY-MM-DDTHH:MM:SSZ and lie within maxSkew of now; the signature must be
// canonical padded standard base64 of a 64-byte Ed25519 signature by pub over
// "{agentRuntimeID}:{timestamp}". It returns the signed timestamp. Refusals
// wrap ErrInvalidAssertion (ErrInvalidRuntimeID or ErrInvalidKey for a bad
// runtime id or key). It is safe for concurrent use.
func VerifyTaskRegistration(agentRuntimeID string, body []byte, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (time.Time, error) {
	if err := ValidateRuntimeID(agentRuntimeID); err != nil {
		return time.Time{}, err
	}
	if maxSkew < 0 {
		return time.Time{}, fmt.Errorf("identity: negative maximum clock skew %v", maxSkew)
	}
	if err := checkVerifyKey(pub); err != nil {
		return time.Time{}, err
	}
	bad := func(what string) (time.Time, error) {
		return time.Time{}, invalidAssertion("task registration body: " + what)
	}
	if len(body) > maxTaskRegistrationBody {
		return bad(fmt.Sprintf("longer than %d bytes", maxTaskRegistrationBody))
	}
	if err := strictjson.CheckObject(body); err != nil {
		return bad("not one strict JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return bad("not a JSON object")
	}
	if len(members) != 2 {
		return bad(`want exactly the members "timestamp" and "signature"`)
	}
	str := func(name string) (string, bool) {
		raw, ok := members[name]
		if !ok || len(raw) == 0 || raw[0] != '"' {
			return "", false
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	}
	tsText, ok1 := str("timestamp")
	sigText, ok2 := str("signature")
	if !ok1 || !ok2 {
		return bad(`want exactly the string members "timestamp" and "signature"`)
	}
	ts, ok := parseTimestamp(tsText)
	if !ok {
		return bad("the timestamp is not of the form YYYY-MM-DDTHH:MM:SSZ")
	}
	sig, err := b64.DecodeStd(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("the signature is not canonical standard base64 of 64 bytes")
	}
	if err := checkSkew(ts, now, maxSkew); err != nil {
		return time.Time{}, err
	}
	payload := make([]byte, 0, len(agentRuntimeID)+1+timestampLen)
	payload = append(payload, agentRuntimeID...)
	payload = append(payload, ':')
	payload = append(payload, tsText...)
	if !verifySignature(pub, payload, sig) {
		return bad("the signature does not verify")
	}
	return ts, nil
}
