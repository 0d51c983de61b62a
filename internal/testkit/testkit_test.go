package testkit

import (
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const importPath = "github.com/agentidentity/agentidentity/internal/testkit"

// TestBuffer writes from many goroutines while reading; run with -race.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				n, err := b.Write([]byte("x"))
				assert.NoError(t, err)
				assert.Equal(t, 1, n)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, strings.Repeat("x", 800), b.String())
}

// TestOnlyTestsImport keeps the helpers out of every binary and library:
// no package of the module imports testkit from a non-test file.
func TestOnlyTestsImport(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-tags", "interop", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Greater(t, len(lines), 5, "go list found the module's packages")
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			assert.NotEqual(t, importPath, imp, "%s imports testkit outside its tests", fields[0])
		}
	}
}
