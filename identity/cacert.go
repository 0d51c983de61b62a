package identity

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/agentidentity/agentidentity/internal/cacert"
)

// ErrInvalidCACertificate is wrapped by the error of [Load] when
// CODEX_CA_CERTIFICATE names a file that cannot be read or holds no usable
// PEM certificate. As in the Codex CLI, nothing is sent then (a missing
// trust anchor is never silently replaced by the system roots alone).
var ErrInvalidCACertificate = errors.New("identity: unusable CODEX_CA_CERTIFICATE")

// caHTTPClient is the client [Load] uses when LoadOptions.HTTPClient is nil:
// nil (the defaults) when CODEX_CA_CERTIFICATE is not set, else the default
// registration client trusting the system roots and that bundle.
func caHTTPClient(getenv func(string) string) (*http.Client, error) {
	pool, err := cacert.Pool(getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCACertificate, err)
	}
	if pool == nil {
		return nil, nil
	}
	c := *defaultRegistrationClient()
	t := c.Transport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.Transport = t
	return &c, nil
}
