package identity

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// PayloadFormat selects the bytes an AgentAssertion signature covers. The
// client side owns it; a verifier is told which forms it accepts in its own
// configuration (gateway.Verifier.JSONArrayPayload verifies the JSON array
// form).
type PayloadFormat int

const (
	// PayloadColon signs "{agent_runtime_id}:{task_id}:{timestamp}" (docs/protocol.md#signed-payload).
	// It is the zero value and the only form the ChatGPT backend verifies.
	PayloadColon PayloadFormat = iota
	// PayloadJSONArray signs the compact JSON array
	// ["<agent_runtime_id>","<task_id>","<timestamp>"]. It is collision-free
	// by construction, but the ChatGPT backend does not accept it today: use
	// it only with a verifier that opted in to it.
	PayloadJSONArray
)

// String returns "colon", "json-array", or "PayloadFormat(n)" for an
// unknown value.
func (f PayloadFormat) String() string {
	switch f {
	case PayloadColon:
		return "colon"
	case PayloadJSONArray:
		return "json-array"
	}
	return fmt.Sprintf("PayloadFormat(%d)", int(f))
}

// wireFormat converts f to the encoder's format; an unknown value stays
// unknown, so that the encoder refuses it.
func (f PayloadFormat) wireFormat() wire.PayloadFormat {
	switch f {
	case PayloadColon:
		return wire.PayloadColon
	case PayloadJSONArray:
		return wire.PayloadJSONArray
	}
	return wire.PayloadFormat(f)
}

// AuthorizationHeader returns the value of the Authorization header for one
// first-party request under taskID (docs/protocol.md#assertion-header): "AgentAssertion " followed by
// the unpadded base64url of the JSON envelope, with the colon payload the
// ChatGPT backend verifies. at is taken in UTC and truncated to whole seconds;
// make a fresh header for every request.
//
// taskID must pass ValidateTaskID (the error wraps ErrInvalidTaskID); a time
// outside [2000-01-01, 9000-01-01) is refused, so
// the Signer never makes a header that no verifier accepts. It is safe for
// concurrent use.
func (s *Signer) AuthorizationHeader(taskID string, at time.Time) (string, error) {
	return s.AuthorizationHeaderFormat(taskID, at, PayloadColon)
}

// AuthorizationHeaderFormat is AuthorizationHeader with a chosen payload
// format. The envelope is the same; only the signed bytes differ. Headers
// made with PayloadJSONArray are not accepted by the ChatGPT backend today.
func (s *Signer) AuthorizationHeaderFormat(taskID string, at time.Time, f PayloadFormat) (string, error) {
	return wire.AuthorizationHeader(s.runtimeID, taskID, at, f.wireFormat(), s.wireKey())
}

// sign is the Signer's wire.SignFunc.
func (s *Signer) sign(sig, msg []byte) error {
	k := s.key.Get()
	if k.ext != nil {
		return s.signExternal(k.ext, sig, msg)
	}
	copy(sig, ed25519.Sign(k.priv, msg))
	return nil
}

// wireKey is the key the wire encoders sign with: the private key itself
// when the Signer holds it (no allocation but the result), else sign.
func (s *Signer) wireKey() wire.Key {
	if k := s.key.Get(); k.ext == nil {
		return wire.Key{Priv: k.priv}
	}
	return wire.Key{Sign: s.sign}
}

// taskRegistrationBody returns the exact JSON body of a task registration
// request (docs/protocol.md#task-registration-request): {"timestamp":T,"signature":S}, where S is the standard
// base64 Ed25519 signature over "{agent_runtime_id}:{T}". at is taken in UTC
// and truncated to whole seconds, within the range AuthorizationHeader
// accepts. It is safe for concurrent use.
func (s *Signer) taskRegistrationBody(at time.Time) ([]byte, error) {
	return wire.TaskRegistrationBody(s.runtimeID, at, s.wireKey())
}
