package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// MaxAuthorizationHeaderLen is the longest Authorization header value, in
// bytes, that the verifying functions read; a longer one is refused unread
// (ErrMalformedAssertion).
const MaxAuthorizationHeaderLen = wire.MaxAuthorizationHeaderLen

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
// Freshness is checked on instants, never on a time.Duration between two
// arbitrary times (which saturates at ±292 years): the timestamp must not be
// before now-maxSkew nor after now+maxSkew (now truncated to whole seconds).
// Every refusal of the header wraps ErrInvalidAssertion and one of
// ErrMalformedAssertion, ErrBadSignature or ErrStaleAssertion; errors never
// quote the header. Arguments that cannot verify anything are errors that do
// not wrap ErrInvalidAssertion: now outside [2000-01-01, 9000-01-01) UTC
// (ErrImplausibleClock: the zero time.Time of an unset field verifies
// nothing), maxSkew not in (0, 24h] (ErrInvalidSkew), pub not 32 bytes or a
// small-order point. The zero Assertion is returned with every error.
//
// It checks the runtime id the header names, not which runtime id pub belongs
// to: the caller picks pub for Assertion.AgentRuntimeID (a Verifier does), or
// compares the two afterwards.
func VerifyAuthorizationHeader(header string, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (Assertion, error) {
	a, err := wire.VerifyHeader(header, pub, now, maxSkew, wire.PayloadColon)
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
// of the body wrap ErrInvalidAssertion and ErrMalformedAssertion,
// ErrBadSignature or ErrStaleAssertion; bad arguments are errors that do not
// (an agentRuntimeID outside the runtime-id allowlist, an unusable pub, and
// now and maxSkew as for VerifyAuthorizationHeader). It is safe for
// concurrent use.
func VerifyTaskRegistration(agentRuntimeID string, body []byte, pub ed25519.PublicKey, now time.Time, maxSkew time.Duration) (time.Time, error) {
	return wire.VerifyTaskRegistration(agentRuntimeID, body, pub, now, maxSkew)
}

// ParsePublicKeySSH parses an agent public key written as an OpenSSH
// authorized_keys line: exactly "ssh-ed25519 <base64>", optionally followed
// by one space and a comment (printable, no control characters).
//
// Refused, with an error that names the rule the line breaks: other key
// types, leading options, leading or trailing whitespace, several lines,
// non-canonical base64, a key blob with trailing bytes, a key that is not a
// valid Ed25519 point or that has small order (such a key lets anyone forge
// signatures).
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
// Refused with an error: a taskID that the task-id rule refuses (empty,
// longer than 4096 bytes, not UTF-8, or holding a control character), a
// recipient that is not 32 bytes, not a valid point or of small order.
func SealTaskID(recipient ed25519.PublicKey, taskID string) (string, error) {
	return wire.SealTaskID(rand.Reader, recipient, taskID)
}
