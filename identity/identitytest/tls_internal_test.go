package identitytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTestCAServerAuthOnly: trusting the per-run CA trusts it for a TLS
// server on loopback and nothing else: a leaf it signs for client
// authentication, code signing, an e-mail address or a URI does not verify.
func TestTestCAServerAuthOnly(t *testing.T) {
	now := time.Now()
	ca, caKey, err := makeCA(now)
	require.NoError(t, err)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ca.ExtKeyUsage)
	assert.Equal(t, []string{""}, ca.ExcludedEmailAddresses)
	assert.Equal(t, []string{""}, ca.ExcludedURIDomains)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	u, err := url.Parse("https://localhost/x")
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		edit  func(*x509.Certificate)
		usage x509.ExtKeyUsage
		ok    bool
	}{
		{"the server leaf", func(*x509.Certificate) {}, x509.ExtKeyUsageServerAuth, true},
		{"client auth leaf", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, x509.ExtKeyUsageClientAuth, false},
		{"server and client auth leaf, as a client", func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}, x509.ExtKeyUsageClientAuth, false},
		{"leaf without EKU, as a client", func(c *x509.Certificate) { c.ExtKeyUsage = nil }, x509.ExtKeyUsageClientAuth, false},
		{"code signing leaf", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning} }, x509.ExtKeyUsageCodeSigning, false},
		{"e-mail protection leaf", func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
			c.EmailAddresses = []string{"someone@localhost"}
		}, x509.ExtKeyUsageEmailProtection, false},
		{"e-mail SAN on a server leaf", func(c *x509.Certificate) { c.EmailAddresses = []string{"someone@example.com"} }, x509.ExtKeyUsageServerAuth, false},
		{"URI SAN on a server leaf", func(c *x509.Certificate) { c.URIs = []*url.URL{u} }, x509.ExtKeyUsageServerAuth, false},
		{"a host outside loopback", func(c *x509.Certificate) { c.DNSNames = []string{"example.com"} }, x509.ExtKeyUsageServerAuth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := leafTemplate(now)
			tc.edit(tmpl)
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
			require.NoError(t, err)
			leaf, err := x509.ParseCertificate(der)
			require.NoError(t, err)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if tc.ok {
				require.NoError(t, err)
				_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: "127.0.0.1"})
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
