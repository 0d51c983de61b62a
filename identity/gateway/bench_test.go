package gateway_test

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
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
