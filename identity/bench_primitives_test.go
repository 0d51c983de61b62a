package identity

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
)

// The baselines sign and verify the same colon payload with crypto/ed25519,
// so `go test -bench .` shows the cost of the envelope directly.

func benchSetup(b *testing.B) (*Signer, string, []byte, []byte, time.Time) {
	s := testSigner(b)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, err := s.AuthorizationHeader("task_7f3c2a9e-41d2-4b8e-9c1a-0f5e6d7c8b9a", at)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(s.AgentRuntimeID() + ":task_7f3c2a9e-41d2-4b8e-9c1a-0f5e6d7c8b9a:2026-01-02T03:04:05Z")
	return s, h, msg, ed25519.Sign(s.key.Get().priv, msg), at
}

func BenchmarkEd25519Sign(b *testing.B) {
	s, _, msg, _, _ := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(s.key.Get().priv, msg)
	}
}

func BenchmarkAuthorizationHeader(b *testing.B) {
	s, _, _, _, at := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AuthorizationHeader("task_7f3c2a9e-41d2-4b8e-9c1a-0f5e6d7c8b9a", at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	s, _, msg, sig, _ := benchSetup(b)
	pub := s.PublicKey()
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkVerifyAuthorizationHeader(b *testing.B) {
	s, h, _, _, at := benchSetup(b)
	pub := s.PublicKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gateway.VerifyAuthorizationHeader(h, pub, at, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
