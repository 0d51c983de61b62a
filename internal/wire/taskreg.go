package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// MaxTaskRegistrationBody bounds the task registration body a verifier reads.
const MaxTaskRegistrationBody = 4 << 10

// TaskRegistrationBody returns the exact JSON body of a task registration
// request (docs/protocol.md#task-registration-request): {"timestamp":T,"signature":S}, where S is the standard
// base64 Ed25519 signature over "{agent_runtime_id}:{T}". at must pass
// SigningTime.
func TaskRegistrationBody(runtimeID string, at time.Time, key Key) ([]byte, error) {
	if err := ids.ValidateRuntimeID(runtimeID); err != nil {
		return nil, err
	}
	t, err := SigningTime(at)
	if err != nil {
		return nil, err
	}
	var tsBuf [TimestampLen]byte
	ts := AppendTimestamp(tsBuf[:0], t)
	payload := make([]byte, 0, len(runtimeID)+1+TimestampLen)
	payload = append(payload, runtimeID...)
	payload = append(payload, ':')
	payload = append(payload, ts...)
	var sig [ed25519.SignatureSize]byte
	if err := key.signTo(&sig, payload); err != nil {
		return nil, err
	}
	const head, mid, tail = `{"timestamp":"`, `","signature":"`, `"}`
	body := make([]byte, 0, len(head)+TimestampLen+len(mid)+SigB64Len+len(tail))
	body = append(body, head...)
	body = append(body, ts...)
	body = append(body, mid...)
	body = base64.StdEncoding.AppendEncode(body, sig[:])
	return append(body, tail...), nil
}

// VerifyTaskRegistration is the server side of the task registration body of
// docs/protocol.md#task-registration-request. body must be a JSON object (at most MaxTaskRegistrationBody bytes,
// no duplicate members) of exactly the two string members "timestamp" and
// "signature" (any order and insignificant whitespace are accepted); the
// timestamp must have the form YYYY-MM-DDTHH:MM:SSZ and pass CheckFresh; the
// signature must be canonical padded standard base64 of a 64-byte Ed25519
// signature by pub over "{agentRuntimeID}:{timestamp}". It returns the signed
// timestamp. Refusals wrap ErrInvalidAssertion and the reason's sentinel
// (ids.ErrInvalidRuntimeID, ErrInvalidKey, ErrImplausibleClock or ErrInvalidSkew
// for bad arguments).
func VerifyTaskRegistration(agentRuntimeID string, body []byte, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (time.Time, error) {
	if err := ids.ValidateRuntimeID(agentRuntimeID); err != nil {
		return time.Time{}, err
	}
	if err := CheckVerifyKey(pub); err != nil {
		return time.Time{}, err
	}
	if err := CheckClock(now); err != nil {
		return time.Time{}, err
	}
	if err := CheckSkew(maxSkew); err != nil {
		return time.Time{}, err
	}
	bad := func(what string) (time.Time, error) {
		return time.Time{}, malformed("task registration body: " + what)
	}
	if len(body) > MaxTaskRegistrationBody {
		return bad(fmt.Sprintf("longer than %d bytes", MaxTaskRegistrationBody))
	}
	members, err := strictjson.Object(body)
	if err != nil {
		return bad("not one strict JSON object")
	}
	if len(members) != 2 {
		return bad(`want exactly the members "timestamp" and "signature"`)
	}
	tsText, ok1 := strictjson.String(members["timestamp"])
	sigText, ok2 := strictjson.String(members["signature"])
	if !ok1 || !ok2 {
		return bad(`want exactly the string members "timestamp" and "signature"`)
	}
	ts, ok := ParseTimestamp(tsText)
	if !ok {
		return bad("the timestamp is not of the form YYYY-MM-DDTHH:MM:SSZ")
	}
	sig, err := b64.DecodeStd(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("the signature is not canonical standard base64 of 64 bytes")
	}
	if err := CheckFresh(ts, now, maxSkew); err != nil {
		return time.Time{}, err
	}
	payload := make([]byte, 0, len(agentRuntimeID)+1+TimestampLen)
	payload = append(payload, agentRuntimeID...)
	payload = append(payload, ':')
	payload = append(payload, tsText...)
	if !VerifySignature(pub, payload, sig) {
		return time.Time{}, fmt.Errorf("%w: %w: task registration body: the signature does not verify", ErrInvalidAssertion, ErrBadSignature)
	}
	return ts, nil
}
