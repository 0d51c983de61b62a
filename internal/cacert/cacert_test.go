package cacert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCert(t *testing.T) (*x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cacert test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestPool(t *testing.T) {
	cert, certPEM := testCert(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")})
	tests := []struct {
		name    string
		value   string
		wantNil bool
		wantErr error
	}{
		{"unset", "", true, nil},
		{"one certificate", file("ca.pem", certPEM), false, nil},
		{"a bundle with text and another block type", file("bundle.pem", append(append([]byte("# comment\n"), keyPEM...), certPEM...)), false, nil},
		{"missing file", filepath.Join(dir, "absent.pem"), false, fs.ErrNotExist},
		{"a folder", dir, false, ErrBundle},
		{"no certificate", file("key.pem", keyPEM), false, ErrBundle},
		{"not PEM", file("der.bin", cert.Raw), false, ErrBundle},
		{"a certificate that does not parse", file("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}})), false, ErrBundle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := Pool(func(k string) string {
				if k == EnvCodexCACertificate {
					return tt.value
				}
				return ""
			})
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.True(t, errors.Is(err, tt.wantErr), "%v", err)
				assert.Contains(t, err.Error(), EnvCodexCACertificate+"="+tt.value)
				assert.Nil(t, pool)
				return
			}
			require.NoError(t, err)
			if tt.wantNil {
				assert.Nil(t, pool)
				return
			}
			require.NotNil(t, pool)
			_, err = cert.Verify(x509.VerifyOptions{Roots: pool})
			assert.NoError(t, err, "the bundle's CA is trusted")
		})
	}
}
