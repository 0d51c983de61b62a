package identity

import (
	"fmt"
	"unicode/utf8"
)

// MaxRuntimeIDLen is the longest agent runtime id ValidateRuntimeID accepts.
const MaxRuntimeIDLen = 256

// ValidateRuntimeID reports whether id can be used as an agent runtime id.
//
// Runtime ids are placed in URL paths and in the signed AgentAssertion
// payload, so only an allowlist is accepted: ASCII letters, digits, '-', '_',
// '.' and '~', 1 to MaxRuntimeIDLen characters, and neither "." nor "..".
// In particular '/', '?', '#', '%', ':' and control characters are refused,
// which keeps the colon-joined payload of spec §3 unambiguous. The error wraps
// ErrInvalidRuntimeID and never quotes the id.
func ValidateRuntimeID(id string) error { return validateRuntimeIDBytes(id) }

func validateRuntimeIDBytes[T string | []byte](id T) error {
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

// ValidateTaskID reports whether id can be used as a task id.
//
// The backend owns the format of task ids, so anything printable is accepted,
// including ':' (the fixed timestamp form keeps the signed payload
// unambiguous), quotes, backslashes and non-ASCII text. Refused, with an error
// that wraps ErrInvalidTaskID: the empty string, invalid UTF-8 and ASCII
// control characters (U+0000 to U+001F and U+007F).
func ValidateTaskID(id string) error { return validateTaskIDBytes(id) }

func validateTaskIDBytes[T string | []byte](id T) error {
	if len(id) == 0 {
		return fmt.Errorf("%w: it is empty", ErrInvalidTaskID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: byte %d is an ASCII control character", ErrInvalidTaskID, i)
		}
	}
	if !validUTF8(id) {
		return fmt.Errorf("%w: it is not valid UTF-8", ErrInvalidTaskID)
	}
	return nil
}

// validUTF8 reports whether s is valid UTF-8, without copying it.
func validUTF8[T string | []byte](s T) bool {
	switch v := any(s).(type) {
	case string:
		return utf8.ValidString(v)
	case []byte:
		return utf8.Valid(v)
	}
	return false
}
