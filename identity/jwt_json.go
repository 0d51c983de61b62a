package identity

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// JWT header and payload JSON is checked and split into its top-level
// members in a single pass: the same rules as internal/strictjson (valid
// UTF-8, one value, no duplicate member names after unescaping at any depth,
// at most 256 levels of nesting), without the per-token allocations of
// encoding/json's Decoder.Token, which made verification markedly slower
// than a bare golang-jwt parse. FuzzJWTJSONScan checks it against
// strictjson and encoding/json.

var (
	errJSONSyntax    = errors.New("not a JSON object")
	errJSONDuplicate = errors.New("duplicate member")
)

const jsonMaxDepth = 256

type jsonScanner struct {
	data  []byte
	pos   int
	depth int
}

// scanJSONObject returns the top-level members of a JSON object document by
// exact (unescaped) name, each value as its raw bytes.
func scanJSONObject(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) || strictjson.CheckSurrogates(data) != nil {
		return nil, errJSONSyntax
	}
	s := jsonScanner{data: data}
	s.skipSpace()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return nil, errJSONSyntax
	}
	top := make(map[string]json.RawMessage, 16)
	if err := s.object(top); err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return nil, errJSONSyntax
	}
	return top, nil
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// object scans an object at s.pos; if top is not nil, its members are
// stored there, otherwise only checked for duplicates.
func (s *jsonScanner) object(top map[string]json.RawMessage) error {
	s.depth++
	if s.depth > jsonMaxDepth {
		return errJSONSyntax
	}
	s.pos++ // '{'
	var seen map[string]struct{}
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			return errJSONSyntax
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		if top != nil {
			if _, dup := top[name]; dup {
				return errJSONDuplicate
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 4)
			}
			if _, dup := seen[name]; dup {
				return errJSONDuplicate
			}
			seen[name] = struct{}{}
		}
		s.skipSpace()
		if s.peek() != ':' {
			return errJSONSyntax
		}
		s.pos++
		s.skipSpace()
		start := s.pos
		if err := s.value(); err != nil {
			return err
		}
		if top != nil {
			top[name] = s.data[start:s.pos:s.pos]
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
			return errJSONSyntax
		}
	}
}

func (s *jsonScanner) array() error {
	s.depth++
	if s.depth > jsonMaxDepth {
		return errJSONSyntax
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
			return errJSONSyntax
		}
	}
}

func (s *jsonScanner) value() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(nil)
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
		return errJSONSyntax
	}
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return errJSONSyntax
	}
	s.pos += len(lit)
	return nil
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return errJSONSyntax
	}
	if s.peek() == '.' {
		s.pos++
		if s.digits() == 0 {
			return errJSONSyntax
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if s.digits() == 0 {
			return errJSONSyntax
		}
	}
	return nil
}

// str scans a string at s.pos and reports whether it holds escapes.
func (s *jsonScanner) str() (escaped bool, err error) {
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
				return false, errJSONSyntax
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) {
					return false, errJSONSyntax
				}
				for _, h := range s.data[s.pos+2 : s.pos+6] {
					if !isHex(h) {
						return false, errJSONSyntax
					}
				}
				s.pos += 6
			default:
				return false, errJSONSyntax
			}
		case c < 0x20:
			return false, errJSONSyntax
		default:
			s.pos++
		}
	}
	return false, errJSONSyntax
}

// name scans a member name and returns it unescaped.
func (s *jsonScanner) name() (string, error) {
	start := s.pos
	escaped, err := s.str()
	if err != nil {
		return "", err
	}
	raw := s.data[start:s.pos]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", errJSONSyntax
	}
	return name, nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
