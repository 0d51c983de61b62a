package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrWrongType is wrapped by the error a Decoder method returns for a value
// of another type than the one asked for. The value is not consumed: the
// caller may read it otherwise or leave it (it is then checked and skipped).
var ErrWrongType = errors.New("wrong type")

// errReadTwice is a mistake of the caller: one value read twice.
var errReadTwice = errors.New("strictjson: the value was already read")

// Decoder decodes one JSON document in the same single pass that checks it
// (see DecodeObject): the strict check and the decoding are one walk, so a
// parser never scans a document twice (CheckObject then encoding/json).
//
// A Decoder is handed to the callbacks of DecodeObject, Object and Array,
// and its methods read the value of the current member or element: at most
// one method that consumes it (String, OptionalString, Bool, Null, Object,
// Array) per
// value; a value the callback leaves is checked and skipped.
//
// It is hand-written, not encoding/json, because encoding/json keeps the
// last of two duplicate members, matches member names case-insensitively
// and replaces invalid UTF-8 and lone surrogate escapes with U+FFFD.
type Decoder struct {
	s scanner
	// strict is the first strictness error: it ends the walk.
	strict error
	// err is the first error a callback returned: from then on no callback
	// is called and the rest of the document is only checked.
	err error
	// pending is set while the current value has not been read.
	pending bool
}

// DecodeObject checks data exactly as CheckObject does and, in the same
// pass, calls member for each member of the top-level object, in document
// order, with the member's unescaped name. member may read the value with
// the methods of d; a value it does not read is checked and skipped, so
// unknown members are ignored.
//
// When data breaks a rule of Check anywhere, DecodeObject returns that error
// (it wraps ErrInvalid), even if a callback failed first: the document is
// checked to its end, so the verdict on a malformed document does not depend
// on where decoding stopped. Otherwise it returns the first error a callback
// returned (after which no callback is called), or nil.
func DecodeObject(data []byte, member func(d *Decoder, name string) error) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	// Only a \u escape can be a surrogate; most documents have none.
	if bytes.Contains(data, []byte(`\u`)) {
		if err := CheckSurrogates(data); err != nil {
			return err
		}
	}
	d := &Decoder{}
	s := &d.s
	s.data, s.text = data, string(data)
	s.skipSpace()
	if s.pos >= len(data) {
		return fmt.Errorf("%w: empty document", ErrInvalid)
	}
	if data[s.pos] != '{' {
		// The same verdict as CheckObject: a syntax error first.
		if err := s.value(); err != nil {
			return err
		}
		if s.skipSpace(); s.pos != len(data) {
			return fmt.Errorf("%w: data after the top-level value", ErrInvalid)
		}
		return errNotObject
	}
	d.pending = true
	_ = d.Object(func(name string) error { return member(d, name) })
	if d.strict != nil {
		return d.strict
	}
	if s.skipSpace(); s.pos != len(data) {
		return fmt.Errorf("%w: data after the top-level value", ErrInvalid)
	}
	return d.err
}

// fail records a strictness error and returns it.
func (d *Decoder) fail(err error) error {
	if d.strict == nil {
		d.strict = err
	}
	return d.strict
}

// start reports whether the current value may be read as kind (its first
// byte is first), and the error to return otherwise.
func (d *Decoder) start(first byte, want string) error {
	switch {
	case d.strict != nil:
		return d.strict
	case !d.pending:
		return errReadTwice
	case d.s.peek() != first:
		return fmt.Errorf("%w: %s, want %s", ErrWrongType, d.Kind(), want)
	}
	d.pending = false
	return nil
}

// Kind names the type of the current value as Kind does ("a string", "an
// object", "an array", "a boolean", "null", "a number"), or "nothing" when
// it was read.
func (d *Decoder) Kind() string {
	if !d.pending {
		return "nothing"
	}
	switch c := d.s.peek(); c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// String reads the current value as a string and returns it unescaped.
func (d *Decoder) String() (string, error) {
	if err := d.start('"', "a string"); err != nil {
		return "", err
	}
	s := &d.s
	start := s.pos
	escaped, err := s.str()
	if err != nil {
		return "", d.fail(err)
	}
	if !escaped {
		return s.text[start+1 : s.pos-1], nil
	}
	// One string token, already checked (UTF-8, surrogates, escapes).
	var v string
	if err := json.Unmarshal(s.data[start:s.pos], &v); err != nil {
		return "", d.fail(fmt.Errorf("%w: syntax error at byte %d", ErrInvalid, start))
	}
	return v, nil
}

// OptionalString reads the current value as a string or null: null gives
// nil.
func (d *Decoder) OptionalString() (*string, error) {
	if d.Null() {
		return nil, nil
	}
	v, err := d.String()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Bool reads the current value as true or false.
func (d *Decoder) Bool() (bool, error) {
	switch c := d.s.peek(); {
	case d.strict != nil || !d.pending || (c != 't' && c != 'f'):
		return false, d.start('t', "a boolean")
	case c == 't':
		d.pending = false
		return true, d.literal("true")
	default:
		d.pending = false
		return false, d.literal("false")
	}
}

// Null reads the current value if it is null and reports whether it was.
func (d *Decoder) Null() bool {
	if d.strict != nil || !d.pending || d.s.peek() != 'n' {
		return false
	}
	d.pending = false
	return d.literal("null") == nil
}

func (d *Decoder) literal(lit string) error {
	if err := d.s.literal(lit); err != nil {
		return d.fail(err)
	}
	return nil
}

// Object reads the current value as an object, calling member for each of
// its members in document order with the unescaped name; member reads the
// value with the methods of d (or leaves it). Duplicate names are refused as
// by Check. It returns the first error of a callback, from then on calling
// none, or a strictness error (which ends the walk).
func (d *Decoder) Object(member func(name string) error) error {
	if err := d.start('{', "an object"); err != nil {
		return err
	}
	s := &d.s
	if err := s.enter(); err != nil {
		return d.fail(err)
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return d.err
	}
	// Names are checked for duplicates linearly while few: most objects
	// have a handful of members.
	var (
		names []string
		seen  map[string]struct{}
	)
	for {
		s.skipSpace()
		if s.peek() != '"' {
			if s.pos < len(s.data) {
				return d.fail(fmt.Errorf("%w: object member name is not a string", ErrInvalid))
			}
			return d.fail(s.syntaxError())
		}
		name, err := s.name()
		if err != nil {
			return d.fail(err)
		}
		dup := false
		if seen != nil {
			_, dup = seen[name]
			seen[name] = struct{}{}
		} else {
			for _, n := range names {
				if n == name {
					dup = true
					break
				}
			}
			names = append(names, name)
			if len(names) > linearMembers {
				seen = make(map[string]struct{}, 2*len(names))
				for _, n := range names {
					seen[n] = struct{}{}
				}
			}
		}
		if dup {
			return d.fail(fmt.Errorf("%w: %w %q", ErrInvalid, ErrDuplicateMember, truncate(name)))
		}
		s.skipSpace()
		if s.peek() != ':' {
			return d.fail(s.syntaxError())
		}
		s.pos++
		s.skipSpace()
		if err := d.each(func() error { return member(name) }); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return d.err
		default:
			return d.fail(s.syntaxError())
		}
	}
}

// Array reads the current value as an array, calling element for each of
// its elements in order; element reads the value with the methods of d (or
// leaves it). Errors are as for Object.
func (d *Decoder) Array(element func() error) error {
	if err := d.start('[', "an array"); err != nil {
		return err
	}
	s := &d.s
	if err := s.enter(); err != nil {
		return d.fail(err)
	}
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return d.err
	}
	for {
		s.skipSpace()
		if err := d.each(element); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return d.err
		default:
			return d.fail(s.syntaxError())
		}
	}
}

// each hands the value at the current position to fn (unless a callback
// already failed) and checks and skips it if fn left it. It returns only
// strictness errors.
func (d *Decoder) each(fn func() error) error {
	d.pending = true
	if d.err == nil {
		if err := fn(); err != nil && d.err == nil {
			d.err = err
		}
	}
	if d.strict != nil {
		return d.strict
	}
	if d.pending {
		d.pending = false
		if err := d.s.value(); err != nil {
			return d.fail(err)
		}
	}
	return nil
}
