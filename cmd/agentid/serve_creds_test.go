package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeCredentialFiles: --pat-file and --workload-token-file write
// (0600) a credential the server accepts, print lines that name the file
// and never its content, and the server answers the credential as the
// Codex CLI uses it (the personal access token's metadata lookup, the
// workload identity's token exchange).
func TestServeCredentialFiles(t *testing.T) {
	tests := []struct {
		name string
		flag string
		// shape is what the file holds (one line).
		shape *regexp.Regexp
		// lines are printed, with {F} the file's absolute path (quoted
		// for the shell as serve quotes it).
		lines []string
		// accepted sends the credential to the server as a client does
		// and returns the status.
		accepted func(t *testing.T, base, cred string) int
		// usable is what the printed agentid status line says is usable.
		usable string
	}{
		{
			name:  "personal access token",
			flag:  "--pat-file",
			shape: regexp.MustCompile(`^at-[A-Za-z0-9_-]{43}\n$`),
			lines: []string{
				`CODEX_ACCESS_TOKEN="$(cat {F})" agentid status`,
				`# CODEX_ACCESS_TOKEN="$(cat {F})" codex exec --skip-git-repo-check hi`,
			},
			accepted: func(t *testing.T, base, cred string) int {
				req, err := http.NewRequest(http.MethodGet, base+"/api/accounts/v1/user-auth-credential/whoami", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+cred)
				return do(t, req)
			},
			usable: "$CODEX_ACCESS_TOKEN (personal access token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "credential file")
			lines, stop := serveLinesUntil(t, func(l string) bool {
				return strings.HasPrefix(l, "# ") && strings.Contains(l, "codex exec")
			}, "--codex-home", filepath.Join(dir, "codex"), tt.flag, file)
			st, err := os.Lstat(file)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Regexp(t, tt.shape, string(data))
			cred := strings.TrimSpace(string(data))
			addSecret(t, "serve "+tt.flag+" credential", cred)

			out := strings.Join(lines, "\n")
			for _, want := range tt.lines {
				assert.Contains(t, out, strings.ReplaceAll(want, "{F}", shellQuote(file)), out)
			}
			assert.NotContains(t, out, cred, "the credential is never printed")
			base := ""
			for _, l := range lines {
				if v, ok := strings.CutPrefix(l, "export CODEX_AUTHAPI_BASE_URL="); ok {
					base = strings.TrimSuffix(v, "/api/accounts")
				}
			}
			require.NotEmpty(t, base, out)
			assert.Equal(t, http.StatusOK, tt.accepted(t, base, cred))

			// The agentid line works as printed.
			var exports, status string
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "export "):
					exports += l + "\n"
				case strings.HasSuffix(l, " agentid status") && !strings.HasPrefix(l, "#"):
					status = l
				}
			}
			require.NotEmpty(t, status, out)
			stdout, stderr, err := shellRun(t, exports+status+" --json\n", nil)
			require.NoError(t, err, "%s\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
			var rep statusReport
			require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
			assert.Contains(t, rep.Usable, tt.usable)
			assert.NotContains(t, stop(), cred, "nor logged")
		})
	}
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
