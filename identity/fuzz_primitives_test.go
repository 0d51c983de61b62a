package identity

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/wire"
)

func FuzzNewSigner(f *testing.F) {
	for _, v := range loadAssertionVectors(f).Vectors {
		f.Add(v.RuntimeID, v.PKCS8v1)
		f.Add(v.RuntimeID, v.PKCS8v2)
		f.Add(v.RuntimeID, v.SPKI)
	}
	f.Add("a", "")
	f.Add("../x", "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH")
	f.Fuzz(func(t *testing.T, runtimeID, key string) {
		s, err := NewSigner(runtimeID, codexhome.NewSecret(key))
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
		u, err := taskRegistrationURL(base, id)
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
		a, err := agentRegistrationURL(base)
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
