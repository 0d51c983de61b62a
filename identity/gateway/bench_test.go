package gateway_test

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
)

// The benchmarks run beside their baseline, BenchmarkEd25519Verify, in one
// `go test -bench`: the Verifier's uncached cost should stay within 1.10×
// of one ed25519.Verify, and a repeated header within 0.02×.

type benchSetup struct {
	pub  ed25519.PublicKey
	msg  []byte
	sig  []byte
	req  *http.Request
	keys gateway.StaticKeys
	now  func() time.Time
}

func newBench(b *testing.B) benchSetup {
	a := newTestAgent(b, "agent-123", "acct-1", false)
	header := a.header(b, "task-123", testNow)
	r := httptest.NewRequest(http.MethodPost, "/backend-api/codex/responses", nil)
	r.Header.Set("Authorization", header)
	r.Header.Set("ChatGPT-Account-ID", "acct-1")
	_, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("agent-123:task-123:2026-05-06T07:08:09Z")
	return benchSetup{
		pub: priv.Public().(ed25519.PublicKey), msg: msg, sig: ed25519.Sign(priv, msg),
		req: r, keys: gateway.StaticKeys{"agent-123": a.agent},
		now: func() time.Time { return testNow },
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	s := newBench(b)
	for b.Loop() {
		if !ed25519.Verify(s.pub, s.msg, s.sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkVerifierUncached(b *testing.B) {
	s := newBench(b)
	v := &gateway.Verifier{Keys: s.keys, Now: s.now, CacheEntries: -1}
	for b.Loop() {
		if _, err := v.Verify(s.req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifierCachedRepeat(b *testing.B) {
	s := newBench(b)
	v := &gateway.Verifier{Keys: s.keys, Now: s.now}
	for b.Loop() {
		if _, err := v.Verify(s.req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEd25519VerifyParallel(b *testing.B) {
	s := newBench(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(s.pub, s.msg, s.sig) {
				b.Error("verify failed")
			}
		}
	})
}

func BenchmarkVerifierUncachedParallel(b *testing.B) {
	s := newBench(b)
	v := &gateway.Verifier{Keys: s.keys, Now: s.now, CacheEntries: -1}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(s.req); err != nil {
				b.Error(err)
			}
		}
	})
}

func BenchmarkVerifierCachedRepeatParallel(b *testing.B) {
	s := newBench(b)
	v := &gateway.Verifier{Keys: s.keys, Now: s.now}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(s.req); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkMiddlewareCachedRepeat is the whole middleware on a repeated
// header: route class, verification, the context value, next.
func BenchmarkMiddlewareCachedRepeat(b *testing.B) {
	s := newBench(b)
	v := &gateway.Verifier{Keys: s.keys, Now: s.now}
	h := v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := httptest.NewRecorder()
	for b.Loop() {
		h.ServeHTTP(w, s.req)
	}
}

// BenchmarkProxyCost measures, in one run, one request through a bare
// httputil.ReverseProxy to a loopback upstream and the same request through
// Verifier.Middleware in front of the same proxy: with the cache warm (one
// header repeated) and with every header new (a new task id each request,
// three times as many headers as the cache holds), beside one
// ed25519.Verify. Each reports ns/op and cpu-ns/op (the process's user and
// system time per request, upstream included, which other processes on a
// busy machine do not inflate). The ratios are logged at the end (-v), as
// medians over -count runs, in CPU time: the targets are warm/bare ≤ 1.10
// and (cold-bare)/ed25519 ≤ 1.5.
func BenchmarkProxyCost(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer upstream.Close()
	u, err := url.Parse(upstream.URL)
	if err != nil {
		b.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }, Transport: transport}

	a := newTestAgent(b, "agent-123", "acct-1", false)
	keys := gateway.StaticKeys{"agent-123": a.agent}
	now := func() time.Time { return testNow }
	const distinct = 3 * 4096 // three times the default cache: every lookup misses
	headers := make([]string, distinct)
	for i := range headers {
		headers[i] = a.header(b, fmt.Sprintf("task-%08d", i), testNow)
	}
	request := func(header string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://gw.example/backend-api/codex/responses", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", header)
		r.Header.Set("ChatGPT-Account-ID", "acct-1")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", "codex_cli_rs/0.171.0")
		return r
	}
	serve := func(b *testing.B, h http.Handler, r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	cpu := map[string][]float64{}
	measure := func(b *testing.B, name string, loop func()) {
		b.ReportAllocs()
		start := processCPU(b)
		loop()
		used := float64(processCPU(b) - start)
		b.ReportMetric(used/float64(b.N), "cpu-ns/op")
		if b.N >= 100 {
			cpu[name] = append(cpu[name], used/float64(b.N))
		}
	}
	b.Run("ed25519", func(b *testing.B) {
		s := newBench(b)
		measure(b, "ed25519", func() {
			for b.Loop() {
				ed25519.Verify(s.pub, s.msg, s.sig)
			}
		})
	})
	b.Run("bare", func(b *testing.B) {
		r := request(headers[0])
		measure(b, "bare", func() {
			for b.Loop() {
				serve(b, proxy, r)
			}
		})
	})
	// One signature check in front of the bare proxy: what a verification
	// costs between requests, with the caches the proxy leaves behind.
	b.Run("bare+ed25519", func(b *testing.B) {
		s := newBench(b)
		r := request(headers[0])
		measure(b, "bare+ed25519", func() {
			for b.Loop() {
				if !ed25519.Verify(s.pub, s.msg, s.sig) {
					b.Fatal("verify failed")
				}
				serve(b, proxy, r)
			}
		})
	})
	b.Run("warm", func(b *testing.B) {
		v := &gateway.Verifier{Keys: keys, Now: now, Logger: slog.New(slog.DiscardHandler)}
		h := v.Middleware(proxy)
		r := request(headers[0])
		measure(b, "warm", func() {
			for b.Loop() {
				serve(b, h, r)
			}
		})
	})
	b.Run("cold", func(b *testing.B) {
		v := &gateway.Verifier{Keys: keys, Now: now, Logger: slog.New(slog.DiscardHandler)}
		h := v.Middleware(proxy)
		r := request(headers[0])
		i := 0
		measure(b, "cold", func() {
			for b.Loop() {
				r.Header["Authorization"] = headers[i%distinct : i%distinct+1]
				serve(b, h, r)
				i++
			}
		})
		if s := v.CacheStats(); s.Hits != 0 {
			b.Fatalf("cold run hit the cache %d times", s.Hits)
		}
	})
	m := func(name string) float64 {
		xs := slices.Clone(cpu[name])
		if len(xs) == 0 {
			return 0
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	if bare, ed := m("bare"), m("ed25519"); bare > 0 && ed > 0 {
		b.Logf("CPU medians of %d runs: warm/bare = %.3f (≤ 1.10); (cold-bare)/ed25519 = %.3f (≤ 1.5); "+
			"(cold-bare)/(bare+ed25519-bare) = %.3f; bare %.0f ns, warm %.0f ns, cold %.0f ns, ed25519 %.0f ns, bare+ed25519 %.0f ns",
			len(cpu["bare"]), m("warm")/bare, (m("cold")-bare)/ed, (m("cold")-bare)/(m("bare+ed25519")-bare),
			bare, m("warm"), m("cold"), ed, m("bare+ed25519"))
	}
}
