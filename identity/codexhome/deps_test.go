package codexhome

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies: the Codex CLI's files are read without the client side
// (package identity), the verifying side (identity/gateway), the fake
// backend, and without the modules only those need (SSH keys, sealed task
// ids, Ed25519 point arithmetic, JWT verification, the SPIFFE Workload API);
// `go list -deps` proves
// it.
func TestDependencies(t *testing.T) {
	_, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	// Packages, matched exactly, and modules, matched with their
	// subpackages.
	forbidden := []struct {
		path   string
		module bool
	}{
		{"github.com/agentidentity/agentidentity/identity", false},
		{"github.com/agentidentity/agentidentity/identity/gateway", false},
		{"github.com/agentidentity/agentidentity/identity/identitytest", false},
		{"golang.org/x/crypto/ssh", true},
		{"golang.org/x/crypto/nacl/box", true},
		{"filippo.io/edwards25519", true},
		{"github.com/golang-jwt/jwt/v5", true},
		// The SPIFFE Workload API client of workload identities.
		{"github.com/spiffe/go-spiffe/v2", true},
		{"google.golang.org/grpc", true},
	}
	deps := strings.Fields(string(out))
	for _, f := range forbidden {
		for _, p := range deps {
			if p == f.path || (f.module && strings.HasPrefix(p, f.path+"/")) {
				t.Errorf("identity/codexhome depends on %s", p)
			}
		}
	}
}
