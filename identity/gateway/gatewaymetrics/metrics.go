// Package gatewaymetrics counts what a gateway.Verifier and its Middleware
// do, as a prometheus.Collector that an application mounting the
// middleware registers with its own registry:
//
//	v := &gateway.Verifier{Routes: routes}
//	m := gatewaymetrics.New(v)
//	v.OnOutcome = m.Observe
//	v.Keys, err = gateway.NewFileKeys(path, gateway.FileKeysOptions{OnReload: m.KeysReloaded})
//	...
//	prometheus.MustRegister(m)
//	http.Handle("/", v.Middleware(proxy))
//
// It is a package of its own so that package gateway links no metrics
// library.
//
// The metrics, all prefixed agentid_gateway_:
//
//   - requests_total{route,outcome,reason}: every request Middleware saw;
//     route is "inference", "no-credential", "other" or "outside", outcome
//     "verified", "passed" or "refused", reason gateway.Outcome.Reason;
//   - verification_duration_seconds{cached}: a histogram of the time
//     Middleware spent verifying a request ("true": the header's signature
//     was verified earlier);
//   - cache_hits_total, cache_misses_total, cache_evictions_total,
//     cache_entries, cache_bytes: the Verifier's cache (Verifier.CacheStats);
//   - keys_reloads_total, keys_reload_failures_total, keys_agents: the keys
//     file's reloads (FileKeysOptions.OnReload) and the agents in use;
//   - upstream_errors_total{kind}: requests the proxy behind the middleware
//     could not forward ("canceled": the client went away first, "timeout",
//     "other"), counted by UpstreamError.
package gatewaymetrics

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentidentity/agentidentity/identity/gateway"
)

const namespace = "agentid_gateway"

// Metrics holds a gateway's metrics. It is safe for concurrent use; its
// zero value is not usable: call New.
type Metrics struct {
	verifier *gateway.Verifier

	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	reloads        prometheus.Counter
	reloadFailures prometheus.Counter
	agents         prometheus.Gauge
	upstreamErrors *prometheus.CounterVec

	cacheHits, cacheMisses, cacheEvictions, cacheEntries, cacheBytes *prometheus.Desc
}

// New returns the metrics of v, whose cache it reads when collected (nil:
// no cache metrics). Set v.OnOutcome to Observe, and the keys file's
// FileKeysOptions.OnReload to KeysReloaded, for the others.
func New(v *gateway.Verifier) *Metrics {
	name := func(n string) string { return prometheus.BuildFQName(namespace, "", n) }
	m := &Metrics{
		verifier: v,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("requests_total"), Help: "Requests the gateway middleware saw, by route class, outcome and reason.",
		}, []string{"route", "outcome", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("verification_duration_seconds"), Help: "Time spent verifying a request's AgentAssertion, by whether its signature was verified earlier.",
			Buckets: prometheus.ExponentialBucketsRange(5e-6, 1, 12),
		}, []string{"cached"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: name("keys_reloads_total"), Help: "New versions of the keys file put in use.",
		}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: name("keys_reload_failures_total"), Help: "Versions of the keys file refused (the last good set stayed in use), and times it became unreadable.",
		}),
		agents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name("keys_agents"), Help: "Agents in the keys set in use.",
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("upstream_errors_total"), Help: "Requests the proxy could not forward to the upstream, by kind.",
		}, []string{"kind"}),
		cacheHits:      prometheus.NewDesc(name("cache_hits_total"), "Verified-header cache lookups that found the header.", nil, nil),
		cacheMisses:    prometheus.NewDesc(name("cache_misses_total"), "Verified-header cache lookups that did not.", nil, nil),
		cacheEvictions: prometheus.NewDesc(name("cache_evictions_total"), "Headers dropped from the cache (window closed or bound reached).", nil, nil),
		cacheEntries:   prometheus.NewDesc(name("cache_entries"), "Headers in the cache.", nil, nil),
		cacheBytes:     prometheus.NewDesc(name("cache_bytes"), "Bytes the cache accounts for.", nil, nil),
	}
	for _, kind := range []string{"canceled", "timeout", "other"} {
		m.upstreamErrors.WithLabelValues(kind)
	}
	return m
}

// Observe counts one request; set it as gateway.Verifier.OnOutcome.
func (m *Metrics) Observe(o gateway.Outcome) {
	outcome := "refused"
	switch {
	case o.Status == 0 && o.Reason == "pass_through":
		outcome = "passed"
	case o.Status == 0:
		outcome = "verified"
	}
	m.requests.WithLabelValues(o.Route, outcome, o.Reason).Inc()
	if o.Duration > 0 {
		m.latency.WithLabelValues(strconv.FormatBool(o.Cached)).Observe(o.Duration.Seconds())
	}
}

// KeysReloaded counts one read of a new version of the keys file; set it
// as gateway.FileKeysOptions.OnReload.
func (m *Metrics) KeysReloaded(agents int, err error) {
	if err != nil {
		m.reloadFailures.Inc()
	} else {
		m.reloads.Inc()
	}
	m.agents.Set(float64(agents))
}

// UpstreamError counts one request that the proxy behind the middleware
// could not forward (call it from httputil.ReverseProxy.ErrorHandler).
func (m *Metrics) UpstreamError(err error) {
	var ne net.Error
	kind := "other"
	switch {
	case errors.Is(err, context.Canceled):
		kind = "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		kind = "timeout"
	}
	m.upstreamErrors.WithLabelValues(kind).Inc()
}

// Describe sends the descriptors of every metric (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.latency.Describe(ch)
	m.reloads.Describe(ch)
	m.reloadFailures.Describe(ch)
	m.agents.Describe(ch)
	m.upstreamErrors.Describe(ch)
	for _, d := range []*prometheus.Desc{m.cacheHits, m.cacheMisses, m.cacheEvictions, m.cacheEntries, m.cacheBytes} {
		ch <- d
	}
}

// Collect sends every metric's value (prometheus.Collector); the cache's
// are read from the Verifier now.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.latency.Collect(ch)
	m.reloads.Collect(ch)
	m.reloadFailures.Collect(ch)
	m.agents.Collect(ch)
	m.upstreamErrors.Collect(ch)
	if m.verifier == nil {
		return
	}
	s := m.verifier.CacheStats()
	ch <- prometheus.MustNewConstMetric(m.cacheHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(m.cacheMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(m.cacheEvictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(m.cacheEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(m.cacheBytes, prometheus.GaugeValue, float64(s.Bytes))
}
