package b64

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeStd(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical", "YWJj", true},
		{"padded", "YWI=", true},
		{"empty", "", true},
		{"missing padding", "YWI", false},
		{"url alphabet", "-_-_", false},
		{"newline", "YW\nJj", false},
		{"carriage return", "YWJj\r", false},
		{"non-zero padding bits", "YWJ=", false},
		{"space", "YW Jj", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeStd(tt.in)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrNonCanonical)
			}
		})
	}
}

func TestDecodeRawURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical", "YWI", true},
		{"padding", "YWI=", false},
		{"std alphabet", "+/+/", false},
		{"url alphabet", "-_-_", true},
		{"newline", "YW\nI", false},
		{"non-zero trailing bits", "YWJ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRawURL(tt.in)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrNonCanonical)
			}
		})
	}
}

// FuzzCanonical checks the package's promise: whatever a decoder accepts
// re-encodes to exactly its input, so no two accepted strings give the same
// bytes; and DecodeTo agrees with the allocating decoders.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"YWJj", "YWI=", "YWI", "YWJ=", "YW\nJj", "-_8", "+/8=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			enc    *base64.Encoding
			decode func(string) ([]byte, error)
		}{{base64.StdEncoding, DecodeStd}, {base64.RawURLEncoding, DecodeRawURL}} {
			b, err := c.decode(s)
			var dst [64]byte
			got, ok := DecodeTo(c.enc, dst[:], []byte(s))
			if err != nil {
				if ok {
					t.Fatalf("DecodeTo accepted %q, which the decoder refused", s)
				}
				continue
			}
			if enc := c.enc.EncodeToString(b); enc != s {
				t.Fatalf("accepted %q, which re-encodes as %q", s, enc)
			}
			if c.enc.DecodedLen(len(s)) <= len(dst) && (!ok || string(got) != string(b)) {
				t.Fatalf("DecodeTo(%q) = %q, %v; the decoder gave %q", s, got, ok, b)
			}
		}
	})
}
