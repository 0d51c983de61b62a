package netrule

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"0:0:0:0:0:0:0:1", true},
		{"localhost.", false},
		{"localhost.evil.com", false},
		{"128.0.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"::ffff:127.0.0.1", false},
		{"::1%lo", false},
		{"127.1", false},
		{"0x7f.0.0.1", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			assert.Equal(t, tt.want, IsLoopbackHost(tt.host))
		})
	}
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"production", "https://chatgpt.com/backend-api", "https://chatgpt.com"},
		{"upper case and default https port", "HTTPS://GW.Example.COM:443/api", "https://gw.example.com"},
		{"other https port", "https://x.example:8443/api", "https://x.example:8443"},
		{"loopback with port", "http://localhost:8080/api/codex", "http://localhost:8080"},
		{"default http port", "http://127.0.0.1:80/x", "http://127.0.0.1"},
		{"ipv6 loopback", "http://[::1]:9000", "http://[::1]:9000"},
		{"empty", "", ""},
		{"relative", "/backend-api", ""},
		{"other scheme", "ftp://chatgpt.com", ""},
		{"http not loopback", "http://chatgpt.com", ""},
		{"http loopback look-alike", "http://localhost.evil.com", ""},
		{"http loopback in user info", "http://localhost@evil.com", ""},
		{"user info", "https://u:p@chatgpt.com", ""},
		{"query", "https://chatgpt.com/?x=1", ""},
		{"empty query", "https://chatgpt.com/?", ""},
		{"fragment", "https://chatgpt.com/#x", ""},
		{"kelvin sign", "https://\u212aey.example", ""},
		{"look-alike m", "https://\u217fbackend.example", ""},
		{"punycode", "https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"unparsable", "https://chatgpt.com:x:y/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckOrigin(tt.raw)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrInsecureOrigin)
				assert.NotContains(t, err.Error(), "u:p")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSameOrigin(t *testing.T) {
	const origin = "https://kmbackend.example"
	tests := []struct {
		name, url string
		want      bool
	}{
		{"exact", "https://kmbackend.example/x", true},
		{"ascii upper case", "HTTPS://KMBACKEND.EXAMPLE/x", true},
		{"default port", "https://kmbackend.example:443/x", true},
		{"other port", "https://kmbackend.example:8443/x", false},
		{"http", "http://kmbackend.example/x", false},
		{"kelvin sign", "https://\u212ambackend.example/x", false},
		{"look-alike m", "https://k\u217fbackend.example/x", false},
		{"user info", "https://u@kmbackend.example/x", false},
		{"suffix", "https://kmbackend.example.evil.com/x", false},
		{"trailing dot", "https://kmbackend.example./x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.want, SameOrigin(u, origin))
		})
	}
	assert.False(t, SameOrigin(nil, origin))
	u, _ := url.Parse("https://kmbackend.example")
	assert.False(t, SameOrigin(u, ""))
	v6, _ := url.Parse("http://[::1]:9000/x")
	assert.True(t, SameOrigin(v6, "http://[::1]:9000"))
}

// TestRedact checks the URL redaction that errors and logs use: user info, query and
// fragment never show, nor control characters, and the output is bounded.
func TestRedact(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", "https://chatgpt.com/backend-api", "https://chatgpt.com/backend-api"},
		{"user info", "https://alice:hunter2@chatgpt.com/x", "https://REDACTED@chatgpt.com/x"},
		{"query", "https://chatgpt.com/x?token=hunter2", "https://chatgpt.com/x?REDACTED"},
		{"empty query", "https://chatgpt.com/x?", "https://chatgpt.com/x?REDACTED"},
		{"fragment", "https://chatgpt.com/x#hunter2", "https://chatgpt.com/x#REDACTED"},
		{"empty fragment", "https://chatgpt.com/x#", "https://chatgpt.com/x#REDACTED"},
		{"all three", "https://a:hunter2@h/x?k=hunter2#hunter2", "https://REDACTED@h/x?REDACTED#REDACTED"},
		{"unparsable with user info", "https://a:hunter2@h:x:y/", "(unparsable URL of 24 bytes)"},
		{"unparsable with query", "%zz?token=hunter2", "(unparsable URL of 17 bytes)"},
		{"unparsable, nothing to hide", "https://chatgpt.com:x:y/", "https://chatgpt.com:x:y/"},
		{"newline", "https://chatgpt.com/\nlevel=ERROR msg=forged", "(unparsable URL of 43 bytes)"},
		{"DEL", "https://chatgpt.com/\x7f", "(unparsable URL of 21 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.raw)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "hunter2")
		})
	}
	long := "https://chatgpt.com/" + strings.Repeat("é", 300)
	got := Redact(long)
	assert.LessOrEqual(t, len(got), 230)
	assert.True(t, utf8.ValidString(got), "cut inside a UTF-8 sequence")
	huge := "https://a:hunter2@chatgpt.com/" + strings.Repeat("a", 1<<20)
	got = Redact(huge)
	assert.NotContains(t, got, "hunter2")
	assert.Less(t, len(got), 64)
}

func TestASCIIFold(t *testing.T) {
	assert.True(t, ASCIIEqualFold("ChatGPT.com", "chatgpt.COM"))
	assert.False(t, ASCIIEqualFold("\u212a", "k"))
	assert.False(t, ASCIIEqualFold("k", "\u212a"))
	assert.False(t, ASCIIEqualFold("[", "{")) // 0x5b and 0x7b differ by 'a'-'A' but are not letters
	assert.Equal(t, "chatgpt.com", ASCIILower("ChatGPT.COM"))
	assert.Equal(t, "\u212a", ASCIILower("\u212a"))
}
