package gateway

import (
	"errors"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// Sentinel errors that callers branch on with errors.Is. A refusal of a
// request wraps ErrInvalidAssertion and the sentinel of its reason; a failure
// of the server rather than the request (a lookup that failed, a clock or
// window that cannot verify anything) does not wrap ErrInvalidAssertion.
var (
	// ErrInvalidAssertion is wrapped by every refusal of an AgentAssertion
	// header, a request or a task registration body; one of
	// ErrNoAssertion, ErrMalformedAssertion, ErrBadSignature,
	// ErrStaleAssertion, ErrUnknownAgent, ErrAccountMismatch,
	// ErrFedRAMPMismatch or ErrTaskRefused says why.
	ErrInvalidAssertion = wire.ErrInvalidAssertion
	// ErrMalformedAssertion means the header or body is not in its one
	// canonical form (scheme, base64url, envelope layout, runtime and task
	// ids, timestamp form, size).
	ErrMalformedAssertion = wire.ErrMalformedAssertion
	// ErrBadSignature means the signature does not verify for the agent's
	// key.
	ErrBadSignature = wire.ErrBadSignature
	// ErrStaleAssertion means the signed timestamp is too old or in the
	// future for the allowed window.
	ErrStaleAssertion = wire.ErrStaleAssertion
	// ErrImplausibleClock means the verifier's own clock reads a time outside
	// [2000-01-01, 9000-01-01) UTC (the zero time.Time of an unset field, for
	// example): nothing is verified against it.
	ErrImplausibleClock = wire.ErrImplausibleClock
	// ErrInvalidSkew means a maximum clock skew that is not more than 0 and
	// at most 24 hours.
	ErrInvalidSkew = wire.ErrInvalidSkew

	// ErrUnknownAgent is what a Keys returns for a runtime id it does not
	// know. Verify wraps it together with ErrInvalidAssertion; Middleware
	// answers it exactly as it answers ErrBadSignature, so that no client
	// can learn which runtime ids exist.
	ErrUnknownAgent = errors.New("gateway: unknown agent")

	// ErrNoAssertion means the request has no Authorization header, or an
	// empty one. Verify wraps it together with ErrInvalidAssertion. More
	// than one Authorization header is ErrMalformedAssertion instead.
	ErrNoAssertion = errors.New("gateway: no Authorization header")

	// ErrAccountMismatch means a validly signed request of a known agent
	// did not present the account it is registered for (ChatGPT-Account-ID
	// missing, repeated or different). Middleware answers 403.
	ErrAccountMismatch = errors.New("gateway: ChatGPT-Account-ID does not match the agent's account")

	// ErrFedRAMPMismatch means a validly signed request of a known agent
	// whose X-OpenAI-Fedramp header does not match its registration: a
	// FedRAMP agent without exactly "X-OpenAI-Fedramp: true", or another
	// agent sending the header at all. Middleware answers 403.
	ErrFedRAMPMismatch = errors.New("gateway: X-OpenAI-Fedramp does not match the agent's registration")

	// ErrTaskRefused means the Verifier's Task hook refused the task (unknown
	// or ended). Verify wraps it together with ErrInvalidAssertion and the
	// hook's own error. Middleware answers 401.
	ErrTaskRefused = errors.New("gateway: task refused")

	// ErrKeysUnavailable means Keys failed with another error than
	// ErrUnknownAgent (a database down, say): nothing was decided about the
	// request. Verify wraps it together with the Keys error; Middleware
	// answers 503.
	ErrKeysUnavailable = errors.New("gateway: agent lookup failed")
)

// ErrInvalidKeysFile is wrapped by every refusal of a keys file's content
// (ParseKeys, NewFileKeys, FileKeys.Reload), a bad runtime id or public key
// on one of its lines among them.
var ErrInvalidKeysFile = errors.New("gateway: invalid keys file")
