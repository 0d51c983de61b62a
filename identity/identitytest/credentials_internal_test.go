package identitytest

import (
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFormEncode: formEncode is the WHATWG serialiser, which is
// url.QueryEscape with * kept and ~ escaped, and parseExchangeForm takes
// back exactly what it writes, for any bytes.
func TestFormEncode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"kept", "azAZ09*-._", "azAZ09*-._"},
		{"space", "a b", "a+b"},
		{"tilde", "~", "%7E"},
		{"reserved", "+/=&%?#", "%2B%2F%3D%26%25%3F%23"},
		{"UTF-8", "é", "%C3%A9"},
		{"control and high bytes", "\x00\x7f\xff", "%00%7F%FF"},
		{"the recorded assertion", "ab+/=~*.c d", "ab%2B%2F%3D%7E*.c+d"},
		{"the recorded context", ` {"a":"~*+/ é&="} `, "+%7B%22a%22%3A%22%7E*%2B%2F+%C3%A9%26%3D%22%7D+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, formEncode(tt.in))
		})
	}
	for range 200 {
		b := make([]byte, 64)
		_, _ = rand.Read(b)
		s := string(b)
		enc := formEncode(s)
		want := strings.NewReplacer("%2A", "*", "~", "%7E").Replace(url.QueryEscape(s))
		require.Equal(t, want, enc)
		dec, err := url.QueryUnescape(enc)
		require.NoError(t, err)
		require.Equal(t, s, dec)
		// As the assertion of a form (trimmed values only).
		if v := strings.TrimSpace(s); v != "" {
			f, err := parseExchangeForm("grant_type=" + formEncode(jwtBearerGrant) + "&assertion=" + formEncode(v) + "&federation_rule_id=r")
			require.NoError(t, err)
			require.Equal(t, v, f.assertion)
		}
	}
}
