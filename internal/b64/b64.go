// Package b64 decodes base64 in exactly one canonical form.
//
// encoding/base64 skips '\r' and '\n' anywhere in its input and, unless
// Strict is used, accepts non-zero padding bits, so several strings decode to
// the same bytes. A signature or key that can be spelled several ways lets an
// attacker make distinct-looking values that verify the same, so every decoder
// here accepts only the one string that re-encodes identically.
package b64

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrNonCanonical is returned for input that is not canonical base64 of the
// expected alphabet and padding.
var ErrNonCanonical = errors.New("not canonical base64")

// DecodeStd decodes standard base64 with padding (RFC 4648 §4).
func DecodeStd(s string) ([]byte, error) { return decode(base64.StdEncoding, s) }

// DecodeRawURL decodes URL-safe base64 without padding (RFC 4648 §5).
func DecodeRawURL(s string) ([]byte, error) { return decode(base64.RawURLEncoding, s) }

func decode(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrNonCanonical
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrNonCanonical
	}
	if enc.EncodeToString(b) != s {
		return nil, ErrNonCanonical
	}
	return b, nil
}
