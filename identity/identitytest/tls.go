package identitytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// testCA is the certificate authority of one TLS server: made when the
// server starts, its private key only ever in memory, for server
// authentication only and name-constrained to loopback so that trusting it
// cannot vouch for any other host, a client, a mailbox or a URI.
type testCA struct {
	pool   *x509.CertPool
	pem    []byte
	config *tls.Config // the server side: the leaf and the CA certificate
}

// loopbackNets are the IP ranges the test CA may certify.
var loopbackNets = []*net.IPNet{
	{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// newTestCA makes a CA (ECDSA P-256, valid for a day, for server
// authentication only, name-constrained to 127.0.0.0/8, ::1 and localhost
// with every e-mail address and URI excluded) and a leaf certificate for
// 127.0.0.1, ::1 and localhost signed by it. The CA key is dropped on
// return.
func newTestCA(now time.Time) (*testCA, error) {
	ca, caKey, err := makeCA(now)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identitytest: leaf key: %w", err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate(now), ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("identitytest: leaf certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testCA{
		pool: pool,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		config: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, ca.Raw}, PrivateKey: leafKey}},
			// h2 for ordinary requests; http/1.1 for WebSocket upgrades.
			NextProtos: []string{"h2", "http/1.1"},
			MinVersion: tls.VersionTLS12,
		},
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails (Go 1.24+)
	return n
}

// makeCA makes the CA certificate and its key. Trusting the certificate
// trusts it for one thing only: a TLS server on loopback. Its extended key
// usage is server authentication alone (a verifier refuses a chain whose
// leaf claims any other use), and its name constraints permit the loopback
// names and exclude every e-mail address and URI (an empty constraint
// matches every name of its kind), so no leaf it signs can vouch for a
// mailbox, a client or a code signer.
func makeCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identitytest: CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: "identitytest loopback CA (test only)"},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(24 * time.Hour),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:                 []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges:           loopbackNets,
		ExcludedEmailAddresses:      []string{""},
		ExcludedURIDomains:          []string{""},
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("identitytest: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, fmt.Errorf("identitytest: CA certificate: %w", err)
	}
	return ca, caKey, nil
}

// leafTemplate is the server's certificate: localhost, 127.0.0.1 and ::1,
// for server authentication.
func leafTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
}

// CertPool returns a new pool holding the server's CA certificate, for the
// RootCAs of a client; nil for a plain-http server.
func (s *Server) CertPool() *x509.CertPool {
	if s.ca == nil {
		return nil
	}
	return s.ca.pool.Clone()
}

// CACertificatePEM returns the server's CA certificate (and only the
// certificate; the CA key never leaves memory) in PEM, for a client that
// reads its trust from a file (SSL_CERT_FILE, CODEX_CA_CERTIFICATE); nil
// for a plain-http server.
func (s *Server) CACertificatePEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca.pem...)
}

// tlsClient returns a client that trusts only the server's CA.
func (s *Server) tlsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.ca.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}
