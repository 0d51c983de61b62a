package identity

import (
	"github.com/agentidentity/agentidentity/internal/ids"
)

// ValidateRuntimeID reports whether id can be used as an agent runtime id.
//
// Runtime ids are placed in URL paths and in the signed AgentAssertion
// payload, so only an allowlist is accepted: ASCII letters, digits, '-', '_',
// '.' and '~', 1 to 256 characters, and neither "." nor "..".
// In particular '/', '?', '#', '%', ':' and control characters are refused,
// which keeps the colon-joined payload of docs/protocol.md#signed-payload unambiguous. The error wraps
// ErrInvalidRuntimeID and never quotes the id.
func ValidateRuntimeID(id string) error { return ids.ValidateRuntimeID(id) }

// ValidateTaskID reports whether id can be used as a task id. It is the one
// rule applied wherever a task id enters: registration answers in every
// spelling, opened sealed ids, RunAuthOptions.TaskID, a stored record and the
// signer.
//
// The backend owns the format of task ids, so printable text is accepted,
// including ':' (the fixed timestamp form keeps the signed payload
// unambiguous), quotes, backslashes and non-ASCII text. Refused, with an error
// that wraps ErrInvalidTaskID: the empty string, more than 4096 bytes,
// invalid UTF-8, and control characters: C0 (U+0000-U+001F), DEL (U+007F) and
// C1 (U+0080-U+009F).
func ValidateTaskID(id string) error { return ids.ValidateTaskID(id) }
