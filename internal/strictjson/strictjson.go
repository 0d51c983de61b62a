// Package strictjson checks JSON text more strictly than encoding/json does
// before it is decoded: valid UTF-8, exactly one value, no duplicate object
// member names (compared after unescaping), no unpaired UTF-16 surrogate
// escapes, and a bounded nesting depth.
//
// encoding/json silently keeps the last of two duplicate members and replaces
// invalid UTF-8 and lone surrogate escapes ("\ud800") with U+FFFD; each lets
// two parsers disagree on one document, or a rewrite change a string, which a
// security library must not allow.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	_, err := check(data)
	return err
}

// CheckObject is Check for a document whose top-level value must be an object.
func CheckObject(data []byte) error {
	first, err := check(data)
	if err != nil {
		return err
	}
	if first != '{' {
		return fmt.Errorf("%w: the top-level value is not an object", ErrInvalid)
	}
	return nil
}

type frame struct {
	object bool
	names  map[string]struct{}
	key    bool // the next token in an object is a member name
}

func check(data []byte) (byte, error) {
	if !utf8.Valid(data) {
		return 0, fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	if err := CheckSurrogates(data); err != nil {
		return 0, err
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return 0, fmt.Errorf("%w: empty document", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	started := false
	for {
		if started && len(stack) == 0 {
			break
		}
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("%w: unexpected end of document", ErrInvalid)
			}
			return 0, fmt.Errorf("%w: %s", ErrInvalid, syntaxMessage(err))
		}
		started = true
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, ok := tok.(string)
			if !ok {
				return 0, fmt.Errorf("%w: object member name is not a string", ErrInvalid)
			}
			if _, dup := top.names[name]; dup {
				return 0, fmt.Errorf("%w: %w %q", ErrInvalid, ErrDuplicateMember, truncate(name))
			}
			top.names[name] = struct{}{}
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return 0, fmt.Errorf("%w: nested deeper than %d levels", ErrInvalid, MaxDepth)
				}
				stack = append(stack, &frame{object: d == '{', names: map[string]struct{}{}, key: true})
			case ']':
				stack = stack[:len(stack)-1]
			}
		default:
			if len(stack) == 0 {
				// A scalar top-level value is complete.
				if _, err := dec.Token(); !errors.Is(err, io.EOF) {
					return 0, fmt.Errorf("%w: data after the top-level value", ErrInvalid)
				}
				return firstByte(trimmed), nil
			}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%w: data after the top-level value", ErrInvalid)
	}
	return firstByte(trimmed), nil
}

func firstByte(b []byte) byte { return b[0] }

func syntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "syntax error"
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
