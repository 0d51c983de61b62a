// Package ids holds the module's id rules: which agent runtime ids and task
// ids are accepted, and their length limits. It imports only the standard
// library, so every package that checks an id (the wire format, the client
// side, the verifying side and the Codex CLI's files) can use it without
// linking the others' dependencies.
package ids

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// The sentinels of the id rules. Package identity and identity/gateway export
// them under the same names.
var (
	// ErrInvalidRuntimeID means an agent runtime id is outside the allowlist:
	// ASCII letters, digits, '-', '_', '.', '~', 1 to 256 characters, and
	// neither "." nor "..".
	ErrInvalidRuntimeID = errors.New("identity: invalid agent runtime id")

	// ErrInvalidTaskID means a task id is empty, longer than MaxTaskIDLen
	// bytes, not UTF-8, or holds a control character (C0, DEL or C1).
	ErrInvalidTaskID = errors.New("identity: invalid task id")
)

// MaxRuntimeIDLen is the longest agent runtime id ValidateRuntimeID accepts.
const MaxRuntimeIDLen = 256

// MaxTaskIDLen is the longest task id ValidateTaskID accepts, in bytes of
// UTF-8 before any escaping. Control characters are refused, so the worst
// JSON escape doubles a byte ('"' or '\\'): with a runtime id of
// MaxRuntimeIDLen bytes the AgentAssertion header stays inside its limit
// (internal/wire.MaxAuthorizationHeaderLen) whatever the task id holds.
const MaxTaskIDLen = 4096

// ValidateRuntimeID reports whether id can be used as an agent runtime id.
//
// Runtime ids are placed in URL paths and in the signed AgentAssertion
// payload, so only an allowlist is accepted: ASCII letters, digits, '-', '_',
// '.' and '~', 1 to MaxRuntimeIDLen characters, and neither "." nor "..".
// In particular '/', '?', '#', '%', ':' and control characters are refused,
// which keeps the colon-joined payload unambiguous. The error wraps
// ErrInvalidRuntimeID and never quotes the id.
func ValidateRuntimeID[T string | []byte](id T) error {
	switch {
	case len(id) == 0:
		return fmt.Errorf("%w: it is empty", ErrInvalidRuntimeID)
	case len(id) > MaxRuntimeIDLen:
		return fmt.Errorf("%w: it is %d bytes long, more than %d", ErrInvalidRuntimeID, len(id), MaxRuntimeIDLen)
	case string(id) == "." || string(id) == "..":
		return fmt.Errorf("%w: it is a dot path segment", ErrInvalidRuntimeID)
	}
	for i := 0; i < len(id); i++ {
		if !runtimeIDByte(id[i]) {
			return fmt.Errorf("%w: byte %d is not an ASCII letter, digit, '-', '_', '.' or '~'", ErrInvalidRuntimeID, i)
		}
	}
	return nil
}

func runtimeIDByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	}
	return false
}

// ValidateTaskID reports whether id can be used as a task id. It is the one
// task-id rule of the module: registration answers in every spelling, opened
// sealed ids, a run's initial task, a stored record and the signer all apply
// it.
//
// The backend owns the format of task ids, so printable text is accepted,
// including ':' (the fixed timestamp form keeps the signed payload
// unambiguous), quotes, backslashes and non-ASCII text. Refused, with an error
// that wraps ErrInvalidTaskID and never quotes the id: the empty string, more
// than MaxTaskIDLen bytes, invalid UTF-8, and control characters: C0
// (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F), which a terminal
// printing the id would obey.
func ValidateTaskID[T string | []byte](id T) error {
	if len(id) == 0 {
		return fmt.Errorf("%w: it is empty", ErrInvalidTaskID)
	}
	if len(id) > MaxTaskIDLen {
		return fmt.Errorf("%w: it is %d bytes long, more than %d", ErrInvalidTaskID, len(id), MaxTaskIDLen)
	}
	for i := 0; i < len(id); {
		c := id[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: byte %d is a control character", ErrInvalidTaskID, i)
			}
			i++
			continue
		}
		r, n := decodeRune(id[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Errorf("%w: it is not valid UTF-8", ErrInvalidTaskID)
		}
		if r >= 0x80 && r <= 0x9f {
			return fmt.Errorf("%w: byte %d is a C1 control character", ErrInvalidTaskID, i)
		}
		i += n
	}
	return nil
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.RuneError, 0
}
