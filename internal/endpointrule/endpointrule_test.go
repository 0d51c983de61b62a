package endpointrule

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJWKSURL(t *testing.T) {
	tests := []struct {
		name, base, want string
	}{
		{"backend-api", "https://chatgpt.com/backend-api", "https://chatgpt.com/backend-api/wham/agent-identities/jwks"},
		{"backend-api inside the path", "https://x.example/a/backend-api/b", "https://x.example/a/backend-api/b/wham/agent-identities/jwks"},
		{"backend-api as a prefix of a segment", "https://x.example/backend-apis", "https://x.example/backend-apis/wham/agent-identities/jwks"},
		{"other path", "http://localhost:8080/api/codex", "http://localhost:8080/api/codex/agent-identities/jwks"},
		{"bare host", "https://chatgpt.com", "https://chatgpt.com/agent-identities/jwks"},
		{"backend-api in the host only", "https://backend-api.example", "https://backend-api.example/agent-identities/jwks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.base)
			require.NoError(t, err)
			assert.Equal(t, tt.want, JWKSURL(u))
		})
	}
}

func TestAppendLookupKey(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"canonical", "https://chatgpt.com/backend-api", "chatgpt.com/backend-api", true},
		{"bare host", "https://chatgpt.com", "chatgpt.com", true},
		{"scheme and host in upper case", "HTTPS://CHATGPT.COM/Codex", "chatgpt.com/Codex", true},
		{"explicit 443 dropped", "https://chatgpt.com:443/codex", "chatgpt.com/codex", true},
		{"other port kept", "https://x.example:8443/api", "x.example:8443/api", true},
		{"one trailing slash dropped", "https://chatgpt.com/codex/", "chatgpt.com/codex", true},
		{"second trailing slash kept", "https://chatgpt.com/codex//", "chatgpt.com/codex/", true},
		{"path copied as it is", "https://chatgpt.com/a/../b?#", "chatgpt.com/a/../b?#", true},
		{"empty", "", "", false},
		{"scheme only", "https://", "", false},
		{"http", "http://chatgpt.com", "", false},
		{"no host", "https:///codex", "", false},
		{"user info", "https://u@chatgpt.com", "", false},
		{"underscore in host", "https://a_b.example", "", false},
		{"empty port", "https://chatgpt.com:/codex", "", false},
		{"port with a letter", "https://chatgpt.com:44x", "", false},
		{"query on the host", "https://chatgpt.com?x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AppendLookupKey([]byte("prefix:"), tt.in)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, "prefix:"+tt.want, string(got))
				assert.LessOrEqual(t, len(got)-len("prefix:"), len(tt.in), "the key is never longer than the input")
			} else {
				assert.Equal(t, "prefix:", string(got), "a refused input leaves dst as it was")
			}
		})
	}
}

func TestAppendLookupKeyDoesNotAllocate(t *testing.T) {
	in := "HTTPS://Chat.OpenAI.com:443/backend-api/codex/"
	allocs := testing.AllocsPerRun(100, func() {
		var buf [64]byte
		if _, ok := AppendLookupKey(buf[:0], in); !ok {
			panic("refused")
		}
	})
	assert.Zero(t, allocs)
}

func TestMaxInputLen(t *testing.T) {
	key := "chatgpt.com/codex"
	longest := "https://chatgpt.com:443/codex/"
	assert.Equal(t, len(longest), MaxInputLen(key))
	got, ok := AppendLookupKey(nil, longest)
	require.True(t, ok)
	assert.Equal(t, key, string(got))
}

func TestTrimBase(t *testing.T) {
	assert.Equal(t, "https://x.example/a", TrimBase(" \thttps://x.example/a/// \n"))
	assert.Equal(t, "", TrimBase(" / "))
	assert.Equal(t, "https://x.example/a/b", TrimBase("https://x.example/a/b"))
}
