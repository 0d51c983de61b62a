package wire

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
	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// MaxAuthorizationHeaderLen is the longest AgentAssertion header value a
// verifier reads; longer values are refused unread. Signers never make a
// longer one (ids.MaxRuntimeIDLen and ids.MaxTaskIDLen keep them inside it).
const MaxAuthorizationHeaderLen = 16 << 10

// Scheme starts an AgentAssertion Authorization header value.
const Scheme = "AgentAssertion "

// PayloadFormat selects the bytes an AgentAssertion signature covers.
type PayloadFormat int

const (
	// PayloadColon signs "{agent_runtime_id}:{task_id}:{timestamp}" (docs/protocol.md#signed-payload).
	// It is the zero value and the only form the ChatGPT backend verifies.
	// It is unambiguous because runtime ids cannot hold ':' and the timestamp
	// has one fixed 20-byte form.
	PayloadColon PayloadFormat = iota
	// PayloadJSONArray signs the compact JSON array
	// ["<agent_runtime_id>","<task_id>","<timestamp>"], strings escaped as in
	// the envelope. It is collision-free by construction, but the ChatGPT
	// backend does not accept it today: use it only with a verifier that
	// opted in to it.
	PayloadJSONArray
)

// String returns the name of the format.
func (f PayloadFormat) String() string {
	switch f {
	case PayloadColon:
		return "colon"
	case PayloadJSONArray:
		return "json-array"
	}
	return fmt.Sprintf("PayloadFormat(%d)", int(f))
}

func (f PayloadFormat) check() error {
	if f != PayloadColon && f != PayloadJSONArray {
		return fmt.Errorf("identity: unknown payload format %d", int(f))
	}
	return nil
}

const (
	// SigB64Len is the length of a 64-byte signature in padded std base64.
	SigB64Len = 88

	envKeyRuntime = `{"agent_runtime_id":"`
	envKeySig     = `","signature":"`
	envKeyTask    = `","task_id":"`
	envKeyTime    = `","timestamp":"`
	envEnd        = `"}`
	envFixedLen   = len(envKeyRuntime) + len(envKeySig) + len(envKeyTask) + len(envKeyTime) + len(envEnd)
)

// SignFunc writes the Ed25519 signature of msg into sig (64 bytes). It is how
// the encoder reaches a key it does not hold (a crypto.Signer).
type SignFunc func(sig, msg []byte) error

// Key is what the encoders sign with: an Ed25519 private key, or else Sign.
// With Priv the signature is made in place, so the encoders allocate only
// their result; Sign gets copies of its arguments, so the encoders' stack
// buffers never escape through it.
type Key struct {
	Priv ed25519.PrivateKey
	Sign SignFunc
}

func (k Key) signTo(sig *[ed25519.SignatureSize]byte, msg []byte) error {
	if k.Priv != nil {
		copy(sig[:], ed25519.Sign(k.Priv, msg))
		return nil
	}
	if k.Sign == nil {
		return fmt.Errorf("%w: no key to sign with", ErrInvalidKey)
	}
	out := make([]byte, ed25519.SignatureSize)
	if err := k.Sign(out, append([]byte(nil), msg...)); err != nil {
		return err
	}
	copy(sig[:], out)
	return nil
}

// payloadLen returns the length of the signed payload.
func payloadLen[T string | []byte](runtimeID, taskID T, f PayloadFormat) int {
	if f == PayloadJSONArray {
		return len(`["","",""]`) + len(runtimeID) + strictjson.StringLen(taskID) + TimestampLen
	}
	return len(runtimeID) + 1 + len(taskID) + 1 + TimestampLen
}

// AppendPayload appends the signed bytes. ts is the 20-byte timestamp.
func AppendPayload[T string | []byte](b []byte, runtimeID, taskID T, ts []byte, f PayloadFormat) []byte {
	if f == PayloadJSONArray {
		b = append(b, `["`...)
		b = strictjson.AppendString(b, runtimeID)
		b = append(b, `","`...)
		b = strictjson.AppendString(b, taskID)
		b = append(b, `","`...)
		b = append(b, ts...)
		return append(b, `"]`...)
	}
	b = append(b, runtimeID...)
	b = append(b, ':')
	b = append(b, taskID...)
	b = append(b, ':')
	return append(b, ts...)
}

// envelopeLen returns the length of the envelope JSON.
func envelopeLen[T string | []byte](runtimeID, taskID T) int {
	return envFixedLen + strictjson.StringLen(runtimeID) + SigB64Len + strictjson.StringLen(taskID) + TimestampLen
}

// AppendEnvelope appends the compact JSON envelope of docs/protocol.md#envelope, keys in
// sorted order. sig is the 64-byte signature.
func AppendEnvelope[T string | []byte](b []byte, runtimeID, taskID T, ts, sig []byte) []byte {
	b = append(b, envKeyRuntime...)
	b = strictjson.AppendString(b, runtimeID)
	b = append(b, envKeySig...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	b = append(b, envKeyTask...)
	b = strictjson.AppendString(b, taskID)
	b = append(b, envKeyTime...)
	b = append(b, ts...)
	return append(b, envEnd...)
}

// AuthorizationHeader builds the value of an AgentAssertion Authorization
// header (docs/protocol.md#assertion-header) for runtimeID and taskID at the time at, signing the
// payload of format f with key. It is the one encoder of the envelope.
//
// runtimeID must pass ids.ValidateRuntimeID, taskID ids.ValidateTaskID, and at
// SigningTime. The timestamp, payload, envelope and encoding are built in one
// scratch buffer, on the stack for ordinary ids; the only allocation is the
// returned string.
func AuthorizationHeader(runtimeID, taskID string, at time.Time, f PayloadFormat, key Key) (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	if err := ids.ValidateRuntimeID(runtimeID); err != nil {
		return "", err
	}
	if err := ids.ValidateTaskID(taskID); err != nil {
		return "", err
	}
	t, err := SigningTime(at)
	if err != nil {
		return "", err
	}
	pLen := payloadLen(runtimeID, taskID, f)
	eLen := envelopeLen(runtimeID, taskID)
	encLen := base64.RawURLEncoding.EncodedLen(eLen)

	var scratch [1024]byte
	need := TimestampLen + pLen + eLen + encLen
	buf := scratch[:0]
	if need > len(scratch) {
		buf = make([]byte, 0, need)
	}
	buf = AppendTimestamp(buf, t)
	ts := buf[:TimestampLen:TimestampLen]
	buf = AppendPayload(buf, runtimeID, taskID, ts, f)
	payload := buf[TimestampLen:]

	var sig [ed25519.SignatureSize]byte
	if err := key.signTo(&sig, payload); err != nil {
		return "", err
	}
	buf = AppendEnvelope(buf, runtimeID, taskID, ts, sig[:])
	envelope := buf[TimestampLen+pLen:]
	buf = base64.RawURLEncoding.AppendEncode(buf, envelope)

	var out strings.Builder
	out.Grow(len(Scheme) + encLen)
	out.WriteString(Scheme)
	out.Write(buf[TimestampLen+pLen+eLen:])
	return out.String(), nil
}

// Assertion is what a verified AgentAssertion header asserts.
type Assertion struct {
	AgentRuntimeID string
	TaskID         string
	Timestamp      time.Time
}

// Header is a decoded AgentAssertion header whose form has been checked but
// whose signature and freshness have not. Decode it with DecodeHeader, then
// call Verify with the key registered for RuntimeID.
type Header struct {
	// RuntimeID is the runtime id the header names (it passed
	// ids.ValidateRuntimeID).
	RuntimeID string
	// TaskID is the task id the header names (it passed ids.ValidateTaskID).
	TaskID string
	// Timestamp is the signed timestamp.
	Timestamp time.Time

	ts  [TimestampLen]byte
	sig [ed25519.SignatureSize]byte
}

func malformed(what string) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalidAssertion, ErrMalformedAssertion, what)
}

// DecodeHeader is the one parser of the envelope. It is strict: the value
// must be "AgentAssertion " and canonical unpadded base64url of exactly the
// bytes AuthorizationHeader writes: a compact JSON object of the four string
// members agent_runtime_id, signature, task_id and timestamp in that order,
// escaped as serde_json escapes (so no whitespace, no other order, no
// duplicates or other members, no needless \u escapes); ids that pass their
// rules; a timestamp of the form YYYY-MM-DDTHH:MM:SSZ; a signature in
// canonical padded standard base64 of 64 bytes. Every refusal wraps
// ErrInvalidAssertion and ErrMalformedAssertion, and never quotes the header.
func DecodeHeader(header string) (Header, error) {
	if len(header) > MaxAuthorizationHeaderLen {
		return Header{}, malformed(fmt.Sprintf("the header is longer than %d bytes", MaxAuthorizationHeaderLen))
	}
	token, ok := strings.CutPrefix(header, Scheme)
	if !ok {
		return Header{}, malformed(`the header does not start with "AgentAssertion "`)
	}
	// One buffer holds the decoded envelope and its canonical re-encoding.
	eMax := base64.RawURLEncoding.DecodedLen(len(token))
	var scratch [1024]byte
	buf := scratch[:]
	if 2*eMax > len(scratch) {
		buf = make([]byte, 2*eMax)
	}
	envelope, ok := b64.DecodeTo(base64.RawURLEncoding, buf[:eMax], token)
	if !ok {
		return Header{}, malformed("the token is not canonical unpadded base64url")
	}
	env, err := parseEnvelope(envelope)
	if err != nil {
		return Header{}, err
	}
	if err := ids.ValidateRuntimeID(env.runtimeID); err != nil {
		return Header{}, fmt.Errorf("%w: %w: %w", ErrInvalidAssertion, ErrMalformedAssertion, err)
	}
	if err := ids.ValidateTaskID(env.taskID); err != nil {
		return Header{}, fmt.Errorf("%w: %w: %w", ErrInvalidAssertion, ErrMalformedAssertion, err)
	}
	ts, ok := ParseTimestamp(env.timestamp)
	if !ok {
		return Header{}, malformed("the timestamp is not of the form YYYY-MM-DDTHH:MM:SSZ")
	}
	h := Header{Timestamp: ts}
	var sigBuf [ed25519.SignatureSize + 2]byte // DecodedLen of 88 bytes
	sig, ok := b64.DecodeTo(base64.StdEncoding, sigBuf[:], env.signature)
	if !ok || len(sig) != ed25519.SignatureSize {
		return Header{}, malformed("the signature is not canonical standard base64 of 64 bytes")
	}
	copy(h.sig[:], sig)
	// Re-encode with the signer's own encoder: only the one canonical
	// spelling is accepted.
	canon := AppendEnvelope(buf[len(envelope):len(envelope)], env.runtimeID, env.taskID, env.timestamp, h.sig[:])
	if !bytes.Equal(canon, envelope) {
		return Header{}, malformed("the envelope is not in canonical form")
	}
	copy(h.ts[:], env.timestamp)
	h.RuntimeID = string(env.runtimeID)
	h.TaskID = string(env.taskID)
	return h, nil
}

// Verify checks the decoded header against pub (32 bytes, not a small-order
// point: ErrInvalidKey otherwise), the verifier clock now (CheckClock) and the
// window maxSkew (CheckSkew, CheckFresh), and the signature over the payload
// of format f (ErrBadSignature). Every refusal of the header wraps
// ErrInvalidAssertion.
func (h *Header) Verify(pub ed25519.PublicKey, now time.Time, maxSkew time.Duration, f PayloadFormat) error {
	if err := f.check(); err != nil {
		return err
	}
	if err := CheckVerifyKey(pub); err != nil {
		return err
	}
	if err := CheckFresh(h.Timestamp, now, maxSkew); err != nil {
		return err
	}
	var scratch [512]byte
	buf := scratch[:0]
	if n := payloadLen(h.RuntimeID, h.TaskID, f); n > len(scratch) {
		buf = make([]byte, 0, n)
	}
	payload := AppendPayload(buf, h.RuntimeID, h.TaskID, h.ts[:], f)
	if !VerifySignature(pub, payload, h.sig[:]) {
		return fmt.Errorf("%w: %w: the signature does not verify", ErrInvalidAssertion, ErrBadSignature)
	}
	return nil
}

// Assertion returns what the header asserts.
func (h *Header) Assertion() Assertion {
	return Assertion{AgentRuntimeID: h.RuntimeID, TaskID: h.TaskID, Timestamp: h.Timestamp}
}

// VerifyHeader is DecodeHeader followed by Verify.
func VerifyHeader(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration, f PayloadFormat) (Assertion, error) {
	if err := f.check(); err != nil {
		return Assertion{}, err
	}
	// Refuse a bad key, clock or window before reading untrusted bytes.
	if err := CheckVerifyKey(pub); err != nil {
		return Assertion{}, err
	}
	if err := CheckClock(now); err != nil {
		return Assertion{}, err
	}
	if err := CheckSkew(maxSkew); err != nil {
		return Assertion{}, err
	}
	h, err := DecodeHeader(header)
	if err != nil {
		return Assertion{}, err
	}
	if err := h.Verify(pub, now, maxSkew, f); err != nil {
		return Assertion{}, err
	}
	return h.Assertion(), nil
}

// VerifySignature is the single Ed25519 verification of the module; the
// Wycheproof, RFC 8032 and CCTV vectors run through it.
func VerifySignature(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

type envelopeFields struct {
	runtimeID, signature, taskID, timestamp []byte
}

// parseEnvelope reads the four-member envelope in its one canonical layout.
// Any other layout (whitespace, another order, other or repeated members) is
// refused here; escapes are decoded and the caller re-encodes to compare.
//
// It is hand-written rather than a JSON decoder because only one byte layout
// is valid: a general decoder would accept spellings that must be refused,
// and comparing against the re-encoding is what makes the check exact.
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
	if p.failed == "" && p.i != len(p.b) {
		p.fail("trailing bytes after the JSON object")
	}
	if p.failed != "" {
		// The error is made here, from a string, and holds nothing of b:
		// b (a caller's stack buffer) stays off the heap.
		return envelopeFields{}, malformed("the envelope is not the compact JSON object " +
			`{"agent_runtime_id","signature","task_id","timestamp"}: ` + p.failed)
	}
	return e, nil
}

type envParser struct {
	b      []byte
	i      int
	failed string // what went wrong first; "" while parsing succeeds
}

func (p *envParser) fail(what string) {
	if p.failed == "" {
		p.failed = what
	}
}

// lit consumes the literal s. Member names and the quotes around values are
// part of the literals, so the cursor ends inside a string value.
func (p *envParser) lit(s string) {
	if p.failed != "" {
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
	if p.failed != "" {
		return nil
	}
	start := p.i
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
	if err := strictjson.CheckSurrogates(raw); err != nil {
		p.fail("a string holds an unpaired surrogate escape")
		return nil
	}
	var s string
	// A copy: json.Unmarshal keeps its input reachable, which would move
	// the caller's stack buffer to the heap on every header.
	if err := json.Unmarshal(bytes.Clone(raw), &s); err != nil {
		p.fail("a string has a bad escape")
		return nil
	}
	p.i = end
	return []byte(s)
}
