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
// ed25519.Verify. bare, warm and cold report ns/op and allocations;
// interleaved runs the four request by request and reports the medians and
// the ratios warm/bare (target ≤ 1.10) and (cold-bare)/ed25519 (target ≤
// 1.5). Take the median of several -count runs.
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
	newHandler := func() (http.Handler, *gateway.Verifier) {
		v := &gateway.Verifier{Keys: keys, Now: now, Logger: slog.New(slog.DiscardHandler)}
		return v.Middleware(proxy), v
	}
	bare := proxy
	serve := func(b *testing.B, h http.Handler, r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	measure := func(b *testing.B, loop func()) {
		b.ReportAllocs()
		loop()
	}
	b.Run("ed25519", func(b *testing.B) {
		s := newBench(b)
		measure(b, func() {
			for b.Loop() {
				ed25519.Verify(s.pub, s.msg, s.sig)
			}
		})
	})
	b.Run("bare", func(b *testing.B) {
		r := request(headers[0])
		measure(b, func() {
			for b.Loop() {
				serve(b, bare, r)
			}
		})
	})
	b.Run("warm", func(b *testing.B) {
		h, _ := newHandler()
		r := request(headers[0])
		measure(b, func() {
			for b.Loop() {
				serve(b, h, r)
			}
		})
	})
	b.Run("cold", func(b *testing.B) {
		h, v := newHandler()
		r := request(headers[0])
		i := 0
		measure(b, func() {
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
	// The four, interleaved request by request (the order rotating), so
	// that a busy machine slows them alike; the medians of the single
	// requests' times give the ratios, reported as metrics.
	b.Run("interleaved", func(b *testing.B) {
		pub, priv, _ := ed25519.GenerateKey(nil)
		msg := []byte("agent-123:task-123:2026-05-06T07:08:09Z")
		sig := ed25519.Sign(priv, msg)
		warm, _ := newHandler()
		cold, v := newHandler()
		warmReq, coldReq, bareReq := request(headers[0]), request(headers[0]), request(headers[0])
		var times [4][]time.Duration
		next := 0
		steps := [4]func(){
			func() { serve(b, bare, bareReq) },
			func() { serve(b, warm, warmReq) },
			func() {
				coldReq.Header["Authorization"] = headers[next%distinct : next%distinct+1]
				next++
				serve(b, cold, coldReq)
			},
			func() { ed25519.Verify(pub, msg, sig) },
		}
		i := 0
		for b.Loop() {
			for k := range 4 {
				j := (i + k) % 4
				start := time.Now()
				steps[j]()
				times[j] = append(times[j], time.Since(start))
			}
			i++
		}
		if s := v.CacheStats(); s.Hits != 0 {
			b.Fatalf("cold run hit the cache %d times", s.Hits)
		}
		var med [4]float64
		for j := range times {
			slices.Sort(times[j])
			med[j] = float64(times[j][len(times[j])/2])
		}
		b.ReportMetric(med[0], "bare-ns")
		b.ReportMetric(med[1], "warm-ns")
		b.ReportMetric(med[2], "cold-ns")
		b.ReportMetric(med[3], "ed25519-ns")
		b.ReportMetric(med[1]/med[0], "warm/bare")
		b.ReportMetric((med[2]-med[0])/med[3], "(cold-bare)/ed25519")
	})
}
