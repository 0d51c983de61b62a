package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/testkit"
)

// TestGatewayCommandTLS: with --tls-cert and --tls-key the gateway serves
// https (Codex requires an https workspace origin); a request signed by a
// RunAuth over TLS passes with the identity headers set, a forged one gets
// 401 and never reaches the upstream.
func TestGatewayCommandTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeLoopbackCert(t, dir)
	up := &upstreamRecorder{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	a := newGWAgent(t, "agent-1", "acct-1")
	keys := filepath.Join(dir, "agents.jsonl")
	require.NoError(t, os.WriteFile(keys, []byte(a.line+"\n"), 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "gateway", "--keys", keys, "--upstream", upstream.URL,
		"--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "no listening line; stderr: %s", stderr.String())
	line := sc.Text()
	_, rest, ok := strings.Cut(line, "listening on ")
	require.True(t, ok, line)
	gw, _, _ := strings.Cut(rest, ",")
	require.True(t, strings.HasPrefix(gw, "https://127.0.0.1:"), line)

	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer base.CloseIdleConnections()
	resp, err := runAuthClient(t, a, gw, "task-1", "acct-1", base).Post(gw+"/backend-api/codex/responses", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, []string{"agent-1"}, up.last()["X-Agent-Runtime-Id"])
	assert.Equal(t, []string{"task-1"}, up.last()["X-Agent-Task-Id"])

	n := up.count()
	forger := newGWAgent(t, "agent-1", "acct-1")
	resp, err = runAuthClient(t, forger, gw, "task-1", "acct-1", base).Post(gw+"/backend-api/codex/responses", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, n, up.count(), "a forged request never reaches the upstream")

	// Plain http to the TLS listener gets no answer a client could use.
	plain, err := http.Get(strings.Replace(gw, "https://", "http://", 1) + "/backend-api/codex/responses")
	if err == nil {
		plain.Body.Close()
		assert.NotEqual(t, http.StatusOK, plain.StatusCode)
	}
}

// writeLoopbackCert writes a self-signed certificate for 127.0.0.1 and its
// key (mode 0600) into dir and returns their paths and a pool trusting it.
func writeLoopbackCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "agentid gateway test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
