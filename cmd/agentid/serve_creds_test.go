package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
)

// TestServeCredentialFiles: --pat-file and --workload-token-file write
// (0600) a credential the server accepts, print lines that name the file
// and never its content, and the server answers the credential as the
// Codex CLI uses it (the personal access token's metadata lookup, the
// workload identity's token exchange); the lines do what they say.
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
		// status is the agentid status line printed ("# " first when it
		// is a comment), code its exit code, and want what its JSON
		// "usable" (code 0) or its error line (code 1) holds.
		status string
		code   int
		want   string
		// works checks the rest of what the lines say, given the
		// exported variables and the lines.
		works func(t *testing.T, env map[string]string, lines []string)
	}{
		{
			name:  "personal access token",
			flag:  "--pat-file",
			shape: regexp.MustCompile(`^at-[A-Za-z0-9_-]{43}\n$`),
			lines: []string{
				`# CODEX_ACCESS_TOKEN="$(cat {F})" codex exec --skip-git-repo-check hi`,
			},
			accepted: func(t *testing.T, base, cred string) int {
				req, err := http.NewRequest(http.MethodGet, base+"/api/accounts/v1/user-auth-credential/whoami", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+cred)
				return do(t, req)
			},
			status: `CODEX_ACCESS_TOKEN="$(cat {F})" agentid status`,
			code:   0,
			want:   "$CODEX_ACCESS_TOKEN (personal access token",
		},
		{
			name:  "workload identity",
			flag:  "--workload-token-file",
			shape: regexp.MustCompile(`^identitytest-workload-[A-Za-z0-9_-]{43}\n$`),
			lines: []string{
				`# OPENAI_FEDERATION_RULE_ID=fedrule_identitytest OPENAI_IDENTITY_TOKEN_FILE={F} codex exec --skip-git-repo-check hi`,
				`#   identity.LoadOptions{UnsafeTokenExchangeURL: "http://127.0.0.1:`,
			},
			accepted: func(t *testing.T, base, cred string) int {
				// The form as the Codex CLI writes it (the assertion needs
				// no escaping).
				body := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + cred + "&federation_rule_id=fedrule_identitytest"
				req, err := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return do(t, req)
			},
			status: `# OPENAI_FEDERATION_RULE_ID=fedrule_identitytest OPENAI_IDENTITY_TOKEN_FILE={F} agentid status`,
			code:   1,
			want:   "agentid: status: workload identity refused: " + serveWorkloadRefusal,
			works: func(t *testing.T, env map[string]string, lines []string) {
				// The Go line: Load with the variables and the test
				// option exchanges the assertion here, and its token is
				// accepted on a first-party route.
				var exchangeURL string
				for _, l := range lines {
					if _, v, ok := strings.Cut(l, "identity.LoadOptions{UnsafeTokenExchangeURL: "); ok {
						var err error
						exchangeURL, err = strconv.Unquote(strings.TrimSuffix(v, "}"))
						require.NoError(t, err, l)
					}
				}
				require.NotEmpty(t, exchangeURL)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				ra, err := identity.Load(ctx, identity.LoadOptions{
					LookupEnv:              func(k string) (string, bool) { v, ok := env[k]; return v, ok },
					UnsafeTokenExchangeURL: exchangeURL, HTTPClient: http.DefaultClient,
				})
				require.NoError(t, err)
				assert.Regexp(t, `^account-wif-\d+$`, ra.Account().AccountID)
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(exchangeURL, "/oauth/token")+"/backend-api/wham/settings/user", nil)
				require.NoError(t, err)
				resp, err := (&http.Client{Transport: ra.Transport(http.DefaultTransport)}).Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			},
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
			status := strings.ReplaceAll(tt.status, "{F}", shellQuote(file))
			for _, want := range append(tt.lines, status) {
				assert.Contains(t, out, strings.ReplaceAll(want, "{F}", shellQuote(file)), out)
			}
			assert.NotContains(t, out, cred, "the credential is never printed")
			var exports string
			env := map[string]string{}
			for _, l := range lines {
				if kv, ok := strings.CutPrefix(l, "export "); ok {
					exports += l + "\n"
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
				}
			}
			base := strings.TrimSuffix(env["CODEX_AUTHAPI_BASE_URL"], "/api/accounts")
			require.NotEmpty(t, base, out)
			assert.Equal(t, http.StatusOK, tt.accepted(t, base, cred))

			// The agentid status line does what it says, as printed (a
			// comment run without its "# ").
			stdout, stderr, err := shellRun(t, exports+strings.TrimPrefix(status, "# ")+" --json\n", nil)
			if tt.code == 0 {
				require.NoError(t, err, "%s\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
			} else {
				require.Error(t, err, "%s\nstdout:\n%s", status, stdout)
				assert.Contains(t, stderr, tt.want)
			}
			var rep statusReport
			require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
			if tt.code == 0 {
				assert.Contains(t, rep.Usable, tt.want)
			}
			if tt.works != nil {
				env[envFederationRuleID], env[envIdentityTokenFile] = serveRuleID, file
				tt.works(t, env, lines)
			}
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

// TestServeJSON: serve --json prints one object with where the server is
// and the files it wrote (never their content) instead of the shell lines,
// and one with the error when it fails.
func TestServeJSON(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "codex")
	files := map[string]string{"jwt_file": filepath.Join(dir, "agent.jwt"), "pat_file": filepath.Join(dir, "pat"), "token_file": filepath.Join(dir, "oidc-token")}
	lines, stop := serveLinesUntil(t, func(l string) bool { return l == "}" },
		"--json", "--tls", "--codex-home", home, "--jwt-file", files["jwt_file"], "--pat-file", files["pat_file"], "--workload-token-file", files["token_file"])
	for what, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err, what)
		addSecret(t, "serve --json "+what, strings.TrimSpace(string(data)))
	}
	var got serveJSON
	obj := oneJSONObject(t, strings.Join(lines, "\n")+"\n")
	require.NoError(t, json.Unmarshal([]byte(strings.Join(lines, "\n")), &got))
	for _, f := range []string{"url", "chatgpt_base_url", "env", "codex_home", "ca_file", "codex_env_file", "codex_env", "trust_env", "jwt_file", "pat_file", "pat_account_id", "workload_identity"} {
		assert.Contains(t, obj, f)
	}
	assert.Equal(t, got.URL+"/backend-api", got.ChatGPTBaseURL)
	assert.Equal(t, home, got.CodexHome)
	assert.Equal(t, home, got.Env["CODEX_HOME"])
	assert.Equal(t, got.URL+"/api/accounts", got.Env["CODEX_AUTHAPI_BASE_URL"])
	assert.Equal(t, filepath.Join(home, serveCAFile), got.CAFile)
	assert.Equal(t, got.CAFile, got.TrustEnv["CODEX_CA_CERTIFICATE"])
	assert.Equal(t, got.CAFile, got.CodexEnv["SSL_CERT_FILE"])
	assert.Equal(t, files["jwt_file"], got.JWTFile)
	assert.Equal(t, files["pat_file"], got.PATFile)
	assert.Regexp(t, `^account-pat-\d+$`, got.PATAccountID)
	require.NotNil(t, got.Workload)
	assert.Equal(t, serveWorkload{FederationRuleID: serveRuleID, TokenFile: files["token_file"], AccountID: got.Workload.AccountID,
		TokenExchangeURL: got.URL + "/oauth/token"}, *got.Workload)
	for _, f := range []string{got.CAFile, got.CodexEnvFile} {
		_, err := os.Stat(f)
		assert.NoError(t, err)
	}
	for _, l := range lines {
		assert.False(t, strings.HasPrefix(l, "export ") || strings.HasPrefix(l, "# "), "no shell line with --json: %q", l)
	}
	stop()

	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	r := runBin(t, invocation{args: []string{"serve", "--json", "--pat-file", link}})
	require.Equal(t, 1, r.code, r.stderr)
	fail := oneJSONObject(t, r.stdout)
	assert.Contains(t, fail["error"], "--pat-file: "+link+" exists and is not a regular file")
	assert.Contains(t, fail, "hint")
}
