package identity_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// cannedTransport answers every request with the same prebuilt response
// and counts the calls, standing in for the network.
type cannedTransport struct {
	calls atomic.Int64
	resp  http.Response
}

func newCanned() *cannedTransport {
	return &cannedTransport{resp: http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return &c.resp, nil
}

func benchRunAuth(b *testing.B) *identity.RunAuth {
	b.Helper()
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		b.Fatal(err)
	}
	s, err := identity.NewSigner("agent-bench", km.PrivateKeyPKCS8Base64)
	if err != nil {
		b.Fatal(err)
	}
	// The task is known, as after the first request of a run: the benchmark
	// measures the per-request cost, which must need no network call.
	ra, err := identity.NewRunAuth(s, &identity.Client{AuthAPIBaseURL: "https://auth.openai.com/api/accounts"}, identity.RunAuthOptions{Account: codexhome.Account{AccountID: "account-1", FedRAMP: true}, TaskID: "task-bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ra.TaskID(context.Background()); err != nil {
		b.Fatal(err)
	}
	return ra
}

func newBenchRequest(b *testing.B) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "https://chatgpt.com/backend-api/codex/responses", http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// BenchmarkTransportRoundTrip is the signing Transport over a canned base.
// Compare with BenchmarkBaseRoundTrip (the base alone) and
// BenchmarkEd25519Sign: the added cost per request is the difference of the
// first two, as a fraction of one signature.
func BenchmarkTransportRoundTrip(b *testing.B) {
	ra := benchRunAuth(b)
	base := newCanned()
	tr := ra.Transport(base)
	req := newBenchRequest(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	b.StopTimer()
	if got := base.calls.Load(); got != int64(b.N) {
		b.Fatalf("%d base calls for %d requests: extra network calls", got, b.N)
	}
}

// BenchmarkBaseRoundTrip is the canned base alone, the floor of
// BenchmarkTransportRoundTrip.
func BenchmarkBaseRoundTrip(b *testing.B) {
	var base http.RoundTripper = newCanned()
	req := newBenchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := base.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
}

// BenchmarkTransportRoundTripParallel is BenchmarkTransportRoundTrip from
// all cores at once, where the per-second header is shared.
func BenchmarkTransportRoundTripParallel(b *testing.B) {
	ra := benchRunAuth(b)
	tr := ra.Transport(newCanned())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := newBenchRequest(b)
		for pb.Next() {
			if _, err := tr.RoundTrip(req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
