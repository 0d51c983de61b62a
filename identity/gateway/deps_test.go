package gateway

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the verifying side free of the client side, of
// the Codex CLI's files and of the command line: a server links only these
// packages' dependencies. Package gateway links no metrics library either;
// its subpackage gatewaymetrics is the one that links Prometheus's.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	never := []string{
		"github.com/agentidentity/agentidentity/identity",
		"github.com/agentidentity/agentidentity/identity/codexhome",
		"github.com/gofrs/flock",
		"github.com/BurntSushi/toml",
		"github.com/spf13/cobra",
		// The SPIFFE Workload API client of workload identities.
		"github.com/spiffe/go-spiffe/v2/workloadapi",
		"google.golang.org/grpc",
	}
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{".", append(never, "github.com/prometheus/client_golang/prometheus")},
		{"./gatewaymetrics", never},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps: %v\n%s", err, out)
			}
			deps := map[string]bool{}
			for _, p := range strings.Fields(string(out)) {
				deps[p] = true
			}
			for _, f := range tc.forbidden {
				if deps[f] {
					t.Errorf("%s depends on %s", tc.pkg, f)
				}
			}
		})
	}
}
