package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

func TestEndpoints(t *testing.T) {
	prod, err := agentidentity.Resolve(agentidentity.DefaultChatGPTBaseURL)
	require.NoError(t, err)
	custom := map[string]string{
		endpointrule.EnvAuthAPIBaseURL: "http://127.0.0.1:9/api/accounts",
		endpointrule.EnvJWKSBaseURL:    "http://127.0.0.1:9/backend-api",
	}
	tests := []struct {
		name     string
		inv      invocation
		wantCode int
		check    func(t *testing.T, r result)
	}{
		{"json one base", invocation{args: []string{"endpoints", "--json", "https://chatgpt.com"}}, 0, func(t *testing.T, r result) {
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			assert.Equal(t, map[string]string{
				"name": prod.Name, "chatgpt_base_url": prod.ChatGPTBaseURL, "authapi_base_url": prod.AuthAPIBaseURL,
				"jwks_url": prod.JWKSURL, "issuer": prod.Issuer, "audience": prod.Audience,
			}, got)
		}},
		{"text every environment", invocation{args: []string{"endpoints"}}, 0, func(t *testing.T, r result) {
			for _, e := range agentidentity.Environments() {
				assert.Contains(t, r.stdout, "name              "+e.Name+"\n")
			}
		}},
		{"json object of every environment", invocation{args: []string{"endpoints", "--json"}}, 0, func(t *testing.T, r result) {
			var obj struct {
				Environments []map[string]string `json:"environments"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &obj))
			got := obj.Environments
			envs := agentidentity.Environments()
			require.Len(t, got, len(envs))
			for i, e := range envs {
				assert.Equal(t, e.Name, got[i]["name"])
				assert.Equal(t, e.JWKSURL, got[i]["jwks_url"])
			}
		}},
		{"text one base", invocation{args: []string{"endpoints", "https://chatgpt.com/backend-api/codex"}}, 0, func(t *testing.T, r result) {
			assert.Contains(t, r.stdout, "jwks_url          "+prod.JWKSURL)
			assert.Contains(t, r.stdout, "name              production")
		}},
		{"override applies", invocation{args: []string{"endpoints", "--json", "https://chatgpt.com"}, env: map[string]string{endpointrule.EnvAuthAPIBaseURL: "http://localhost:8080/api"}}, 0, func(t *testing.T, r result) {
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			assert.Equal(t, "http://localhost:8080/api", got["authapi_base_url"])
			assert.Equal(t, "production", got["name"])
		}},
		{"custom deployment", invocation{args: []string{"endpoints", "--json", "http://127.0.0.1:9/backend-api"}, env: custom}, 0, func(t *testing.T, r result) {
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			assert.Equal(t, endpointrule.CustomName, got["name"])
			assert.Equal(t, "http://127.0.0.1:9/backend-api/wham/agent-identities/jwks", got["jwks_url"])
		}},
		{"unknown base", invocation{args: []string{"endpoints", "https://example.com"}}, 1, func(t *testing.T, r result) {
			assert.Contains(t, r.stderr, "only supports production and staging")
		}},
		{"http refused", invocation{args: []string{"endpoints", "http://chatgpt.com"}}, 1, nil},
		{"invalid override", invocation{args: []string{"endpoints"}, env: map[string]string{endpointrule.EnvAuthAPIBaseURL: "http://evil.example/api"}}, 1, func(t *testing.T, r result) {
			assert.Contains(t, r.stderr, "agentid: endpoints: environment ")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, tt.wantCode, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "agent.key")

	r := run1(t, "keygen", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	key, ok := strings.CutSuffix(string(data), "\n")
	require.True(t, ok, "key file ends with one newline")
	addSecret(t, "keygen --out private key", key)
	s, err := identity.NewSigner("agent-1", codexhome.NewSecret(key))
	require.NoError(t, err)
	assert.Equal(t, s.PublicKeySSH()+"\n", r.stdout)

	t.Run("existing file refused", func(t *testing.T) {
		r := run1(t, "keygen", "--out", out)
		require.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "already exists; use --force")
		again, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Equal(t, data, again)
	})
	t.Run("force replaces", func(t *testing.T) {
		r := run1(t, "keygen", "--out", out, "--force")
		require.Equal(t, 0, r.code, r.stderr)
		again, err := os.ReadFile(out)
		require.NoError(t, err)
		addSecret(t, "keygen --force private key", strings.TrimSuffix(string(again), "\n"))
		assert.NotEqual(t, data, again)
		st, err := os.Stat(out)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	})
	t.Run("force does not write through a symlink", func(t *testing.T) {
		target := filepath.Join(dir, "target")
		require.NoError(t, os.WriteFile(target, []byte("keep"), 0o644))
		link := filepath.Join(dir, "link")
		require.NoError(t, os.Symlink(target, link))
		r := run1(t, "keygen", "--out", link, "--force")
		require.Equal(t, 1, r.code)
		got, err := os.ReadFile(target)
		require.NoError(t, err)
		assert.Equal(t, "keep", string(got))
	})
	t.Run("stdout without out", func(t *testing.T) {
		// The one intended secret output: read it first, then run the
		// recorded invocation with it marked as intended.
		r := runBin(t, invocation{args: []string{"keygen"}})
		require.Equal(t, 0, r.code)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 2)
		markIntended(lines[0])
		s, err := identity.NewSigner("agent-1", codexhome.NewSecret(lines[0]))
		require.NoError(t, err)
		assert.Equal(t, s.PublicKeySSH(), lines[1])
		assert.Contains(t, r.stderr, "warning: printing a new PRIVATE key")
		assert.NotContains(t, r.stderr, lines[0])
		addSecret(t, "keygen stdout private key", lines[0])
	})
}

// markIntended marks value as printed on purpose in the stdout of the runs
// recorded so far that hold it (keygen without --out).
func markIntended(value string) {
	leak.Lock()
	defer leak.Unlock()
	for i := range leak.outputs {
		o := &leak.outputs[i]
		if len(o.r.args) == 1 && o.r.args[0] == "keygen" && strings.Contains(o.r.stdout, value) {
			o.intended[value] = true
		}
	}
}

// assertionVector is one vector of testdata/agent_assertion_vectors.json.
type assertionVector struct {
	Name                string `json:"name"`
	PKCS8V1             string `json:"private_key_pkcs8_v1_der_base64"`
	PKCS8V2             string `json:"private_key_pkcs8_v2_der_base64"`
	PublicKeySSH        string `json:"public_key_ssh"`
	AgentRuntimeID      string `json:"agent_runtime_id"`
	TaskID              string `json:"task_id"`
	Timestamp           string `json:"timestamp"`
	Signature           string `json:"assertion_signature_base64"`
	AuthorizationHeader string `json:"authorization_header"`
}

func loadVectors(t *testing.T) []assertionVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "agent_assertion_vectors.json"))
	require.NoError(t, err)
	var f struct {
		Vectors []assertionVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	require.NotEmpty(t, f.Vectors)
	for _, v := range f.Vectors {
		addSecret(t, v.Name+" pkcs8 v1", v.PKCS8V1)
		addSecret(t, v.Name+" pkcs8 v2", v.PKCS8V2)
	}
	return f.Vectors
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestAssertReproducesVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		for _, key := range []struct{ form, value string }{{"pkcs8 v1", v.PKCS8V1}, {"pkcs8 v2", v.PKCS8V2}} {
			args := []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", v.Timestamp}
			tests := []struct {
				name string
				inv  invocation
			}{
				{"key file with newline", invocation{args: append(args, "--key-file", writeFile(t, key.value+"\n"))}},
				{"key file with crlf", invocation{args: append(args, "--key-file", writeFile(t, key.value+"\r\n"))}},
				{"key file without newline", invocation{args: append(args, "--key-file", writeFile(t, key.value))}},
				{"key on stdin", invocation{args: append(args, "--key-file", "-"), stdin: key.value + "\n"}},
				{"key in environment", invocation{args: args, env: map[string]string{envPrivateKey: key.value}}},
			}
			for _, tt := range tests {
				t.Run(v.Name+"/"+key.form+"/"+tt.name, func(t *testing.T) {
					tt.inv.intended = []string{v.Signature}
					r := runBin(t, tt.inv)
					require.Equal(t, 0, r.code, r.stderr)
					assert.Equal(t, v.AuthorizationHeader+"\n", r.stdout)
					assert.Empty(t, r.stderr)
				})
			}
		}
		// The signature may appear only in assert's stdout.
		addSecret(t, v.Name+" assertion signature", v.Signature)
	}
}

func TestAssertThenVerify(t *testing.T) {
	km, err := identity.GenerateKeyMaterial()
	require.NoError(t, err)
	addSecret(t, "generated key", km.PrivateKeyPKCS8Base64.Reveal())
	keyFile := writeFile(t, km.PrivateKeyPKCS8Base64.Reveal()+"\n")
	pub, err := gateway.ParsePublicKeySSH(km.PublicKeySSH)
	require.NoError(t, err)

	before := time.Now().Truncate(time.Second)
	r := runBin(t, invocation{args: []string{"assert", "--runtime-id", "agent-7", "--task-id", "task:with:colons", "--key-file", keyFile}, printsSecret: true})
	require.Equal(t, 0, r.code, r.stderr)
	header := strings.TrimSuffix(r.stdout, "\n")
	a, err := gateway.VerifyAuthorizationHeader(header, pub, time.Now(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "agent-7", a.AgentRuntimeID)
	assert.Equal(t, "task:with:colons", a.TaskID)
	assert.False(t, a.Timestamp.Before(before))

	t.Run("verify command", func(t *testing.T) {
		r := runBin(t, invocation{args: []string{"verify", "--public-key", km.PublicKeySSH, "--json"}, stdin: header + "\n"})
		require.Equal(t, 0, r.code, r.stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		assert.Equal(t, map[string]any{
			"verified": true, "agent_runtime_id": "agent-7", "task_id": "task:with:colons",
			"timestamp": a.Timestamp.UTC().Format(time.RFC3339),
		}, got)
		assert.NotContains(t, r.stdout, header)
	})
}

func TestVerifyVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		ts, err := time.Parse(time.RFC3339, v.Timestamp)
		require.NoError(t, err)
		other, err := identity.GenerateKeyMaterial()
		require.NoError(t, err)
		base := []string{"verify", "--json", "--public-key", v.PublicKeySSH, "--now", v.Timestamp}
		tests := []struct {
			name     string
			inv      invocation
			wantCode int
			wantErr  string
		}{
			{"valid", invocation{args: base, stdin: v.AuthorizationHeader + "\n"}, 0, ""},
			{"valid crlf", invocation{args: base, stdin: v.AuthorizationHeader + "\r\n"}, 0, ""},
			{"valid no newline", invocation{args: base, stdin: v.AuthorizationHeader}, 0, ""},
			{"within skew", invocation{args: []string{"verify", "--json", "--public-key", v.PublicKeySSH, "--now", ts.Add(4 * time.Minute).Format(time.RFC3339)}, stdin: v.AuthorizationHeader}, 0, ""},
			{"two newlines", invocation{args: base, stdin: v.AuthorizationHeader + "\n\n"}, 1, "invalid AgentAssertion"},
			{"expired timestamp", invocation{args: []string{"verify", "--public-key", v.PublicKeySSH, "--now", ts.Add(6 * time.Minute).Format(time.RFC3339)}, stdin: v.AuthorizationHeader}, 1, "invalid AgentAssertion"},
			{"expired with small skew", invocation{args: []string{"verify", "--public-key", v.PublicKeySSH, "--max-skew", "1s", "--now", ts.Add(2 * time.Second).Format(time.RFC3339)}, stdin: v.AuthorizationHeader}, 1, "invalid AgentAssertion"},
			{"future timestamp", invocation{args: []string{"verify", "--public-key", v.PublicKeySSH, "--now", ts.Add(-6 * time.Minute).Format(time.RFC3339)}, stdin: v.AuthorizationHeader}, 1, "invalid AgentAssertion"},
			{"wrong public key", invocation{args: []string{"verify", "--public-key", other.PublicKeySSH, "--now", v.Timestamp}, stdin: v.AuthorizationHeader}, 1, "invalid AgentAssertion"},
			{"bearer header", invocation{args: base, stdin: "Bearer abcdefghijklmnop"}, 1, "invalid AgentAssertion"},
			{"empty stdin", invocation{args: base}, 1, "invalid AgentAssertion"},
			{"padded envelope", invocation{args: base, stdin: v.AuthorizationHeader + "="}, 1, "invalid AgentAssertion"},
			{"bad public key", invocation{args: []string{"verify", "--public-key", "ssh-rsa AAAA", "--now", v.Timestamp}, stdin: v.AuthorizationHeader}, 1, "--public-key"},
			{"bad now", invocation{args: []string{"verify", "--public-key", v.PublicKeySSH, "--now", "yesterday"}, stdin: v.AuthorizationHeader}, 2, "--now"},
			{"huge stdin", invocation{args: base, stdin: strings.Repeat("A", gateway.MaxAuthorizationHeaderLen+10)}, 1, "longer than"},
		}
		for _, tt := range tests {
			t.Run(v.Name+"/"+tt.name, func(t *testing.T) {
				r := runBin(t, tt.inv)
				require.Equal(t, tt.wantCode, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
				if tt.wantCode == 0 {
					assert.JSONEq(t, `{"verified":true,"agent_runtime_id":"`+v.AgentRuntimeID+`","task_id":"`+v.TaskID+`","timestamp":"`+v.Timestamp+`"}`, r.stdout)
					return
				}
				if tt.wantCode == 1 && hasArg(tt.inv.args, "--json") {
					assert.JSONEq(t, `{"verified":false,"error":`+mustJSON(t, strings.TrimPrefix(strings.TrimSuffix(r.stderr, "\n"), "agentid: verify: "))+`}`, r.stdout)
				} else {
					assert.Empty(t, r.stdout)
				}
				assert.True(t, strings.HasPrefix(r.stderr, "agentid: verify: "), r.stderr)
				assert.Contains(t, r.stderr, tt.wantErr)
			})
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestAssertInvalidInput(t *testing.T) {
	v := loadVectors(t)[0]
	args := func(extra ...string) []string {
		return append([]string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID}, extra...)
	}
	pem := "-----BEGIN PRIVATE KEY-----\n" + v.PKCS8V1 + "\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name    string
		inv     invocation
		wantErr string
	}{
		{"garbage key file", invocation{args: args("--key-file", writeFile(t, "not-a-key\n"))}, "invalid agent key"},
		{"key file with two newlines", invocation{args: args("--key-file", writeFile(t, v.PKCS8V1+"\n\n"))}, "only one trailing newline"},
		{"key file with crlf twice", invocation{args: args("--key-file", writeFile(t, v.PKCS8V1+"\r\n\r\n"))}, "only one trailing newline"},
		{"key file with leading space", invocation{args: args("--key-file", writeFile(t, " "+v.PKCS8V1))}, "white space"},
		{"key file with trailing cr only", invocation{args: args("--key-file", writeFile(t, v.PKCS8V1+"\r"))}, "control character"},
		{"empty key file", invocation{args: args("--key-file", writeFile(t, ""))}, "empty"},
		{"newline only key file", invocation{args: args("--key-file", writeFile(t, "\n"))}, "empty"},
		{"pem key file", invocation{args: args("--key-file", writeFile(t, pem))}, "agent private key"},
		{"missing key file", invocation{args: args("--key-file", filepath.Join(t.TempDir(), "absent"))}, "no such file"},
		{"key file is a folder", invocation{args: args("--key-file", t.TempDir())}, "not a regular file"},
		{"huge key file", invocation{args: args("--key-file", writeFile(t, strings.Repeat("A", maxSecretSize+1)))}, "larger than"},
		{"bad key in environment", invocation{args: args(), env: map[string]string{envPrivateKey: v.PKCS8V1 + "x"}}, "$" + envPrivateKey},
		{"bad runtime id", invocation{args: []string{"assert", "--runtime-id", "a/b", "--task-id", "t", "--key-file", writeFile(t, v.PKCS8V1)}}, "agentid: assert: --runtime-id: invalid agent runtime id"},
		{"bad task id", invocation{args: []string{"assert", "--runtime-id", "a", "--task-id", "t\x01", "--key-file", writeFile(t, v.PKCS8V1)}}, "invalid task id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, tt.inv)
			require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, "agentid: "), r.stderr)
			assert.Contains(t, r.stderr, tt.wantErr)
		})
	}
}

// TestFarTimestampsNeverVerify: a header stamped far from now is neither
// made nor verified, whatever the clock the verifier is given.
func TestFarTimestampsNeverVerify(t *testing.T) {
	v := loadVectors(t)[0]
	keyFile := writeFile(t, v.PKCS8V2+"\n")
	pubLine := v.PublicKeySSH
	tests := []struct {
		name      string
		timestamp string
	}{
		{"year 9999", "9999-12-31T23:59:59Z"},
		{"year 9000", "9000-01-01T00:00:00Z"},
		{"year 0001", "0001-01-01T00:00:00Z"},
		{"year 1999", "1999-12-31T23:59:59Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, invocation{args: []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", tt.timestamp, "--key-file", keyFile}})
			require.Equal(t, 1, r.code, r.stdout)
			assert.Contains(t, r.stderr, "signing time")
			assert.Empty(t, r.stdout)
		})
	}
	// Year 2400 is signable, but a verifier with today's clock refuses it.
	r := runBin(t, invocation{args: []string{"assert", "--runtime-id", v.AgentRuntimeID, "--task-id", v.TaskID, "--timestamp", "2400-01-01T00:00:00Z", "--key-file", keyFile}, printsSecret: true})
	require.Equal(t, 0, r.code, r.stderr)
	header := r.stdout
	r = runBin(t, invocation{args: []string{"verify", "--public-key", pubLine, "--max-skew", "24h"}, stdin: header})
	require.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, "timestamp outside the allowed window")
	// A verifier whose clock is far off refuses even a valid header.
	for _, now := range []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z"} {
		t.Run("verifier clock "+now, func(t *testing.T) {
			r := runBin(t, invocation{args: []string{"verify", "--public-key", pubLine, "--now", now, "--max-skew", "24h"}, stdin: v.AuthorizationHeader + "\n"})
			require.Equal(t, 1, r.code, r.stdout)
			assert.Contains(t, r.stderr, "implausible verifier clock")
		})
	}
	r = runBin(t, invocation{args: []string{"verify", "--public-key", pubLine, "--now", v.Timestamp, "--max-skew", "25h"}, stdin: v.AuthorizationHeader + "\n"})
	assert.NotEqual(t, 0, r.code, "a window over 24 h is refused")
}
