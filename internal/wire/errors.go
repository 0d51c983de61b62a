package wire

import "errors"

// Sentinel errors shared by identity and identity/gateway (those of the id
// rules are in internal/ids). Each refusal wraps the most specific sentinel
// and, for assertion refusals, ErrInvalidAssertion as well.
var (
	// ErrInvalidKey means an agent private or public key could not be used.
	ErrInvalidKey = errors.New("identity: invalid agent key")

	// ErrInvalidAssertion means an AgentAssertion header or a task
	// registration body was refused. Every refusal of VerifyHeader and
	// VerifyTaskRegistration wraps it, and one of ErrMalformedAssertion,
	// ErrBadSignature, ErrStaleAssertion or ErrImplausibleClock says why.
	ErrInvalidAssertion = errors.New("identity: invalid AgentAssertion")

	// ErrMalformedAssertion means the header or body is not in the one
	// canonical form (encoding, layout, ids, timestamp form, size).
	ErrMalformedAssertion = errors.New("malformed")

	// ErrBadSignature means the signature does not verify for the key.
	ErrBadSignature = errors.New("bad signature")

	// ErrStaleAssertion means the signed timestamp is outside the allowed
	// window around the verifier's clock (too old or in the future).
	ErrStaleAssertion = errors.New("timestamp outside the allowed window")

	// ErrImplausibleClock means the verifier's own clock reads a time
	// outside [MinPlausibleTime, MaxPlausibleTime) (the zero time.Time of an
	// unset field, for example): nothing is verified against such a clock.
	ErrImplausibleClock = errors.New("identity: implausible verifier clock")

	// ErrInvalidSigningTime means a signer was asked to sign at a time
	// outside [MinPlausibleTime, MaxPlausibleTime): no verifier would accept
	// the result, so nothing is signed.
	ErrInvalidSigningTime = errors.New("identity: implausible signing time")

	// ErrInvalidSkew means a maximum clock skew is not in (0, MaxSkewLimit].
	ErrInvalidSkew = errors.New("identity: invalid maximum clock skew")
)
