package codexhome

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies: the Codex CLI's files are read without the client side
// (package identity), the verifying side (identity/gateway) or the fake
// backend; `go list -deps` proves it.
func TestDependencies(t *testing.T) {
	_, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	forbidden := []string{
		"github.com/agentidentity/agentidentity/identity",
		"github.com/agentidentity/agentidentity/identity/gateway",
		"github.com/agentidentity/agentidentity/identity/identitytest",
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	for _, p := range forbidden {
		if deps[p] {
			t.Errorf("identity/codexhome depends on %s", p)
		}
	}
}
