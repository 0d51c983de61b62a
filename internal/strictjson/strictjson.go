// Package strictjson checks JSON text more strictly than encoding/json does
// before it is decoded: valid UTF-8, exactly one value, no duplicate object
// member names (compared after unescaping), no unpaired UTF-16 surrogate
// escapes, and a bounded nesting depth.
//
// encoding/json silently keeps the last of two duplicate members and replaces
// invalid UTF-8 and lone surrogate escapes ("\ud800") with U+FFFD; each lets
// two parsers disagree on one document, or a rewrite change a string, which a
// security library must not allow.
//
// A parser checks and decodes a document in one walk: DecodeObject hands the
// members to the caller as it checks them, and Members, Split and Object
// split the top-level object as they check it. No parser checks a document
// and then decodes it again.
package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects that Check accepts.
const MaxDepth = 256

// ErrDuplicateMember is wrapped by the error Check returns when an object
// holds the same member name twice.
var ErrDuplicateMember = errors.New("duplicate member")

// ErrInvalid is wrapped by every other error Check returns.
var ErrInvalid = errors.New("invalid JSON")

// Check returns nil if data is one well-formed JSON value in UTF-8 with no
// duplicate member names at any depth and no more than MaxDepth levels of
// nesting. The error never quotes member values, only member names.
func Check(data []byte) error {
	_, err := check(data, nil)
	return err
}

// CheckObject is Check for a document whose top-level value must be an object.
func CheckObject(data []byte) error {
	first, err := check(data, nil)
	if err != nil {
		return err
	}
	if first != '{' {
		return errNotObject
	}
	return nil
}

var errNotObject = fmt.Errorf("%w: the top-level value is not an object", ErrInvalid)

// check checks data and returns the first byte of its top-level value. If
// s is not nil, it scans with s (which may collect members).
func check(data []byte, s *scanner) (byte, error) {
	if !utf8.Valid(data) {
		return 0, fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	// Only a \u escape can be a surrogate; most documents have none.
	if bytes.Contains(data, []byte(`\u`)) {
		if err := CheckSurrogates(data); err != nil {
			return 0, err
		}
	}
	if s == nil {
		s = &scanner{}
	}
	s.data = data
	if s.collect {
		s.text = string(data)
	}
	s.skipSpace()
	if s.pos >= len(data) {
		return 0, fmt.Errorf("%w: empty document", ErrInvalid)
	}
	first := data[s.pos]
	if err := s.value(); err != nil {
		return 0, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return 0, fmt.Errorf("%w: data after the top-level value", ErrInvalid)
	}
	if s.collect && first != '{' {
		return first, errNotObject
	}
	return first, nil
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return "…"
}

// CheckSurrogates refuses a \uD800-\uDBFF escape not followed by a
// \uDC00-\uDFFF one, and a \uDC00-\uDFFF escape not preceded by one. It
// looks only inside strings; the syntax itself is checked by the decoder.
// Check and CheckObject include it; it is exported for parsers of their own
// that must agree with them.
func CheckSurrogates(data []byte) error {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+5 < len(data) && data[i+1] == 'u' {
				v, ok := hex4(data[i+2 : i+6])
				if !ok {
					continue // a syntax error the decoder reports
				}
				switch {
				case v >= 0xD800 && v <= 0xDBFF:
					if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						if w, ok := hex4(data[i+8 : i+12]); ok && w >= 0xDC00 && w <= 0xDFFF {
							i += 11
							continue
						}
					}
					return fmt.Errorf("%w: unpaired UTF-16 surrogate escape", ErrInvalid)
				case v >= 0xDC00 && v <= 0xDFFF:
					return fmt.Errorf("%w: unpaired UTF-16 surrogate escape", ErrInvalid)
				}
				i += 5
				continue
			}
			i++ // the escaped character
		}
	}
	return nil
}

func hex4(b []byte) (rune, bool) {
	var v rune
	for _, c := range b {
		v <<= 4
		switch {
		case '0' <= c && c <= '9':
			v |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			v |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			v |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}
