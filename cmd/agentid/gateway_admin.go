package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/gateway/gatewaymetrics"
)

// upstreamDialTimeout bounds /readyz's check of the upstream.
const upstreamDialTimeout = 2 * time.Second

// adminHandler serves the admin listener: /healthz (the process is up),
// /readyz (the keys are loaded and the upstream accepts a TCP connection)
// and /metrics (the gateway's metrics with the Go and process collectors,
// in the Prometheus text format).
func adminHandler(m *gatewaymetrics.Metrics, keys *gateway.FileKeys, upstream *url.URL) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"keys": "loaded", "agents": keys.Len(), "upstream": "reachable"}
		status := http.StatusOK
		if err := dialUpstream(r.Context(), upstream); err != nil {
			body["upstream"] = "unreachable"
			status = http.StatusServiceUnavailable
		}
		writeAdminJSON(w, status, body)
	})
	return mux
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// dialUpstream opens and closes a TCP connection to the upstream's host.
func dialUpstream(ctx context.Context, u *url.URL) error {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamDialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return err
	}
	return c.Close()
}
