package gatewaymetrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/gateway/gatewaymetrics"
)

var testNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestMetrics(t *testing.T) {
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	signer, err := identity.NewSigner("agent-1", km.PrivateKeyPKCS8Base64)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "agents.jsonl")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `{"runtime_id":"agent-1","public_key":%q}`+"\n", km.PublicKeySSH), 0o600))

	v := &gateway.Verifier{
		Now:    func() time.Time { return testNow },
		Routes: gateway.Routes{BasePath: "/backend-api", Other: gateway.RoutePassThrough, NoCredential: gateway.RouteRefuse},
		Logger: slog.New(slog.DiscardHandler),
	}
	m := gatewaymetrics.New(v)
	v.OnOutcome = m.Observe
	keys, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{OnReload: m.KeysReloaded, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	v.Keys = keys

	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	header, err := signer.AuthorizationHeader("task-1", testNow)
	require.NoError(t, err)
	for _, tc := range []struct{ path, auth string }{
		{"/backend-api/codex/responses", header},
		{"/backend-api/codex/responses", header}, // a cache hit
		{"/backend-api/codex/responses", ""},
		{"/backend-api/codex/models", "Bearer tok"},
		{"/backend-api/ps/mcp", ""},
	} {
		r := httptest.NewRequest(http.MethodPost, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	require.NoError(t, os.WriteFile(path, []byte("not json\n"), 0o600))
	assert.Error(t, keys.Reload())
	m.UpstreamError(context.Canceled)
	m.UpstreamError(fmt.Errorf("dial: %w", timeoutError{}))
	m.UpstreamError(errors.New("connection refused"))

	const want = `
# HELP agentid_gateway_requests_total Requests the gateway middleware saw, by route class, outcome and reason.
# TYPE agentid_gateway_requests_total counter
agentid_gateway_requests_total{outcome="passed",reason="pass_through",route="other"} 1
agentid_gateway_requests_total{outcome="refused",reason="no_assertion",route="inference"} 1
agentid_gateway_requests_total{outcome="refused",reason="route_refused",route="no-credential"} 1
agentid_gateway_requests_total{outcome="verified",reason="verified",route="inference"} 2
# HELP agentid_gateway_keys_reloads_total New versions of the keys file put in use.
# TYPE agentid_gateway_keys_reloads_total counter
agentid_gateway_keys_reloads_total 1
# HELP agentid_gateway_keys_reload_failures_total Versions of the keys file refused (the last good set stayed in use), and times it became unreadable.
# TYPE agentid_gateway_keys_reload_failures_total counter
agentid_gateway_keys_reload_failures_total 1
# HELP agentid_gateway_keys_agents Agents in the keys set in use.
# TYPE agentid_gateway_keys_agents gauge
agentid_gateway_keys_agents 1
# HELP agentid_gateway_upstream_errors_total Requests the proxy could not forward to the upstream, by kind.
# TYPE agentid_gateway_upstream_errors_total counter
agentid_gateway_upstream_errors_total{kind="canceled"} 1
agentid_gateway_upstream_errors_total{kind="other"} 1
agentid_gateway_upstream_errors_total{kind="timeout"} 1
# HELP agentid_gateway_cache_hits_total Verified-header cache lookups that found the header.
# TYPE agentid_gateway_cache_hits_total counter
agentid_gateway_cache_hits_total 1
# HELP agentid_gateway_cache_misses_total Verified-header cache lookups that did not.
# TYPE agentid_gateway_cache_misses_total counter
agentid_gateway_cache_misses_total 1
# HELP agentid_gateway_cache_entries Headers in the cache.
# TYPE agentid_gateway_cache_entries gauge
agentid_gateway_cache_entries 1
`
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want),
		"agentid_gateway_requests_total", "agentid_gateway_keys_reloads_total", "agentid_gateway_keys_reload_failures_total",
		"agentid_gateway_keys_agents", "agentid_gateway_upstream_errors_total",
		"agentid_gateway_cache_hits_total", "agentid_gateway_cache_misses_total", "agentid_gateway_cache_entries"))

	// Two verifications of which one cached, one refused verification.
	assert.Equal(t, 2, testutil.CollectAndCount(m, "agentid_gateway_verification_duration_seconds"), "one series per cached label")
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "agentid_gateway_verification_duration_seconds" {
			var n uint64
			for _, s := range f.GetMetric() {
				n += s.GetHistogram().GetSampleCount()
			}
			assert.EqualValues(t, 3, n)
		}
	}
	problems, err := testutil.CollectAndLint(m)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestMetricsWithoutVerifier(t *testing.T) {
	m := gatewaymetrics.New(nil)
	m.Observe(gateway.Outcome{Reason: "verified", Route: "inference", Duration: time.Millisecond})
	assert.Equal(t, 2, testutil.CollectAndCount(m, "agentid_gateway_requests_total", "agentid_gateway_verification_duration_seconds"))
	assert.Zero(t, testutil.CollectAndCount(m, "agentid_gateway_cache_hits_total"))
}
