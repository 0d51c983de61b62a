package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// scanner is the one JSON scanner of the module: a single pass over a
// document that checks the grammar of RFC 8259, the nesting depth and the
// uniqueness of member names (after unescaping), and can hand out the
// members of the top-level object. UTF-8 validity and surrogate escapes are
// checked by the caller before scanning (see check).
//
// It allocates only for member names that hold escapes, for the names of
// nested objects and for what it collects, which keeps the strict pre-pass
// of a JWT cheap next to golang-jwt's own parse. FuzzScanAgainstDecoder
// checks it against a reference built on encoding/json's Decoder.
type scanner struct {
	data  []byte
	pos   int
	depth int

	// When collecting, the members of the top-level object are stored in
	// topMap (if not nil) or appended to topList.
	collect bool
	topMap  map[string]json.RawMessage
	topList []Member
	// topSeen indexes topList by name once it is long.
	topSeen map[string]struct{}
	// text is data as a string when collecting, so that member names
	// without escapes are substrings of it rather than one allocation each.
	text string
	// spaced is set when whitespace is skipped; used to know whether a
	// collected value needs compacting.
	spaced bool
}

// linearMembers is the number of top-level members up to which duplicates
// are found by a linear search rather than a map.
const linearMembers = 32

func (s *scanner) syntaxError() error {
	if s.pos >= len(s.data) {
		return fmt.Errorf("%w: unexpected end of document", ErrInvalid)
	}
	return fmt.Errorf("%w: syntax error at byte %d", ErrInvalid, s.pos)
}

func (s *scanner) skipSpace() {
	start := s.pos
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			if s.pos != start {
				s.spaced = true
			}
			return
		}
	}
	if s.pos != start {
		s.spaced = true
	}
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) value() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	default:
		return s.syntaxError()
	}
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > MaxDepth {
		return fmt.Errorf("%w: nested deeper than %d levels", ErrInvalid, MaxDepth)
	}
	return nil
}

// object scans an object at s.pos. The members of the top-level object are
// collected if s.collect is set.
func (s *scanner) object() error {
	if err := s.enter(); err != nil {
		return err
	}
	top := s.collect && s.depth == 1
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	var seen map[string]struct{}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			if s.pos < len(s.data) {
				return fmt.Errorf("%w: object member name is not a string", ErrInvalid)
			}
			return s.syntaxError()
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		dup := false
		switch {
		case top && s.topMap != nil:
			_, dup = s.topMap[name]
		case top && s.topSeen != nil:
			_, dup = s.topSeen[name]
			s.topSeen[name] = struct{}{}
		case top:
			for _, m := range s.topList {
				if m.Name == name {
					dup = true
					break
				}
			}
			if len(s.topList) == linearMembers {
				// Past a few members a linear search would make a large
				// document quadratic.
				s.topSeen = make(map[string]struct{}, 2*linearMembers)
				for _, m := range s.topList {
					s.topSeen[m.Name] = struct{}{}
				}
				s.topSeen[name] = struct{}{}
			}
		default:
			if seen == nil {
				seen = make(map[string]struct{}, 8)
			}
			_, dup = seen[name]
			seen[name] = struct{}{}
		}
		if dup {
			return fmt.Errorf("%w: %w %q", ErrInvalid, ErrDuplicateMember, truncate(name))
		}
		s.skipSpace()
		if s.peek() != ':' {
			return s.syntaxError()
		}
		s.pos++
		s.skipSpace()
		start := s.pos
		if top {
			s.spaced = false
		}
		if err := s.value(); err != nil {
			return err
		}
		if top {
			raw := json.RawMessage(s.data[start:s.pos:s.pos])
			if s.spaced {
				var buf bytes.Buffer
				if err := json.Compact(&buf, raw); err != nil {
					return fmt.Errorf("%w: %v", ErrInvalid, err)
				}
				raw = buf.Bytes()
			}
			if s.topMap != nil {
				s.topMap[name] = raw
			} else {
				s.topList = append(s.topList, Member{Name: name, Raw: raw})
			}
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError()
		}
	}
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntaxError()
		}
	}
}

func (s *scanner) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if s.pos >= len(s.data) || s.data[s.pos] != lit[i] {
			return s.syntaxError()
		}
		s.pos++
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return s.syntaxError()
	}
	if s.peek() == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.syntaxError()
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if s.digits() == 0 {
			return s.syntaxError()
		}
	}
	return nil
}

// str scans a string at s.pos and reports whether it holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.data) {
				s.pos = len(s.data)
				return false, s.syntaxError()
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				for i := 2; i < 6; i++ {
					if s.pos+i >= len(s.data) {
						s.pos = len(s.data)
						return false, s.syntaxError()
					}
					if !isHex(s.data[s.pos+i]) {
						s.pos += i
						return false, s.syntaxError()
					}
				}
				s.pos += 6
			default:
				s.pos++
				return false, s.syntaxError()
			}
		case c < 0x20:
			return false, s.syntaxError()
		default:
			s.pos++
		}
	}
	return false, s.syntaxError()
}

// name scans a member name and returns it unescaped.
func (s *scanner) name() (string, error) {
	start := s.pos
	escaped, err := s.str()
	if err != nil {
		return "", err
	}
	raw := s.data[start:s.pos]
	if !escaped {
		if s.text != "" {
			return s.text[start+1 : s.pos-1], nil
		}
		return string(raw[1 : len(raw)-1]), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", fmt.Errorf("%w: syntax error at byte %d", ErrInvalid, start)
	}
	return name, nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
