package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Assertion is the content of a verified AgentAssertion header.
type Assertion struct {
	// AgentRuntimeID is the agent runtime id that signed.
	AgentRuntimeID string
	// TaskID is the backend-owned task id the request runs under.
	TaskID string
	// Timestamp is the signing time, UTC, whole seconds.
	Timestamp time.Time
}

// PayloadFormat selects the bytes an AgentAssertion signature covers.
type PayloadFormat int

const (
	// PayloadColon signs "{agent_runtime_id}:{task_id}:{timestamp}" (spec §3).
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

const (
	// assertionScheme starts an AgentAssertion Authorization header value.
	assertionScheme = "AgentAssertion "
	// timestampLen is the length of "YYYY-MM-DDTHH:MM:SSZ".
	timestampLen = 20
	// sigB64Len is the length of a 64-byte signature in padded std base64.
	sigB64Len = 88

	envKeyRuntime = `{"agent_runtime_id":"`
	envKeySig     = `","signature":"`
	envKeyTask    = `","task_id":"`
	envKeyTime    = `","timestamp":"`
	envEnd        = `"}`
	envFixedLen   = len(envKeyRuntime) + len(envKeySig) + len(envKeyTask) + len(envKeyTime) + len(envEnd)
)

// appendTimestamp appends t (already UTC, whole seconds) as
// YYYY-MM-DDTHH:MM:SSZ. The year must be in 0..9999.
func appendTimestamp(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), 'Z')
	return b
}

// signingTime converts at to the signed form: UTC, truncated to whole seconds,
// year 0..9999.
func signingTime(at time.Time) (time.Time, error) {
	t := at.UTC().Truncate(time.Second)
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("identity: the signing time year %d is outside 0000-9999", y)
	}
	return t, nil
}

// parseTimestamp parses exactly YYYY-MM-DDTHH:MM:SSZ and refuses anything
// that does not format back to the same bytes (out-of-range fields).
func parseTimestamp[T string | []byte](s T) (time.Time, bool) {
	if len(s) != timestampLen || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	var buf [timestampLen]byte
	if string(appendTimestamp(buf[:0], t)) != string(s) {
		return time.Time{}, false
	}
	return t, true
}

// jsonStringLen returns the length of s escaped as serde_json does, without
// the quotes.
func jsonStringLen[T string | []byte](s T) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}

// appendJSONString appends s escaped as serde_json does (without quotes):
// only '"', '\\' and U+0000..U+001F are escaped, with the short forms
// \b \t \n \f \r and \u00xx in lower-case hex for the rest. Everything else,
// including '<', '>', '&', U+2028 and U+2029, is written as-is.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// payloadLen returns the length of the signed payload.
func payloadLen[T string | []byte](runtimeID, taskID T, f PayloadFormat) int {
	if f == PayloadJSONArray {
		return len(`["","",""]`) + len(runtimeID) + jsonStringLen(taskID) + timestampLen
	}
	return len(runtimeID) + 1 + len(taskID) + 1 + timestampLen
}

// appendPayload appends the signed bytes. ts is the 20-byte timestamp.
func appendPayload[T string | []byte](b []byte, runtimeID, taskID T, ts []byte, f PayloadFormat) []byte {
	if f == PayloadJSONArray {
		b = append(b, `["`...)
		b = appendJSONString(b, runtimeID)
		b = append(b, `","`...)
		b = appendJSONString(b, taskID)
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
	return envFixedLen + jsonStringLen(runtimeID) + sigB64Len + jsonStringLen(taskID) + timestampLen
}

// appendEnvelope appends the compact JSON envelope of spec §3 step 4, keys in
// sorted order. sig is the 64-byte signature.
func appendEnvelope[T string | []byte](b []byte, runtimeID, taskID T, ts, sig []byte) []byte {
	b = append(b, envKeyRuntime...)
	b = appendJSONString(b, runtimeID)
	b = append(b, envKeySig...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	b = append(b, envKeyTask...)
	b = appendJSONString(b, taskID)
	b = append(b, envKeyTime...)
	b = append(b, ts...)
	return append(b, envEnd...)
}

// AuthorizationHeader returns the value of the Authorization header for one
// first-party request under taskID (spec §3): "AgentAssertion " followed by
// the unpadded base64url of the JSON envelope, with the colon payload the
// ChatGPT backend verifies. at is taken in UTC and truncated to whole seconds;
// make a fresh header for every request.
//
// taskID must pass ValidateTaskID (the error wraps ErrInvalidTaskID); a year
// outside 0000-9999 is an error. It is safe for concurrent use.
func (s *Signer) AuthorizationHeader(taskID string, at time.Time) (string, error) {
	return s.AuthorizationHeaderFormat(taskID, at, PayloadColon)
}

// AuthorizationHeaderFormat is AuthorizationHeader with a chosen payload
// format. The envelope is the same; only the signed bytes differ. Headers
// made with PayloadJSONArray are not accepted by the ChatGPT backend today.
func (s *Signer) AuthorizationHeaderFormat(taskID string, at time.Time, f PayloadFormat) (string, error) {
	if f != PayloadColon && f != PayloadJSONArray {
		return "", fmt.Errorf("identity: unknown payload format %d", int(f))
	}
	if err := ValidateTaskID(taskID); err != nil {
		return "", err
	}
	t, err := signingTime(at)
	if err != nil {
		return "", err
	}
	pLen := payloadLen(s.runtimeID, taskID, f)
	eLen := envelopeLen(s.runtimeID, taskID)
	encLen := base64.RawURLEncoding.EncodedLen(eLen)

	// The timestamp, payload, envelope and its encoding are built in one
	// scratch buffer, on the stack for ordinary ids; the only allocation is
	// the returned string.
	var scratch [1024]byte
	need := timestampLen + pLen + eLen + encLen
	buf := scratch[:0]
	if need > len(scratch) {
		buf = make([]byte, 0, need)
	}

	buf = appendTimestamp(buf, t)
	ts := buf[:timestampLen:timestampLen]
	buf = appendPayload(buf, s.runtimeID, taskID, ts, f)
	payload := buf[timestampLen:]

	var sig [ed25519.SignatureSize]byte
	signTo(sig[:], s.priv, payload)

	buf = appendEnvelope(buf, s.runtimeID, taskID, ts, sig[:])
	envelope := buf[timestampLen+pLen:]
	buf = base64.RawURLEncoding.AppendEncode(buf, envelope)

	var out strings.Builder
	out.Grow(len(assertionScheme) + encLen)
	out.WriteString(assertionScheme)
	out.Write(buf[timestampLen+pLen+eLen:])
	return out.String(), nil
}

// signTo writes the Ed25519 signature of msg into sig.
func signTo(sig []byte, priv ed25519.PrivateKey, msg []byte) {
	copy(sig, ed25519.Sign(priv, msg))
}

// TaskRegistrationBody returns the exact JSON body of a task registration
// request (spec §4): {"timestamp":T,"signature":S}, where S is the standard
// base64 Ed25519 signature over "{agent_runtime_id}:{T}". at is taken in UTC
// and truncated to whole seconds. It is safe for concurrent use.
func (s *Signer) TaskRegistrationBody(at time.Time) ([]byte, error) {
	t, err := signingTime(at)
	if err != nil {
		return nil, err
	}
	var tsBuf [timestampLen]byte
	ts := appendTimestamp(tsBuf[:0], t)
	payload := make([]byte, 0, len(s.runtimeID)+1+timestampLen)
	payload = append(payload, s.runtimeID...)
	payload = append(payload, ':')
	payload = append(payload, ts...)
	sig := ed25519.Sign(s.priv, payload)

	const head, mid, tail = `{"timestamp":"`, `","signature":"`, `"}`
	body := make([]byte, 0, len(head)+timestampLen+len(mid)+sigB64Len+len(tail))
	body = append(body, head...)
	body = append(body, ts...)
	body = append(body, mid...)
	body = base64.StdEncoding.AppendEncode(body, sig)
	return append(body, tail...), nil
}
