package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// Limits of verification. Times are compared as instants, never as a
// time.Duration between two arbitrary times (which saturates at ±292 years).
const (
	// MaxAuthorizationHeaderLen is the longest header value read; longer
	// values are refused unread.
	MaxAuthorizationHeaderLen = wire.MaxAuthorizationHeaderLen
	// MaxSkewLimit is the largest maximum clock skew a verification accepts.
	MaxSkewLimit = wire.MaxSkewLimit
	// DefaultMaxSkew is the window a Verifier uses when none is set.
	DefaultMaxSkew = wire.DefaultMaxSkew
)

var (
	// MinPlausibleTime is the earliest verifier clock reading accepted.
	MinPlausibleTime = wire.MinPlausibleTime
	// MaxPlausibleTime is the first verifier clock reading refused.
	MaxPlausibleTime = wire.MaxPlausibleTime
)

// PayloadFormat selects the bytes an AgentAssertion signature covers. It is
// the same type as identity.PayloadFormat.
type PayloadFormat = wire.PayloadFormat

const (
	// PayloadColon is "{agent_runtime_id}:{task_id}:{timestamp}", the only
	// form the ChatGPT backend verifies, and the zero value.
	PayloadColon = wire.PayloadColon
	// PayloadJSONArray is the opt-in collision-free JSON array form.
	PayloadJSONArray = wire.PayloadJSONArray
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

// VerifyAuthorizationHeader is the server side of docs/protocol.md#assertion-header: it checks an
// Authorization header value made by identity.Signer.AuthorizationHeader and
// returns what it asserts. It is safe for concurrent use.
//
// It is strict: the value must be "AgentAssertion " and canonical unpadded
// base64url of exactly the bytes the signer writes: a compact JSON object of
// the four string members agent_runtime_id, signature, task_id and timestamp
// in that order, escaped as serde_json escapes (so no whitespace, no other
// order, no duplicates or other members, no needless \u escapes). The runtime
// id must pass the runtime-id allowlist and the task id the task-id rule; the
// signature must be canonical padded standard base64 of 64 bytes, valid for
// pub over the colon payload.
//
// Freshness is checked on instants: the timestamp must not be before
// now-maxSkew nor after now+maxSkew (now truncated to whole seconds). now
// must lie in [MinPlausibleTime, MaxPlausibleTime) (else ErrImplausibleClock:
// the zero time.Time of an unset field verifies nothing) and maxSkew in
// (0, MaxSkewLimit] (else ErrInvalidSkew). pub must be 32 bytes and not a
// small-order point (ErrInvalidKey). Every refusal of the header wraps
// ErrInvalidAssertion and one of ErrMalformedAssertion, ErrBadSignature or
// ErrStaleAssertion; errors never quote the header. The zero Assertion is
// returned with every error.
//
// It checks the runtime id the header names, not which runtime id pub belongs
// to: the caller picks pub for Assertion.AgentRuntimeID (a Verifier does), or
// compares the two afterwards.
func VerifyAuthorizationHeader(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (Assertion, error) {
	return VerifyAuthorizationHeaderFormat(header, pub, now, maxSkew, PayloadColon)
}

// VerifyAuthorizationHeaderFormat is VerifyAuthorizationHeader for a chosen
// payload format. A header signed in one format never verifies in the other.
func VerifyAuthorizationHeaderFormat(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration, f PayloadFormat) (Assertion, error) {
	a, err := wire.VerifyHeader(header, pub, now, maxSkew, f)
	if err != nil {
		return Assertion{}, err
	}
	return Assertion(a), nil
}

// VerifyTaskRegistration is the server side of the task registration body of
// docs/protocol.md#task-registration-request, for test servers and self-hosted backends. body must be a JSON
// object (at most 4 KiB, no duplicate members) of exactly the two string
// members "timestamp" and "signature" (any order and insignificant whitespace
// are accepted); the timestamp must have the form YYYY-MM-DDTHH:MM:SSZ and be
// fresh under the rules of VerifyAuthorizationHeader; the signature must be
// canonical padded standard base64 of a 64-byte Ed25519 signature by pub over
// "{agentRuntimeID}:{timestamp}". It returns the signed timestamp. Refusals
// wrap ErrInvalidAssertion (ErrInvalidRuntimeID, ErrInvalidKey,
// ErrImplausibleClock or ErrInvalidSkew for bad arguments). It is safe for
// concurrent use.
func VerifyTaskRegistration(agentRuntimeID string, body []byte, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (time.Time, error) {
	return wire.VerifyTaskRegistration(agentRuntimeID, body, pub, now, maxSkew)
}

// ParsePublicKeySSH parses an agent public key written as an OpenSSH
// authorized_keys line: exactly "ssh-ed25519 <base64>", optionally followed
// by one space and a comment (printable, no control characters).
//
// Refused with an error wrapping ErrInvalidKey: other key types, leading
// options, leading or trailing whitespace, several lines, non-canonical
// base64, a key blob with trailing bytes, a key that is not a valid Ed25519
// point or that has small order (such a key lets anyone forge signatures).
func ParsePublicKeySSH(line string) (ed25519.PublicKey, error) {
	return wire.ParsePublicKeySSH(line)
}

// SealTaskID is the server side of identity.Signer.OpenTaskID (docs/protocol.md#sealed-task-id), for
// test servers and self-hosted backends: it converts recipient, an agent's
// Ed25519 public key, to its X25519 public key (the birational
// Edwards-to-Montgomery map) and seals taskID to it with box.SealAnonymous
// and crypto/rand, in standard base64 with padding. Every call gives a
// different ciphertext.
//
// taskID must pass the task-id rule (ErrInvalidTaskID). A recipient that is
// not 32 bytes, not a valid point or of small order is refused with an error
// wrapping ErrInvalidKey.
func SealTaskID(recipient ed25519.PublicKey, taskID string) (string, error) {
	return wire.SealTaskID(rand.Reader, recipient, taskID)
}
