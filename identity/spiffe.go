package identity

import (
	"context"
	"net/url"
	"strings"
)

// The SPIFFE source of a workload identity's assertion
// (docs/protocol.md#workload-identity).
const (
	envSPIFFESocket   = "SPIFFE_ENDPOINT_SOCKET"
	envSPIFFEAudience = "OPENAI_SPIFFE_AUDIENCE"
)

// spiffeAssertion fetches a JWT-SVID for audience from the SPIFFE
// Workload API at socket, for every exchange.
type spiffeAssertion struct {
	socket   string // unix:///absolute/path
	audience string
}

// spiffeFromEnv reads the SPIFFE source's variables: SPIFFE_ENDPOINT_SOCKET
// an absolute unix: URI, OPENAI_SPIFFE_AUDIENCE not blank.
func spiffeFromEnv(lookup func(string) (string, bool)) (assertionSource, error) {
	socket, ok := lookup(envSPIFFESocket)
	if !ok || strings.TrimSpace(socket) == "" {
		return nil, workloadConfigError(nil, "workload identity requires %s", envSPIFFESocket)
	}
	socket = strings.TrimSpace(socket)
	if u, err := url.Parse(socket); err != nil || u.Scheme != "unix" || u.Host != "" || !strings.HasPrefix(u.Path, "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, workloadConfigError(nil, "%s must be an absolute unix: URI (unix:///path/to/socket)", envSPIFFESocket)
	}
	audience, ok := lookup(envSPIFFEAudience)
	if !ok || strings.TrimSpace(audience) == "" {
		return nil, workloadConfigError(nil, "workload identity requires %s", envSPIFFEAudience)
	}
	return spiffeAssertion{socket: socket, audience: strings.TrimSpace(audience)}, nil
}

func (s spiffeAssertion) assertion(context.Context) (string, error) {
	return "", workloadConfigError(nil, "the spiffe source of %s is not available yet", envIdentityTokenSource)
}
