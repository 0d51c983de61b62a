package identity_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// TestLoadTrustsCODEX_CA_CERTIFICATE: with no HTTPClient, Load trusts the PEM
// bundle CODEX_CA_CERTIFICATE names (read through Getenv) in addition to the
// system roots, as the Codex CLI does; a missing or bad bundle fails Load
// before any request.
func TestLoadTrustsCODEX_CA_CERTIFICATE(t *testing.T) {
	srv := identitytest.NewTLSServer()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, srv.CACertificatePEM(), 0o600))
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello\n"), 0o600))
	tok, err := srv.MintAgentJWT(identitytest.JWTOptions{})
	require.NoError(t, err)
	home := filepath.Join(dir, "home")
	require.NoError(t, srv.WriteCodexHome(home, identitytest.CodexHomeOptions{AgentJWT: tok}))

	tests := []struct {
		name    string
		ca      string
		wantErr []error
	}{
		{"the bundle is trusted", ca, nil},
		{"without it the fake's CA is unknown", "", []error{x509.UnknownAuthorityError{}}},
		{"a missing file fails closed", filepath.Join(dir, "absent.pem"), []error{identity.ErrInvalidCACertificate, fs.ErrNotExist}},
		{"a file without certificates fails closed", notPEM, []error{identity.ErrInvalidCACertificate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Stats().JWKSFetches
			getenv := srv.Getenv(func(k string) string {
				if k == "CODEX_CA_CERTIFICATE" {
					return tt.ca
				}
				return ""
			})
			auth, err := identity.Load(context.Background(), identity.LoadOptions{CodexHome: home, Getenv: getenv})
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.NotEmpty(t, auth.AgentRuntimeID())
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				if ua, ok := want.(x509.UnknownAuthorityError); ok {
					assert.True(t, errors.As(err, &ua), "%v", err)
					continue
				}
				assert.ErrorIs(t, err, want)
			}
			if errors.Is(err, identity.ErrInvalidCACertificate) {
				assert.Equal(t, before, srv.Stats().JWKSFetches, "nothing is sent")
				assert.Contains(t, err.Error(), "CODEX_CA_CERTIFICATE="+tt.ca)
			}
		})
	}
}
