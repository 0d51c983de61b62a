package strictjson

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendJSONStringMatchesSerde: AppendString escapes as serde_json does
// (the Codex CLI's JSON writer), so the bytes signed and sent are Codex's.
func TestAppendJSONStringMatchesSerde(t *testing.T) {
	// serde_json escapes exactly '"', '\\' and U+0000..U+001F.
	for c := 0; c < 0x80; c++ {
		got := string(AppendString(nil, string(rune(c))))
		var want string
		switch {
		case c == '"':
			want = `\"`
		case c == '\\':
			want = `\\`
		case c == '\b':
			want = `\b`
		case c == '\f':
			want = `\f`
		case c == '\n':
			want = `\n`
		case c == '\r':
			want = `\r`
		case c == '\t':
			want = `\t`
		case c < 0x20:
			want = fmt.Sprintf(`\u%04x`, c)
		default:
			want = string(rune(c))
		}
		assert.Equal(t, want, got, "byte %#x", c)
		assert.Equal(t, len(want), StringLen(string(rune(c))), "byte %#x", c)
		var back string
		require.NoError(t, json.Unmarshal([]byte(`"`+got+`"`), &back))
		assert.Equal(t, string(rune(c)), back)
	}
}
