package gateway

import (
	"errors"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// Sentinel errors that callers branch on with errors.Is. They are the same
// values as the identically named errors of package identity, so a check
// works whichever package returned the error.
var (
	// ErrInvalidAssertion is wrapped by every refusal of an AgentAssertion
	// header or task registration body; one of ErrMalformedAssertion,
	// ErrBadSignature, ErrStaleAssertion or ErrImplausibleClock says why.
	ErrInvalidAssertion = wire.ErrInvalidAssertion
	// ErrMalformedAssertion means the header is not in its one canonical
	// form (scheme, base64url, envelope layout, ids, timestamp form, size).
	ErrMalformedAssertion = wire.ErrMalformedAssertion
	// ErrBadSignature means the signature does not verify for the agent's
	// key.
	ErrBadSignature = wire.ErrBadSignature
	// ErrStaleAssertion means the signed timestamp is too old or in the
	// future for the allowed window.
	ErrStaleAssertion = wire.ErrStaleAssertion
	// ErrImplausibleClock means the verifier's own clock reads a time outside
	// [MinPlausibleTime, MaxPlausibleTime): nothing is verified against it.
	ErrImplausibleClock = wire.ErrImplausibleClock
	// ErrInvalidSkew means a maximum clock skew outside (0, MaxSkewLimit].
	ErrInvalidSkew = wire.ErrInvalidSkew
	// ErrInvalidKey means an agent public key cannot be used to verify
	// (wrong length, not a point, small order, not ssh-ed25519).
	ErrInvalidKey = wire.ErrInvalidKey
	// ErrInvalidRuntimeID means an agent runtime id is outside the allowlist.
	ErrInvalidRuntimeID = wire.ErrInvalidRuntimeID
	// ErrInvalidTaskID means a task id is empty, too long, not UTF-8 or
	// holds a control character.
	ErrInvalidTaskID = wire.ErrInvalidTaskID

	// ErrUnknownAgent is what a Keys returns for a runtime id it does not
	// know.
	ErrUnknownAgent = errors.New("gateway: unknown agent")
)
