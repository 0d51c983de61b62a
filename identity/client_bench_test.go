package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// BenchmarkClientRegisterTask is a full task registration against
// identitytest (signing, HTTP, server-side verification, parsing).
// BenchmarkClientRegisterTaskBaseline is the same exchange done by hand
// with net/http and encoding/json, without the client's checks; the ratio
// of the two is the client's overhead.
func BenchmarkClientRegisterTask(b *testing.B) {
	srv, s := clientBenchSetup(b)
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL, HTTPClient: srv.Client()}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.RegisterTask(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientRegisterTaskBaseline(b *testing.B) {
	srv, s := clientBenchSetup(b)
	hc := srv.Client()
	endpoint, err := url.JoinPath(srv.AuthAPIBaseURL, "v1", "agent", s.AgentRuntimeID(), "task", "register")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		body, err := identity.TaskRegistrationBodyForTest(s, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			TaskID string `json:"task_id"`
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || json.Unmarshal(data, &out) != nil || out.TaskID == "" {
			b.Fatal("bad answer")
		}
	}
}

func clientBenchSetup(b *testing.B) (*identitytest.Server, *identity.Signer) {
	b.Helper()
	srv := identitytest.NewServer()
	b.Cleanup(srv.Close)
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		b.Fatal(err)
	}
	id, err := srv.AddAgent(km.PublicKeySSH, codexhome.Account{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := identity.NewSigner(id, km.PrivateKeyPKCS8Base64)
	if err != nil {
		b.Fatal(err)
	}
	return srv, s
}
