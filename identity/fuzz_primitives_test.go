package identity

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// fuzzTime is the vectors' timestamp; fuzzed headers are checked against it
// with a generous skew so that the timestamp check does not hide the parser.
var fuzzTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func FuzzVerifyAuthorizationHeader(f *testing.F) {
	vf := loadAssertionVectors(f)
	for _, v := range vf.Vectors {
		f.Add(v.AuthorizationHeader, false)
		f.Add(envelopeHeader(v.EnvelopeJSON), true)
	}
	for _, m := range vf.Mistakes {
		f.Add(m.Value, false)
	}
	s := testSigner(f)
	for _, task := range []string{`a"b\c`, "a:b", "tâche✓", "<&>"} {
		for _, pf := range []PayloadFormat{PayloadColon, PayloadJSONArray} {
			h, err := s.AuthorizationHeaderFormat(task, fuzzTime, pf)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(h, pf == PayloadJSONArray)
		}
	}
	pub := s.PublicKey()
	f.Fuzz(func(t *testing.T, header string, jsonArray bool) {
		pf := PayloadColon
		if jsonArray {
			pf = PayloadJSONArray
		}
		a, err := gateway.VerifyAuthorizationHeaderFormat(header, pub, fuzzTime, 1<<62, pf)
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
	s := testSigner(f)
	pub := s.PublicKey()
	f.Fuzz(func(t *testing.T, env []byte) {
		header := "AgentAssertion " + base64.RawURLEncoding.EncodeToString(env)
		a, err := gateway.VerifyAuthorizationHeader(header, pub, fuzzTime, gateway.MaxSkewLimit)
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

func FuzzNewSigner(f *testing.F) {
	for _, v := range loadAssertionVectors(f).Vectors {
		f.Add(v.RuntimeID, v.PKCS8v1)
		f.Add(v.RuntimeID, v.PKCS8v2)
		f.Add(v.RuntimeID, v.SPKI)
	}
	f.Add("a", "")
	f.Add("../x", "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH")
	f.Fuzz(func(t *testing.T, runtimeID, key string) {
		s, err := NewSigner(runtimeID, key)
		if err != nil {
			if s != nil {
				t.Fatal("signer with error")
			}
			if strings.Contains(err.Error(), key) && len(key) > 8 {
				t.Fatalf("error quotes the key: %v", err)
			}
			return
		}
		// Anything accepted re-encodes to the same bytes in its own form.
		der, _ := base64.StdEncoding.DecodeString(key)
		v2 := wire.MarshalPKCS8v2(s.key.Get().priv.Seed(), s.pub)
		v1 := append([]byte{0x30, 0x2e, 0x02, 0x01, 0x00}, v2[5:48]...)
		if !bytes.Equal(der, v2) && !bytes.Equal(der, v1) {
			t.Fatalf("accepted a key that is neither canonical form: %x", der)
		}
		if base64.StdEncoding.EncodeToString(der) != key {
			t.Fatal("accepted non-canonical base64")
		}
		if err := ValidateRuntimeID(runtimeID); err != nil {
			t.Fatal("accepted a bad runtime id")
		}
	})
}

func FuzzParsePublicKeySSH(f *testing.F) {
	for _, v := range loadAssertionVectors(f).Vectors {
		f.Add(v.PublicKeySSH)
		f.Add(v.PublicKeySSH + " comment")
	}
	f.Fuzz(func(t *testing.T, line string) {
		pub, err := ParsePublicKeySSH(line)
		if err != nil {
			return
		}
		want, err := wire.MarshalPublicKeySSH(pub)
		if err != nil {
			t.Fatal(err)
		}
		if line != want && !strings.HasPrefix(line, want+" ") {
			t.Fatalf("accepted %q, which does not start with its canonical form %q", line, want)
		}
	})
}

func FuzzTaskRegistrationURL(f *testing.F) {
	f.Add("https://auth.openai.com/api/accounts", "agent-123")
	f.Add("http://localhost:8080/api/codex/", "a.~_-Z9")
	f.Add("https://auth.openai.com/api/accounts", "../x")
	f.Add("https://user@evil.com/a?b#c", "%2e%2e")
	f.Add("https://[::1]:80", "..")
	for _, h := range hostileRuntimeIDs {
		f.Add("https://auth.openai.com/api/accounts", h.id)
	}
	f.Fuzz(func(t *testing.T, base, id string) {
		u, err := TaskRegistrationURL(base, id)
		if err != nil {
			if u != "" {
				t.Fatal("url with error")
			}
			return
		}
		if ValidateRuntimeID(id) != nil {
			t.Fatalf("accepted runtime id %q", id)
		}
		checkTaskURL(t, base, id, u)
		a, err := AgentRegistrationURL(base)
		if err != nil {
			t.Fatalf("task URL accepted a base the agent URL refuses: %v", err)
		}
		if strings.TrimSuffix(a, "/v1/agent/register") != strings.TrimSuffix(u, "/v1/agent/"+id+"/task/register") {
			t.Fatalf("agent and task URLs disagree: %q %q", a, u)
		}
	})
}

func FuzzOpenTaskID(f *testing.F) {
	var vf sealedVectorFile
	readVectorFile(f, "sealed_task_id_vectors.json", &vf)
	for _, v := range vf.Vectors {
		f.Add(v.Ciphertext)
	}
	for _, n := range vf.Negative {
		f.Add(n.Ciphertext)
	}
	for _, tv := range vf.Variants {
		f.Add(tv.Value)
	}
	s := testSigner(f)
	f.Fuzz(func(t *testing.T, encrypted string) {
		id, err := s.OpenTaskID(encrypted)
		if err != nil {
			if id != "" {
				t.Fatal("task id with error")
			}
			return
		}
		if ValidateTaskID(id) != nil {
			t.Fatalf("opened an invalid task id %q", id)
		}
		raw, err := base64.StdEncoding.DecodeString(encrypted)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != encrypted {
			t.Fatal("accepted non-canonical base64")
		}
	})
}

func FuzzVerifyTaskRegistration(f *testing.F) {
	v := loadAssertionVectors(f).Vectors[0]
	f.Add([]byte(v.RegistrationBody))
	f.Add([]byte(`{"signature":"` + v.RegistrationSignature + `","timestamp":"2026-01-02T03:04:05Z"}`))
	s := testSigner(f)
	pub := s.PublicKey()
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := gateway.VerifyTaskRegistration(v.RuntimeID, body, pub, fuzzTime, gateway.MaxSkewLimit)
		if err != nil {
			return
		}
		if !ts.Equal(fuzzTime) {
			t.Fatalf("a forged timestamp verified: %v", ts)
		}
	})
}
