package b64

import (
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

func FuzzDecodeStd(f *testing.F) {
	f.Add("YWJj")
	f.Add("YWI=")
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := DecodeStd(s); err == nil {
			if got, err := DecodeStd(s); err != nil || string(got) != string(b) {
				t.Fatal("not deterministic")
			}
		}
		_, _ = DecodeRawURL(s)
	})
}
