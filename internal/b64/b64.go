// Package b64 decodes base64 in exactly one canonical form.
//
// encoding/base64 skips '\r' and '\n' anywhere in its input and, unless
// Strict is used, accepts non-zero padding bits, so several strings decode to
// the same bytes. A signature or key that can be spelled several ways lets an
// attacker make distinct-looking values that verify the same, so every decoder
// here accepts only the one string that re-encodes identically. It is the one
// canonical base64 decoder of the module (keys, signatures, sealed task ids,
// the AgentAssertion envelope, JWT segments, JWKS members).
//
// The work is encoding/base64's: Strict refuses non-zero padding bits and
// wrong padding, and refusing line breaks first leaves exactly the strings
// that re-encode to themselves (FuzzCanonical checks it).
package b64

import (
	"encoding/base64"
	"errors"
)

// ErrNonCanonical is returned for input that is not canonical base64 of the
// expected alphabet and padding.
var ErrNonCanonical = errors.New("not canonical base64")

// DecodeStd decodes standard base64 with padding (RFC 4648 §4).
func DecodeStd(s string) ([]byte, error) { return decode(base64.StdEncoding, s) }

// DecodeRawURL decodes URL-safe base64 without padding (RFC 4648 §5).
func DecodeRawURL(s string) ([]byte, error) { return decode(base64.RawURLEncoding, s) }

func decode(enc *base64.Encoding, s string) ([]byte, error) {
	b, ok := DecodeTo(enc, make([]byte, enc.DecodedLen(len(s))), s)
	if !ok {
		return nil, ErrNonCanonical
	}
	return b, nil
}

// DecodeTo decodes src into dst, without allocating, and reports whether src
// is the one canonical spelling in enc (which must be one of encoding/base64's
// encodings). Input whose decoded length could exceed len(dst) is refused
// unread, so dst bounds what a caller reads.
func DecodeTo[T string | []byte](enc *base64.Encoding, dst []byte, src T) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		if src[i] == '\r' || src[i] == '\n' {
			return nil, false
		}
	}
	if enc.DecodedLen(len(src)) > len(dst) {
		return nil, false
	}
	n, err := enc.Strict().Decode(dst, []byte(src))
	if err != nil {
		return nil, false
	}
	return dst[:n], true
}
