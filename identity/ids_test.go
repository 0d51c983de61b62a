package identity

import (
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileRuntimeIDs are refused by ValidateRuntimeID and by everything that
// takes a runtime id.
var hostileRuntimeIDs = []struct{ name, id string }{
	{"empty", ""},
	{"dot", "."},
	{"dot dot", ".."},
	{"parent path", "../x"},
	{"slash", "a/b"},
	{"backslash", `a\b`},
	{"question mark", "a?b"},
	{"hash", "a#b"},
	{"encoded dots", "%2e%2e"},
	{"encoded slash", "%2F"},
	{"encoded nul", "a%00b"},
	{"nul", "a\x00b"},
	{"cr", "a\rb"},
	{"lf", "a\nb"},
	{"crlf header injection", "a\r\nX-Evil: 1"},
	{"scheme-relative", "//evil.com"},
	{"at sign", "user@evil.com"},
	{"colon", "a:b"},
	{"space", "a b"},
	{"non-ascii", "agént"},
	{"fullwidth slash", "a／b"},
	{"257 characters", strings.Repeat("a", 257)},
	{"tab", "a\tb"},
	{"del", "a\x7fb"},
	{"invalid utf-8", "a\xffb"},
}

func TestValidateRuntimeID(t *testing.T) {
	for _, tt := range hostileRuntimeIDs {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRuntimeID(tt.id)
			require.ErrorIs(t, err, ErrInvalidRuntimeID)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "))
			if len(tt.id) > 3 {
				assert.NotContains(t, err.Error(), tt.id, "errors do not echo the id")
			}
		})
	}
	good := []struct{ name, id string }{
		{"vector", "agent-123"},
		{"all classes", "aZ09-_.~"},
		{"256 characters", strings.Repeat("a", 256)},
		{"three dots", "..."},
		{"dot prefix", ".a"},
		{"tilde", "~"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, ValidateRuntimeID(tt.id))
		})
	}
}

func TestValidateTaskID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"plain", "task-123", true},
		{"colons", "a:b:2026-01-02T03:04:05Z", true},
		{"quotes and backslashes", `"\`, true},
		{"html", "<script>&", true},
		{"non-ascii", "задача", true},
		{"u+2028", "a\u2028", true},
		{"c1 control", "a\u0085", false},
		{"c1 first", "\u0080", false},
		{"c1 last", "\u009f", false},
		{"after c1", "\u00a0", true},
		{"longest", strings.Repeat("t", ids.MaxTaskIDLen), true},
		{"one byte too long", strings.Repeat("t", ids.MaxTaskIDLen+1), false},
		{"multibyte at the limit", strings.Repeat("é", ids.MaxTaskIDLen/2), true},
		{"multibyte past the limit", strings.Repeat("é", ids.MaxTaskIDLen/2) + "t", false},
		{"empty", "", false},
		{"nul", "a\x00", false},
		{"newline", "a\n", false},
		{"tab", "\t", false},
		{"del", "\x7f", false},
		{"invalid utf-8", "a\xc3", false},
		{"surrogate half", "\xed\xa0\x80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTaskID(tt.id)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidTaskID)
		})
	}
}
