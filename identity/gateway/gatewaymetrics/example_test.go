package gatewaymetrics_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/gateway/gatewaymetrics"
)

// An application that mounts the gateway middleware registers its metrics
// and serves them on its own admin listener.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "gatewaymetrics")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "agents.jsonl")
	_ = os.WriteFile(path, nil, 0o600) // no agents yet

	v := &gateway.Verifier{Routes: gateway.Routes{BasePath: "/backend-api"}, Logger: slog.New(slog.DiscardHandler)}
	m := gatewaymetrics.New(v)
	v.OnOutcome = m.Observe
	keys, err := gateway.NewFileKeys(path, gateway.FileKeysOptions{OnReload: m.KeysReloaded, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	v.Keys = keys
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	app := v.Middleware(http.NotFoundHandler())
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/backend-api/codex/responses", nil))

	metrics := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(metrics, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	fmt.Println(metrics.Code)
	// Output: 200
}
