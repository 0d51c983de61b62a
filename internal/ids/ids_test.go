package ids

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateRuntimeID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"letters digits and marks", "agent-1_A.b~c", true},
		{"longest", strings.Repeat("a", MaxRuntimeIDLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxRuntimeIDLen+1), false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"slash", "a/b", false},
		{"colon", "a:b", false},
		{"percent", "a%2f", false},
		{"control", "a\x00", false},
		{"non-ASCII", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRuntimeID(tt.id)
			assert.Equal(t, err, ValidateRuntimeID([]byte(tt.id)), "string and []byte agree")
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRuntimeID)
			if tt.id != "" && tt.id != "." && tt.id != ".." {
				assert.NotContains(t, err.Error(), tt.id, "the id is never quoted")
			}
		})
	}
}

func TestValidateTaskID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"plain", "task-1", true},
		{"colon quotes and backslash", `a:"b"\c`, true},
		{"non-ASCII", "tâche-✓", true},
		{"longest", strings.Repeat("a", MaxTaskIDLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxTaskIDLen+1), false},
		{"C0", "a\nb", false},
		{"DEL", "a\x7fb", false},
		{"C1", "a\u0085b", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTaskID(tt.id)
			assert.Equal(t, err, ValidateTaskID([]byte(tt.id)), "string and []byte agree")
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.True(t, errors.Is(err, ErrInvalidTaskID))
		})
	}
}

// TestStandardLibraryOnly: the id rules are a leaf that any package of the
// module can import without linking another module.
func TestStandardLibraryOnly(t *testing.T) {
	_, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, []string{"github.com/agentidentity/agentidentity/internal/ids"}, strings.Fields(string(out)))
}
