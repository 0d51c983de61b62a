package codexhome

import (
	"bytes"
	"testing"
)

func FuzzParseAuthFile(f *testing.F) {
	for _, name := range authSamples {
		f.Add(readSample(f, name))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"agent_identity":{"agent_runtime_id":"r","agent_private_key":"k","account_id":"a","chatgpt_user_id":"u","x":[{}]}}`))
	f.Add([]byte(`{"a":"\u00e9\ud83d\ude00","b":-1.5e-3,"tokens":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAuthFile(data)
		if err != nil {
			return
		}
		// Accessors never panic on an accepted file.
		_, _ = a.ChatGPTLogin()
		_ = a.Tokens()
		_ = a.AgentIdentityJWT()
		if r := a.AgentIdentityRecord(); r != nil {
			if err := a.SetAgentIdentityRecord(r); err != nil {
				t.Fatalf("re-setting the parsed record: %v", err)
			}
			if a.dirty {
				t.Fatal("re-setting the parsed record changed the file")
			}
		}
		out, err := a.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		b, err := ParseAuthFile(out)
		if err != nil {
			t.Fatalf("re-parse of the marshalled file: %v", err)
		}
		want := a.list().members
		got := b.list().members
		if _, ok := a.member(memberOpenAIAPIKey); !ok {
			// Marshal adds OPENAI_API_KEY: null.
			raw, ok := b.member(memberOpenAIAPIKey)
			if !ok || string(raw) != "null" {
				t.Fatal("OPENAI_API_KEY not written as null")
			}
			b.removeMember(memberOpenAIAPIKey)
			got = b.list().members
		}
		if len(got) != len(want) {
			t.Fatalf("member count %d, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Name != want[i].Name || !bytes.Equal(got[i].Raw, want[i].Raw) {
				t.Fatalf("member %d differs after a round trip: %q", i, want[i].Name)
			}
		}
		// Marshal is stable.
		again, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := a.member(memberOpenAIAPIKey); ok && !bytes.Equal(again, out) {
			t.Fatal("marshal is not stable")
		}
	})
}

func FuzzDecodeIDTokenClaims(f *testing.F) {
	f.Add(idToken(`{"email":"e@x","https://api.openai.com/auth":{"chatgpt_account_id":"a","chatgpt_user_id":"u","chatgpt_plan_type":"plus","chatgpt_account_is_fedramp":true}}`))
	f.Add(idToken(`{"https://api.openai.com/auth":{"user_id":"u"}}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := decodeIDTokenClaims(token)
		if err == nil && c == nil {
			t.Fatal("nil claims without an error")
		}
	})
}
