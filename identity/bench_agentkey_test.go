package identity_test

import (
	"context"
	"crypto"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// BenchmarkTransportRoundTripAgentKey is BenchmarkTransportRoundTrip with the
// agent key in a real ssh-agent (NewSSHAgentKey, NewSignerFromCrypto). The
// header is reused within its second, so the agent is asked about once a
// second and its latency is hidden: the two should be within 10 %. Compare
// with BenchmarkSSHAgentSign, the cost of one signature through the agent.
func BenchmarkTransportRoundTripAgentKey(b *testing.B) {
	k := benchAgentKey(b)
	s, err := identity.NewSignerFromCrypto("agent-bench", k)
	if err != nil {
		b.Fatal(err)
	}
	ra, err := identity.NewRunAuth(s, &identity.Client{AuthAPIBaseURL: "https://auth.openai.com/api/accounts"}, identity.RunAuthOptions{Account: codexhome.Account{AccountID: "account-1", FedRAMP: true}, TaskID: "task-bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ra.TaskID(context.Background()); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkSSHAgentSign is one Ed25519 signature through a real ssh-agent:
// what a request would cost without the per-second header reuse.
func BenchmarkSSHAgentSign(b *testing.B) {
	k := benchAgentKey(b)
	msg := []byte("agent-bench:task-bench:2026-01-02T03:04:05Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(nil, msg, crypto.Hash(0)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAgentKey starts a real ssh-agent holding a fresh key.
func benchAgentKey(b *testing.B) *identity.SSHAgentKey {
	b.Helper()
	a := startSSHAgent(b, filepath.Join(shortDir(b), "agent.sock"))
	line := a.add(b, newKey(b))
	return openAgentKey(b, a.sock, line, 5*time.Second)
}
