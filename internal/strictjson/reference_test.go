package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// referenceCheck is the former implementation of Check, on encoding/json's
// Decoder.Token: slow, but obviously right. The fuzz targets hold the
// scanner to it.

type frame struct {
	object bool
	names  map[string]struct{}
	key    bool // the next token in an object is a member name
}

func referenceCheck(data []byte) (byte, error) {
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
