package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCleanSecret(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"plain", "abc", "abc", ""},
		{"one newline", "abc\n", "abc", ""},
		{"one crlf", "abc\r\n", "abc", ""},
		{"two newlines", "abc\n\n", "", "only one trailing newline"},
		{"crlf then newline", "abc\r\n\n", "", "only one trailing newline"},
		{"lone cr", "abc\r", "", "control character"},
		{"leading space", " abc", "", "at byte 0"},
		{"trailing space", "abc \n", "", "at byte 3"},
		{"inner newline", "ab\ncd", "", "at byte 2"},
		{"tab", "ab\tcd", "", "white space"},
		{"nul", "ab\x00cd", "", "control"},
		{"del", "ab\x7fcd", "", "control"},
		{"empty", "", "", "empty"},
		{"newline only", "\n", "", "empty"},
		{"crlf only", "\r\n", "", "empty"},
		{"non-ascii kept", "clé", "clé", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanSecret(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCleanSecretErrorsNeverQuote(t *testing.T) {
	const secret = "SECRETSECRETSECRET"
	for _, in := range []string{secret + "\n\n", " " + secret, secret + "\x00"} {
		_, err := cleanSecret(in)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET")
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"url", "http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api"},
		{"path", "/tmp/x", "/tmp/x"},
		{"space", "/tmp/a b", "'/tmp/a b'"},
		{"quote", "it's", `'it'\''s'`},
		{"dollar", "$HOME", "'$HOME'"},
		{"empty", "", "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, shellQuote(tt.in))
		})
	}
}

func TestStripOneNewline(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", "a", "a"},
		{"lf", "a\n", "a"},
		{"crlf", "a\r\n", "a"},
		{"two", "a\n\n", "a\n"},
		{"empty", "", ""},
		{"lf only", "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, stripOneNewline(tt.in))
		})
	}
}

// FuzzCleanSecret checks that an accepted secret is the input less at most
// one line ending, and holds no white space or control character.
func FuzzCleanSecret(f *testing.F) {
	for _, s := range []string{"abc", "abc\n", "abc\r\n", "abc\n\n", " a", "\r\n", "", "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := cleanSecret(in)
		if err != nil {
			if got != "" {
				t.Fatalf("value %q returned with error", got)
			}
			return
		}
		if got == "" {
			t.Fatal("empty secret accepted")
		}
		if got != in && got+"\n" != in && got+"\r\n" != in {
			t.Fatalf("%q from %q: more than one line ending removed", got, in)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Fatalf("%q accepted with white space or control character", got)
		}
	})
}

var sinkString string

// BenchmarkCleanSecret measures reading a typical key line; the baseline is
// the standard library's strings.TrimSuffix plus strings.ContainsFunc doing
// the same check.
func BenchmarkCleanSecret(b *testing.B) {
	in := "MFECAQEwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHgSEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=\n"
	b.Run("cleanSecret", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := cleanSecret(in)
			if err != nil {
				b.Fatal(err)
			}
			sinkString = s
		}
	})
	b.Run("stdlib-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := strings.TrimSuffix(strings.TrimSuffix(in, "\n"), "\r")
			if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				b.Fatal("bad")
			}
			sinkString = s
		}
	})
}
