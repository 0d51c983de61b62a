package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

func TestServeTLS(t *testing.T) {
	home := filepath.Join(t.TempDir(), "codex")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "serve", "--tls", "--codex-home", home)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	var out strings.Builder
	var codexLine string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if strings.HasSuffix(line, "codex exec --skip-git-repo-check hi") {
			codexLine = line
			break
		}
	}
	require.NotEmpty(t, codexLine, out.String())
	caPath := filepath.Join(home, serveCAFile)
	tests := []struct {
		name, text, want string
		present          bool
	}{
		{"SSL_CERT_FILE is not exported", out.String(), "export SSL_CERT_FILE", false},
		{"CODEX_CA_CERTIFICATE is not exported", out.String(), "export CODEX_CA_CERTIFICATE", false},
		{"the codex line sets SSL_CERT_FILE", codexLine, "SSL_CERT_FILE=" + caPath + " ", true},
		{"the codex line sets CODEX_CA_CERTIFICATE", codexLine, "CODEX_CA_CERTIFICATE=" + caPath + " ", true},
		{"the codex line sets the refresh URL", codexLine, "CODEX_REFRESH_TOKEN_URL_OVERRIDE=https://127.0.0.1:", true},
		{"the codex line sets CODEX_AUTHAPI_BASE_URL", codexLine, "CODEX_AUTHAPI_BASE_URL=https://127.0.0.1:", true},
		{"the codex line sets CODEX_HOME", codexLine, "CODEX_HOME=" + home + " ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.present {
				assert.Contains(t, tt.text, tt.want)
			} else {
				assert.NotContains(t, tt.text, tt.want)
			}
		})
	}

	// Only the CA certificate is on disk.
	caPEM, err := os.ReadFile(caPath)
	require.NoError(t, err)
	block, rest := pem.Decode(caPEM)
	require.NotNil(t, block)
	assert.Equal(t, "CERTIFICATE", block.Type)
	assert.Empty(t, strings.TrimSpace(string(rest)))
	envFile, err := os.ReadFile(filepath.Join(home, serveEnvFile))
	require.NoError(t, err)
	assert.Contains(t, string(envFile), "\nSSL_CERT_FILE="+caPath+"\n")
	assert.NotContains(t, string(envFile), "export ")

	cfg, err := os.ReadFile(filepath.Join(home, "config.toml"))
	require.NoError(t, err)
	for _, want := range []string{"openai_base_url = \"https://127.0.0.1:", "check_for_update_on_startup = false",
		"[analytics]\nenabled = false", "[feedback]\nenabled = false", "[otel]\nexporter = \"none\"", "[features]\nuse_agent_identity = true"} {
		assert.Contains(t, string(cfg), want)
	}

	// A client trusting the CA reaches workspace discovery with the minted
	// login; the request is logged without the token.
	af, err := codexhome.OpenStore(home).Read()
	require.NoError(t, err)
	token := af.Tokens().AccessToken.Reveal()
	addSecret(t, "served access token", token)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := strings.TrimSuffix(strings.SplitN(strings.SplitN(codexLine, "CODEX_REFRESH_TOKEN_URL_OVERRIDE=", 2)[1], " ", 2)[0], "/oauth/token")
	req, err := http.NewRequest("GET", base+"/backend-api/wham/accounts/check", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(body), `"workspace_backend_origin":"`+base+`"`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	rest2, _ := io.ReadAll(stdout)
	out.Write(rest2)
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), "agentid: GET /backend-api/wham/accounts/check Bearer verified 200\n")
	assert.NotContains(t, stderr.String(), token)
	recordOutput(result{args: []string{"serve", "--tls", "--codex-home", home}, stdout: out.String(), stderr: stderr.String()}, nil, false)
}
