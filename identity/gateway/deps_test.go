package gateway

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the verifying side free of the client side and of
// the Codex CLI's files: a server links only this package's dependencies.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := map[string]bool{
		"github.com/agentidentity/agentidentity/identity":           true,
		"github.com/agentidentity/agentidentity/identity/codexhome": true,
		"github.com/gofrs/flock":                                    true,
		"github.com/BurntSushi/toml":                                true,
	}
	for _, p := range strings.Fields(string(out)) {
		if forbidden[p] {
			t.Errorf("identity/gateway depends on %s", p)
		}
	}
}
