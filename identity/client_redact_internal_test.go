package identity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestErrorBodyNeverKeepsPartOfASecret: a server that echoes the token
// twice must not get a prefix of the second copy into the kept 512 bytes.
func TestErrorBodyNeverKeepsPartOfASecret(t *testing.T) {
	token := strings.Repeat("T", 2000)
	tests := []struct {
		name string
		body string
	}{
		{"echoed twice", token + strings.Repeat("y", 100) + token},
		{"echoed once at the end", strings.Repeat("y", 300) + token},
		{"echoed three times", token + token + token},
		{"cut right after a prefix", strings.Repeat("y", 10) + token + "z" + token[:600]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorBody(strings.NewReader(tt.body), []string{token})
			assert.LessOrEqual(t, len(got), maxErrorBody)
			assert.NotContains(t, got, "TTTTTTTT", "no run of the token survives")
		})
	}
	assert.Equal(t, "short [REDACTED] body", errorBody(strings.NewReader("short "+token+" body"), []string{token}))
	assert.Equal(t, "plain", errorBody(strings.NewReader("plain"), []string{token}))
}
