package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

const (
	testSPIFFEID       = "spiffe://example.org/ns/ci/sa/agent"
	testSPIFFEAudience = "https://auth.openai.com/workload"
)

// workloadAPI is a SPIFFE Workload API server on a unix socket, serving
// FetchJWTSVID from a list of SVIDs (the last one once the list is used
// up), or failing as told.
type workloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	socket string // unix:///…

	mu        sync.Mutex
	svids     []string
	audiences [][]string // what each request asked for
	fail      error      // answered instead of an SVID
	noHeader  int        // requests without the security header
}

func startWorkloadAPI(t *testing.T) *workloadAPI {
	t.Helper()
	dir, err := os.MkdirTemp("", "spiffe") // short: a socket path is limited to about 100 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	api := &workloadAPI{socket: "unix://" + path}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, api)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return api
}

func (a *workloadAPI) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("workload.spiffe.io")) != 1 || md.Get("workload.spiffe.io")[0] != "true" {
		a.noHeader++
		return nil, status.Error(codes.InvalidArgument, "security header missing from request")
	}
	a.audiences = append(a.audiences, req.GetAudience())
	if a.fail != nil {
		return nil, a.fail
	}
	if len(a.svids) == 0 {
		return &workload.JWTSVIDResponse{}, nil
	}
	svid := a.svids[0]
	if len(a.svids) > 1 {
		a.svids = a.svids[1:]
	}
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: testSPIFFEID, Svid: svid}}}, nil
}

func (a *workloadAPI) set(fail error, svids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail, a.svids = fail, svids
}

func (a *workloadAPI) asked() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]string(nil), a.audiences...)
}

var svidKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// mintSVID makes a JWT-SVID for testSPIFFEID (ES256; the Workload API's
// client does not verify it, the token exchange would).
func mintSVID(t *testing.T, aud []string, exp time.Time, extra map[string]any) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": testSPIFFEID, "aud": aud, "exp": exp.Unix(), "iat": time.Now().Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "spiffe-test"
	s, err := tok.SignedString(svidKey())
	require.NoError(t, err)
	return s
}

// spiffeFixture is a workload identity whose assertion comes from a
// Workload API the test runs.
type spiffeFixture struct {
	*workloadFixture
	api *workloadAPI
}

func newSPIFFEFixture(t *testing.T, o identitytest.Options) *spiffeFixture {
	t.Helper()
	f := &spiffeFixture{workloadFixture: newWorkloadFixture(t, o, codexhome.Account{}), api: startWorkloadAPI(t)}
	f.env = map[string]string{
		"OPENAI_FEDERATION_RULE_ID":    testRuleID,
		"OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe",
		"SPIFFE_ENDPOINT_SOCKET":       f.api.socket,
		"OPENAI_SPIFFE_AUDIENCE":       testSPIFFEAudience,
	}
	return f
}

// accept mints an SVID for the audience and makes the fake's exchange
// accept it.
func (f *spiffeFixture) accept(t *testing.T) string {
	t.Helper()
	svid := mintSVID(t, []string{testSPIFFEAudience}, time.Now().Add(5*time.Minute), map[string]any{"jti": randomSuffix(t)})
	_, err := f.srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(svid), f.account)
	require.NoError(t, err)
	return svid
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b64url(string(b))
}

func TestLoadWorkloadIdentitySPIFFE(t *testing.T) {
	clock := &testClock{now: time.Now()}
	restore := identity.SetWorkloadClockForTest(clock.Now)
	defer restore()
	f := newSPIFFEFixture(t, identitytest.Options{Now: clock.Now, TokenExchangeTTL: time.Minute})
	first, second := f.accept(t), f.accept(t)
	f.api.set(nil, first, second)

	ra, err := f.load(t, f.env)
	require.NoError(t, err)
	assert.Empty(t, ra.AgentRuntimeID())
	h, err := ra.Header(context.Background(), f.srv.ChatGPTBaseURL+"/codex/models")
	require.NoError(t, err)
	f.exercise(t, ra, strings.TrimPrefix(h.Get("Authorization"), "Bearer "), f.account)
	assert.Equal(t, [][]string{{testSPIFFEAudience}}, f.api.asked(), "one fetch, for the one audience")
	ex := f.exchanges()
	require.Len(t, ex, 1)
	assert.Equal(t, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="+first+"&federation_rule_id="+testRuleID, string(ex[0].Body),
		"the JWT-SVID is the assertion of the same form")

	// The next exchange fetches a JWT-SVID again.
	clock.Add(31 * time.Second)
	code, _ := postJSON(t, ra.Client(), f.srv.ChatGPTBaseURL+"/codex/responses", []byte(`{}`))
	assert.Equal(t, 200, code)
	ex = f.exchanges()
	require.Len(t, ex, 2)
	assert.Contains(t, string(ex[1].Body), "&assertion="+second+"&")
	assert.Len(t, f.api.asked(), 2)
	assert.Zero(t, f.api.noHeader, "go-spiffe sends the Workload API's security header")
}

// A Workload API that cannot give a usable JWT-SVID fails Load before the
// exchange, with its own error.
func TestLoadWorkloadIdentitySPIFFEHostile(t *testing.T) {
	soon := time.Now().Add(5 * time.Minute)
	tests := []struct {
		name    string
		env     map[string]string                    // replaces the fixture's variables
		serve   func(t *testing.T) ([]string, error) // the API's answer
		wantMsg string
	}{
		{name: "refused by the Workload API", serve: func(*testing.T) ([]string, error) {
			return nil, status.Error(codes.PermissionDenied, "no identity issued")
		}, wantMsg: "could not fetch a JWT-SVID from the SPIFFE Workload API"},
		{name: "no SVID", serve: func(*testing.T) ([]string, error) { return nil, nil },
			wantMsg: "could not fetch a JWT-SVID"},
		{name: "an SVID for another audience", serve: func(t *testing.T) ([]string, error) {
			return []string{mintSVID(t, []string{"https://elsewhere.example"}, soon, nil)}, nil
		}, wantMsg: "could not fetch a JWT-SVID"},
		{name: "an expired SVID", serve: func(t *testing.T) ([]string, error) {
			return []string{mintSVID(t, []string{testSPIFFEAudience}, time.Now().Add(-time.Minute), nil)}, nil
		}, wantMsg: "could not fetch a JWT-SVID"},
		{name: "not a JWT", serve: func(*testing.T) ([]string, error) { return []string{"not-a-jwt"}, nil },
			wantMsg: "could not fetch a JWT-SVID"},
		{name: "an SVID over 16 KiB", serve: func(t *testing.T) ([]string, error) {
			return []string{mintSVID(t, []string{testSPIFFEAudience}, soon, map[string]any{"pad": strings.Repeat("x", 16<<10)})}, nil
		}, wantMsg: "the workload identity assertion exceeds 16 KiB"},
		{name: "no server at the socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///nonexistent/agent.sock"},
			wantMsg: "could not fetch a JWT-SVID from the SPIFFE Workload API at unix:///nonexistent/agent.sock"},
		{name: "a relative socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:agent.sock"},
			wantMsg: "SPIFFE_ENDPOINT_SOCKET must be an absolute unix: URI"},
		{name: "a TCP socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "tcp://127.0.0.1:8081"},
			wantMsg: "SPIFFE_ENDPOINT_SOCKET must be an absolute unix: URI"},
		{name: "a bare path", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "/run/spire/agent.sock"},
			wantMsg: "SPIFFE_ENDPOINT_SOCKET must be an absolute unix: URI"},
		{name: "no socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": ""},
			wantMsg: "workload identity requires SPIFFE_ENDPOINT_SOCKET"},
		{name: "no audience", env: map[string]string{"OPENAI_SPIFFE_AUDIENCE": " "},
			wantMsg: "workload identity requires OPENAI_SPIFFE_AUDIENCE"},
		{name: "no rule", env: map[string]string{"OPENAI_FEDERATION_RULE_ID": ""},
			wantMsg: "workload identity variable OPENAI_FEDERATION_RULE_ID is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSPIFFEFixture(t, identitytest.Options{})
			var svids []string
			if tt.serve != nil {
				var fail error
				svids, fail = tt.serve(t)
				f.api.set(fail, svids...)
				for _, s := range svids {
					if s != "not-a-jwt" {
						_, _ = f.srv.AddWorkloadIdentity(testRuleID, codexhome.NewSecret(s), f.account)
					}
				}
			}
			env := merge(f.env, tt.env)
			for k, v := range tt.env {
				if v == "" && k != "OPENAI_FEDERATION_RULE_ID" {
					delete(env, k) // unset
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			start := time.Now()
			ra, err := identity.Load(ctx, f.options(env))
			require.Error(t, err)
			assert.Nil(t, ra)
			assert.Less(t, time.Since(start), 8*time.Second)
			assert.ErrorIs(t, err, identity.ErrWorkloadIdentityConfig)
			assert.NotErrorIs(t, err, identity.ErrNoAgentIdentity)
			assert.Contains(t, err.Error(), tt.wantMsg)
			for _, s := range svids {
				assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), s, "the SVID is never quoted")
			}
			assert.Empty(t, f.exchanges(), "no exchange")
			assert.Zero(t, f.srv.Stats().TokenExchanges)
		})
	}
}
