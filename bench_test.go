package agentidentity

import (
	"net/url"
	"testing"
)

// BenchmarkResolve resolves every accepted spelling of every table URL; it
// must report 0 allocs/op.
func BenchmarkResolve(b *testing.B) {
	inputs := allAcceptedInputs(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Resolve(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveRefused measures the refusal path, which builds an error.
func BenchmarkResolveRefused(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve("https://chatgpt.com.evil.com/backend-api"); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkURLParseBaseline is the standard-library baseline: net/url.Parse
// of the same inputs, without any lookup.
func BenchmarkURLParseBaseline(b *testing.B) {
	inputs := allAcceptedInputs(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := url.Parse(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveWithOverrides resolves a custom loopback deployment.
func BenchmarkResolveWithOverrides(b *testing.B) {
	o := Overrides{AuthAPIBaseURL: "http://localhost:8081/api/accounts", JWKSBaseURL: "http://localhost:8080/api/codex"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ResolveWithOverrides("http://localhost:8080/api/codex", o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWKSURL derives the production JWKS URL.
func BenchmarkJWKSURL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := JWKSURL(DefaultChatGPTBaseURL); err != nil {
			b.Fatal(err)
		}
	}
}
