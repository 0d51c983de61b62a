package identity

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
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

// spiffeTimeout bounds one JWT-SVID fetch.
const spiffeTimeout = 10 * time.Second

// assertion fetches a JWT-SVID with the one audience
// OPENAI_SPIFFE_AUDIENCE through the Workload API (go-spiffe dials the
// socket for this fetch and closes it after), checks that the SVID's aud
// holds that audience (go-spiffe also checks it and its exp), and returns
// the token.
func (s spiffeAssertion) assertion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, spiffeTimeout)
	defer cancel()
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: s.audience}, workloadapi.WithAddr(s.socket))
	if err != nil {
		return "", workloadConfigError(err, "could not fetch a JWT-SVID from the SPIFFE Workload API at %s", s.socket)
	}
	if !slices.Contains(svid.Audience, s.audience) {
		return "", workloadConfigError(nil, "the JWT-SVID of the SPIFFE Workload API is not for the audience %s", envSPIFFEAudience)
	}
	return checkAssertion(svid.Marshal())
}
