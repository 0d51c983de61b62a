// Package cacert reads the custom certificate authorities the Codex CLI
// takes from CODEX_CA_CERTIFICATE: a PEM bundle whose certificates are
// trusted in addition to the system roots. SSL_CERT_FILE needs nothing here:
// crypto/x509 reads it for the system roots themselves.
package cacert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/agentidentity/agentidentity/internal/limitio"
)

// Names of the variables.
const (
	EnvCodexCACertificate = "CODEX_CA_CERTIFICATE"
	EnvSSLCertFile        = "SSL_CERT_FILE"
)

// maxBundleSize bounds the bundle read (a full public-roots bundle is about
// 250 KiB).
const maxBundleSize = 4 << 20

// ErrBundle is wrapped by the error for a bundle that holds no usable
// certificate.
var ErrBundle = errors.New("not a PEM bundle of certificates")

// Pool returns the system roots plus the certificates of the PEM bundle
// that getenv(CODEX_CA_CERTIFICATE) names, or nil, nil when the variable is
// not set. A bundle that cannot be read, holds no CERTIFICATE block or a
// certificate that does not parse is an error: Codex fails every connection
// then, and so does this module (closed, with the reason), rather than
// trusting less or more than was asked. Blocks of other types (and text
// between blocks) are skipped, as in the bundles operating systems ship.
func Pool(getenv func(string) string) (*x509.CertPool, error) {
	path := getenv(EnvCodexCACertificate)
	if path == "" {
		return nil, nil
	}
	certs, err := readBundle(path)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvCodexCACertificate, path, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// readBundle reads the bundle at path. A path that is not a regular file
// (a FIFO, device, socket or directory) is refused by stat before it is
// opened, so that opening never blocks on a FIFO without a writer, and
// again by fstat after the open.
func readBundle(path string) ([]*x509.Certificate, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrBundle)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrBundle)
	}
	data, err := limitio.ReadAll(f, maxBundleSize)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM block %d: %w", ErrBundle, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block", ErrBundle)
	}
	return certs, nil
}
