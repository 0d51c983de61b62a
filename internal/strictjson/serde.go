package strictjson

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// StringLen returns the length of s escaped by AppendString.
func StringLen[T string | []byte](s T) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}

// AppendString appends s escaped as the Codex CLI's serializer (serde_json)
// escapes it, without the quotes: only '"', '\\' and U+0000..U+001F are
// escaped, with the short forms \b \t \n \f \r and \u00xx in lower-case hex
// for the rest. Everything else, including '<', '>', '&', '/', U+2028 and
// U+2029, is written as-is. encoding/json escapes <>& by default and
// U+2028/U+2029 always, so it cannot produce these bytes; this is the one
// serde_json string escaper of the module (envelopes, auth.json, bodies).
func AppendString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// Quote returns s as a JSON string (with quotes) escaped by AppendString.
// s must be valid UTF-8.
func Quote(s string) json.RawMessage {
	b := make([]byte, 0, StringLen(s)+2)
	b = append(b, '"')
	b = AppendString(b, s)
	return append(b, '"')
}

// Member is one member of a JSON object: its unescaped name and its value as
// compact JSON text, exactly as read (string escapes included).
type Member struct {
	Name string
	Raw  json.RawMessage
}

// Members checks data as CheckObject does (the same errors) and splits the
// object into its members, in document order, each value compacted. It
// checks and splits in one pass; parsers that read an object by member go
// through it, Split, Object or DecodeObject (which decodes typed values
// instead of splitting).
func Members(data []byte) ([]Member, error) {
	s := &scanner{collect: true}
	if _, err := check(data, s); err != nil {
		return nil, err
	}
	// The values are the caller's to keep: they do not share data's memory.
	for i := range s.topList {
		s.topList[i].Raw = bytes.Clone(s.topList[i].Raw)
	}
	return s.topList, nil
}

// Split is Members without the copies: the values share data's memory
// unless they had to be compacted, so data must not change while they are
// used. It allocates little, for parsers on a hot path (the JWT pre-pass).
func Split(data []byte) ([]Member, error) {
	s := &scanner{collect: true, topList: make([]Member, 0, 16)}
	if _, err := check(data, s); err != nil {
		return nil, err
	}
	return s.topList, nil
}

// Lookup returns the value of the member called name in ms (as returned by
// Members or Split, so names are unique), or nil, false.
func Lookup(ms []Member, name string) (json.RawMessage, bool) {
	for i := range ms {
		if ms[i].Name == name {
			return ms[i].Raw, true
		}
	}
	return nil, false
}

// Object is Members as a map from name to compact value. The values share
// data's memory unless they had to be compacted.
func Object(data []byte) (map[string]json.RawMessage, error) {
	s := &scanner{collect: true, topMap: make(map[string]json.RawMessage, 16)}
	if _, err := check(data, s); err != nil {
		return nil, err
	}
	return s.topMap, nil
}

// String decodes a compact JSON string value; ok is false for anything else.
func String(raw json.RawMessage) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if inner := raw[1 : len(raw)-1]; plainString(inner) {
		return string(inner), true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// plainString reports whether b can be the inside of a JSON string as-is:
// valid UTF-8 with no quote, backslash or control character.
func plainString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

// Bool decodes a compact JSON boolean value.
func Bool(raw json.RawMessage) (v, ok bool) {
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// IsNull reports whether raw is the JSON null.
func IsNull(raw json.RawMessage) bool { return string(raw) == "null" }

// Kind names the type of a compact JSON value for error messages.
func Kind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
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

// Build writes members as one compact JSON object, names escaped by
// AppendString.
func Build(members []Member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(Quote(m.Name))
		b.WriteByte(':')
		b.Write(m.Raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}
