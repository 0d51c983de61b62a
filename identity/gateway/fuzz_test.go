package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// fuzzTime is the vectors' timestamp; fuzzed headers are checked against it
// with the widest window a verifier accepts, so that the timestamp check
// does not hide the parser.
var fuzzTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const fuzzSkew = 24 * time.Hour

func FuzzVerifyAuthorizationHeader(f *testing.F) {
	vf := loadAssertionVectors(f)
	for _, v := range vf.Vectors {
		f.Add(v.AuthorizationHeader, false)
		f.Add(envelopeHeader(v.EnvelopeJSON), true)
	}
	for _, m := range vf.Mistakes {
		f.Add(m.Value, false)
	}
	s := vectorSigner(f)
	for _, task := range []string{`a"b\c`, "a:b", "tâche✓", "<&>"} {
		for _, pf := range []identity.PayloadFormat{identity.PayloadColon, identity.PayloadJSONArray} {
			h, err := s.AuthorizationHeaderFormat(task, fuzzTime, pf)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(h, pf == identity.PayloadJSONArray)
		}
	}
	pub := s.PublicKey()
	// The JSON array form is verified by a Verifier whose Keys answers pub
	// for every runtime id, as VerifyAuthorizationHeader does for the colon
	// form.
	jsonVerifier := &gateway.Verifier{
		Keys: gateway.KeysFunc(func(_ context.Context, runtimeID string) (gateway.Agent, error) {
			return gateway.Agent{RuntimeID: runtimeID, PublicKey: pub}, nil
		}),
		MaxSkew: fuzzSkew, Now: func() time.Time { return fuzzTime }, JSONArrayPayload: true, CacheEntries: -1,
	}
	f.Fuzz(func(t *testing.T, header string, jsonArray bool) {
		pf := identity.PayloadColon
		var a gateway.Assertion
		var err error
		if jsonArray {
			pf = identity.PayloadJSONArray
			r := httptest.NewRequest(http.MethodPost, "/codex/responses", nil)
			r.Header["Authorization"] = []string{header}
			var id gateway.Identity
			id, err = jsonVerifier.Verify(r)
			if err == nil && id.AccountID != "" {
				t.Fatalf("an account appeared: %q", id.AccountID)
			}
			if err != nil && id != (gateway.Identity{}) {
				t.Fatalf("non-zero identity with error %v", err)
			}
			a = gateway.Assertion{AgentRuntimeID: id.AgentRuntimeID, TaskID: id.TaskID, Timestamp: id.Timestamp}
		} else {
			a, err = gateway.VerifyAuthorizationHeader(header, pub, fuzzTime, fuzzSkew)
		}
		if err != nil {
			if a != (gateway.Assertion{}) {
				t.Fatalf("non-zero assertion with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "identity: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		// Anything accepted re-encodes to the same bytes: the signer, given
		// the same fields, writes exactly this header.
		again, err := s.AuthorizationHeaderFormat(a.TaskID, a.Timestamp, pf)
		if err != nil {
			t.Fatalf("accepted assertion cannot be re-signed: %v", err)
		}
		if a.AgentRuntimeID == s.AgentRuntimeID() && again != header {
			t.Fatalf("accepted header is not canonical:\n got %q\nwant %q", header, again)
		}
	})
}

// FuzzVerifyEnvelope fuzzes the envelope JSON directly (below the base64
// layer), where the hand-written parser lives.
func FuzzVerifyEnvelope(f *testing.F) {
	for _, v := range loadAssertionVectors(f).Vectors {
		f.Add([]byte(v.EnvelopeJSON))
	}
	f.Add([]byte(`{"agent_runtime_id":"a","signature":"\u0041","task_id":"\"\\\/\b\f\n\r\t\u00e9","timestamp":"x"}`))
	pub := vectorSigner(f).PublicKey()
	f.Fuzz(func(t *testing.T, env []byte) {
		header := "AgentAssertion " + base64.RawURLEncoding.EncodeToString(env)
		a, err := gateway.VerifyAuthorizationHeader(header, pub, fuzzTime, fuzzSkew)
		if err != nil {
			return
		}
		var canon []byte
		sigStart := bytes.Index(env, []byte(`"signature":"`)) + len(`"signature":"`)
		sig, _ := base64.StdEncoding.DecodeString(string(env[sigStart : sigStart+wire.SigB64Len]))
		var ts [wire.TimestampLen]byte
		canon = wire.AppendEnvelope(canon, a.AgentRuntimeID, a.TaskID, wire.AppendTimestamp(ts[:0], a.Timestamp), sig)
		if !bytes.Equal(canon, env) {
			t.Fatalf("accepted envelope is not canonical: %q", env)
		}
	})
}

func FuzzVerifyTaskRegistration(f *testing.F) {
	v := loadAssertionVectors(f).Vectors[0]
	f.Add([]byte(v.RegistrationBody))
	f.Add([]byte(`{"signature":"` + v.RegistrationSignature + `","timestamp":"2026-01-02T03:04:05Z"}`))
	pub := vectorSigner(f).PublicKey()
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := gateway.VerifyTaskRegistration(v.RuntimeID, body, pub, fuzzTime, fuzzSkew)
		if err != nil {
			return
		}
		if !ts.Equal(fuzzTime) {
			t.Fatalf("a forged timestamp verified: %v", ts)
		}
	})
}

// FuzzVerifierConfig fuzzes every field of a Verifier that takes a value
// (the window, the clock, the cache bounds, the payload form, the route
// modes and base path) with a valid header and a fuzzed one: Middleware
// never panics, answers one of its documented statuses, keeps the cache
// within its bounds and 1 GiB, and answers 500 for a configuration it
// refuses.
func FuzzVerifierConfig(f *testing.F) {
	s := vectorSigner(f)
	pub := s.PublicKey()
	valid, err := s.AuthorizationHeader("task-1", fuzzTime)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(int64(0), fuzzTime.Unix(), 0, int64(0), false, 0, 0, "/backend-api", "/backend-api/codex/responses", valid)
	f.Add(int64(-1), fuzzTime.Unix(), math.MaxInt, int64(0), false, 1, 1, "/backend-api", "/backend-api/CODEX/responses", "")
	f.Add(int64(math.MaxInt64), int64(0), math.MinInt, int64(math.MaxInt64), true, 2, 7, "", "/ps/mcp", "Bearer x")
	f.Add(int64(24*time.Hour), int64(math.MaxInt64), 1, int64(1), false, -1, 99, "/", "/codex/responses/compact", valid)
	f.Add(int64(time.Second), int64(math.MinInt64), 64, int64(1<<30), true, math.MaxInt, math.MinInt, "/a/", "/a/b/../codex/responses", valid+"x")
	agents := gateway.KeysFunc(func(_ context.Context, runtimeID string) (gateway.Agent, error) {
		return gateway.Agent{RuntimeID: runtimeID, PublicKey: pub}, nil
	})
	f.Fuzz(func(t *testing.T, skew, nowUnix int64, entries int, cacheBytes int64, jsonArray bool, other, noCred int, base, path, header string) {
		v := &gateway.Verifier{
			Keys: agents, MaxSkew: time.Duration(skew), Now: func() time.Time { return time.Unix(nowUnix, 0) },
			CacheEntries: entries, CacheBytes: cacheBytes, JSONArrayPayload: jsonArray,
			Routes: gateway.Routes{BasePath: base, Other: gateway.RouteMode(other), NoCredential: gateway.RouteMode(noCred)},
			Logger: slog.New(slog.DiscardHandler),
		}
		h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		for _, hdr := range []string{header, valid, valid} {
			r := httptest.NewRequest(http.MethodPost, "http://gw.example/", nil)
			r.URL.Path = path
			if hdr != "" {
				r.Header["Authorization"] = []string{hdr}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch w.Code {
			case 200, 401, 403, 500:
			default:
				t.Fatalf("status %d", w.Code)
			}
			_, err := v.Verify(r)
			if w.Code == 500 && (err == nil || errors.Is(err, gateway.ErrInvalidAssertion)) {
				t.Fatalf("500 for a request, not the configuration: %v", err)
			}
		}
		st := v.CacheStats()
		if st.Entries > st.MaxEntries || st.Bytes > st.MaxBytes || st.MaxBytes > 1<<30 || int64(st.MaxEntries) > st.MaxBytes/256+1 {
			t.Fatalf("cache out of bounds: %+v", st)
		}
	})
}
