package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// jsonMember is one member of a JSON object: its unescaped name and its
// value as compact JSON text, exactly as read (string escapes included).
type jsonMember struct {
	name string
	raw  json.RawMessage
}

// parseObjectMembers splits a JSON object that strictjson has already
// checked into its members, in document order, each value compacted.
func parseObjectMembers(data []byte) ([]jsonMember, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var members []jsonMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("member name is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		members = append(members, jsonMember{name: name, raw: buf.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return members, nil
}

// jsonKind names the type of a compact JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
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

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// rawString decodes a compact JSON string value.
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// rawBool decodes a compact JSON boolean value.
func rawBool(raw json.RawMessage) (bool, bool) {
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// encodeJSONString writes s as a JSON string the way the Codex CLI's
// serde_json does for ordinary text (see appendJSONString, shared with the
// AgentAssertion envelope). s must be valid UTF-8.
func encodeJSONString(s string) json.RawMessage {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = appendJSONString(b, s)
	return append(b, '"')
}

// buildObject writes members as one compact JSON object.
func buildObject(members []jsonMember) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSONString(m.name))
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// checkUTF8 refuses a string that is not valid UTF-8, naming the member.
func checkUTF8(name, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("identity: %s is not valid UTF-8", name)
	}
	return nil
}

// writeRedacted is the Format body shared by types that hold secrets: every
// verb prints the redacted form, %#v the Go-syntax redacted form.
func writeRedacted(s fmt.State, verb rune, str, gostr string) {
	if verb == 'v' && s.Flag('#') {
		_, _ = io.WriteString(s, gostr)
		return
	}
	_, _ = io.WriteString(s, str)
}
