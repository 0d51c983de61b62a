package gateway_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// assertionVector is the part of a known-answer vector of
// testdata/vectors/agent_assertion_vectors.json that the verifying side
// reads.
type assertionVector struct {
	PublicKeyHex          string `json:"public_key_hex"`
	PKCS8v2               string `json:"private_key_pkcs8_v2_der_base64"`
	SPKI                  string `json:"public_key_spki_der_base64"`
	PublicKeySSH          string `json:"public_key_ssh"`
	RuntimeID             string `json:"agent_runtime_id"`
	Timestamp             string `json:"timestamp"`
	AssertionSignature    string `json:"assertion_signature_base64"`
	EnvelopeJSON          string `json:"envelope_json"`
	EnvelopeB64URL        string `json:"envelope_base64url"`
	AuthorizationHeader   string `json:"authorization_header"`
	RegistrationSignature string `json:"registration_signature_base64"`
	RegistrationBody      string `json:"registration_request_body_json"`
}

type assertionVectorFile struct {
	Mistakes []struct {
		Value string `json:"value"`
	} `json:"common_mistakes_for_vector_0"`
	Vectors []assertionVector `json:"vectors"`
}

func readVectorFile(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

func loadAssertionVectors(t testing.TB) assertionVectorFile {
	t.Helper()
	var f assertionVectorFile
	readVectorFile(t, "agent_assertion_vectors.json", &f)
	require.NotEmpty(t, f.Vectors)
	return f
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func vectorTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return ts
}

// vectorSigner returns the Signer of the codex-reference vector (seed 0x07…).
func vectorSigner(t testing.TB) *identity.Signer {
	t.Helper()
	v := loadAssertionVectors(t).Vectors[0]
	s, err := identity.NewSigner(v.RuntimeID, codexhome.NewSecret(v.PKCS8v2))
	require.NoError(t, err)
	return s
}

type cctvVector struct {
	Number int      `json:"number"`
	Key    string   `json:"key"`
	Sig    string   `json:"sig"`
	Msg    string   `json:"msg"`
	Flags  []string `json:"flags"`
}

func (c cctvVector) has(flag string) bool { return slices.Contains(c.Flags, flag) }

// verifyPath is the key check and signature check the verifiers run.
func verifyPath(pub, msg, sig []byte) bool {
	return wire.CheckVerifyKey(pub) == nil && wire.VerifySignature(pub, msg, sig)
}

func TestCCTVThroughVerifyPath(t *testing.T) {
	for _, c := range loadCCTV(t) {
		// Go's crypto/ed25519 refuses non-canonical R and low-order residues;
		// the verify path also refuses every low-order public key.
		want := !c.has("non_canonical_R") && !c.has("low_order_residue") && !c.has("low_order_A")
		assert.Equal(t, want, verifyPath(mustHex(t, c.Key), []byte(c.Msg), mustHex(t, c.Sig)), "cctv %d %v", c.Number, c.Flags)
	}
}

func TestWycheproofThroughVerifyPath(t *testing.T) {
	var f struct {
		TestGroups []struct {
			PublicKey struct {
				PK string `json:"pk"`
			} `json:"publicKey"`
			Tests []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				Msg     string `json:"msg"`
				Sig     string `json:"sig"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readVectorFile(t, "wycheproof/ed25519_test.json", &f)
	n := 0
	for _, g := range f.TestGroups {
		pub := mustHex(t, g.PublicKey.PK)
		for _, tc := range g.Tests {
			n++
			got := verifyPath(pub, mustHex(t, tc.Msg), mustHex(t, tc.Sig))
			assert.Equal(t, tc.Result == "valid", got, "tcId %d %s", tc.TcID, tc.Comment)
		}
	}
	require.Greater(t, n, 100)
}

func TestRFC8032ThroughVerifyPath(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name      string `json:"name"`
			SecretKey string `json:"secret_key"`
			PublicKey string `json:"public_key"`
			Message   string `json:"message"`
			Signature string `json:"signature"`
		} `json:"vectors"`
	}
	readVectorFile(t, "rfc8032_ed25519_vectors.json", &f)
	require.NotEmpty(t, f.Vectors)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			priv := ed25519.NewKeyFromSeed(mustHex(t, v.SecretKey))
			pub := mustHex(t, v.PublicKey)
			msg, sig := mustHex(t, v.Message), mustHex(t, v.Signature)
			assert.Equal(t, pub, []byte(priv.Public().(ed25519.PublicKey)))
			var got [64]byte
			copy(got[:], ed25519.Sign(priv, msg))
			assert.Equal(t, sig, got[:])
			assert.True(t, verifyPath(pub, msg, sig))
			sig[0] ^= 1
			assert.False(t, verifyPath(pub, msg, sig))
		})
	}
}

// envelopeHeader builds an AgentAssertion header around arbitrary envelope text.
func envelopeHeader(env string) string {
	return "AgentAssertion " + base64.RawURLEncoding.EncodeToString([]byte(env))
}

func TestVerifyAuthorizationHeaderRefuses(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	s := vectorSigner(t)
	now := vectorTime(t, v.Timestamp)
	env := v.EnvelopeJSON
	sig := v.AssertionSignature
	other, err := identity.NewSigner("agent-123", codexhome.NewSecret("MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g"))
	require.NoError(t, err)
	colonTask, err := s.AuthorizationHeader("task:x", now)
	require.NoError(t, err)

	tests := []struct {
		name   string
		header string
		pub    ed25519.PublicKey
		now    time.Time
		skew   time.Duration
		want   error
	}{
		{"empty", "", nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"bearer scheme", "Bearer " + v.EnvelopeB64URL, nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"lower-case scheme", "agentassertion " + v.EnvelopeB64URL, nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"two spaces", "AgentAssertion  " + v.EnvelopeB64URL, nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"trailing space", v.AuthorizationHeader + " ", nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"padded token", v.AuthorizationHeader + "=", nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"std alphabet token", "AgentAssertion " + base64.StdEncoding.EncodeToString([]byte(env)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"whitespace in json", envelopeHeader(strings.Replace(env, `":"`, `": "`, 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"leading whitespace in json", envelopeHeader(" " + env), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"keys in struct order", envelopeHeader(`{"agent_runtime_id":"agent-123","task_id":"task-123","timestamp":"2026-01-02T03:04:05Z","signature":"` + sig + `"}`), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"extra member", envelopeHeader(strings.TrimSuffix(env, "}") + `,"x":"y"}`), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"duplicate member", envelopeHeader(strings.TrimSuffix(env, "}") + `,"timestamp":"2026-01-02T03:04:05Z"}`), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"missing member", envelopeHeader(`{"agent_runtime_id":"agent-123","signature":"` + sig + `","task_id":"task-123"}`), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"escaped letter", envelopeHeader(strings.Replace(env, "task-123", `t\u0061sk-123`, 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"escaped slash", envelopeHeader(strings.Replace(env, `"signature":"VrYTERspqB39QI+QfHvTG1twTGuO7GroA7asXHNWNdIV3sWTmp4U2MHRplxD6OenxOItjQiZjWFlrqr7VIpiDQ=="`, `"signature":"VrYTERspqB39QI+QfHvTG1twTGuO7GroA7asXHNWNdIV3sWTmp4U2MHRplxD6OenxOItjQiZjWFlrqr7VIpiDQ=\u003d"`, 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"number timestamp", envelopeHeader(strings.Replace(env, `"2026-01-02T03:04:05Z"`, `1767323045`, 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"trailing bytes", envelopeHeader(env + " "), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"two objects", envelopeHeader(env + env), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"signature url alphabet", envelopeHeader(strings.Replace(env, "QI+Qf", "QI-Qf", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"signature unpadded", envelopeHeader(strings.Replace(env, "iDQ==", "iDQ", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"signature non-canonical padding bits", envelopeHeader(strings.Replace(env, "iDQ==", "iDR==", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"signature too short", envelopeHeader(strings.Replace(env, sig, sig[:84]+"AA==", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"fractional timestamp", envelopeHeader(strings.Replace(env, "05Z", "05.000Z", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"offset timestamp", envelopeHeader(strings.Replace(env, "05Z", "05+00:00", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"runtime id with colon", envelopeHeader(strings.Replace(env, "agent-123", "agent:123", 1)), nil, now, time.Second, ids.ErrInvalidRuntimeID},
		{"empty task id", envelopeHeader(strings.Replace(env, "task-123", "", 1)), nil, now, time.Second, ids.ErrInvalidTaskID},
		{"control char in task id", envelopeHeader(strings.Replace(env, "task-123", `task\n123`, 1)), nil, now, time.Second, ids.ErrInvalidTaskID},
		{"raw control char in task id", envelopeHeader(strings.Replace(env, "task-123", "task\x01123", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"invalid utf-8 in task id", envelopeHeader(strings.Replace(env, "task-123", "task\xff123", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"changed task id", envelopeHeader(strings.Replace(env, "task-123", "task-124", 1)), nil, now, time.Second, gateway.ErrInvalidAssertion},
		{"moved colon", envelopeHeader(strings.Replace(strings.Replace(string(mustDecodeHeader(t, colonTask)), `"agent-123"`, `"agent-123:task"`, 1), `"task:x"`, `"x"`, 1)), nil, now, time.Second, ids.ErrInvalidRuntimeID},
		{"wrong key", v.AuthorizationHeader, other.PublicKey(), now, time.Hour, gateway.ErrInvalidAssertion},
		{"too old", v.AuthorizationHeader, nil, now.Add(61 * time.Second), time.Minute, gateway.ErrInvalidAssertion},
		{"too new", v.AuthorizationHeader, nil, now.Add(-61 * time.Second), time.Minute, gateway.ErrInvalidAssertion},
		{"negative skew", v.AuthorizationHeader, nil, now, -1, gateway.ErrInvalidSkew},
		{"zero skew", v.AuthorizationHeader, nil, now, 0, gateway.ErrInvalidSkew},
		{"zero clock", v.AuthorizationHeader, nil, time.Time{}, time.Minute, gateway.ErrImplausibleClock},
		{"short key", v.AuthorizationHeader, make([]byte, 31), now, time.Second, wire.ErrInvalidKey},
		{"small-order key", v.AuthorizationHeader, append([]byte{1}, make([]byte, 31)...), now, time.Second, wire.ErrInvalidKey},
		{"too long", "AgentAssertion " + strings.Repeat("A", gateway.MaxAuthorizationHeaderLen), nil, now, time.Second, gateway.ErrInvalidAssertion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := tt.pub
			if pub == nil {
				pub = s.PublicKey()
			}
			a, err := gateway.VerifyAuthorizationHeader(tt.header, pub, tt.now, tt.skew)
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			assert.Equal(t, gateway.Assertion{}, a)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "), err.Error())
			assert.NotContains(t, err.Error(), sig)
		})
	}

	// Within the skew, on both sides, and with a fractional now.
	for _, d := range []time.Duration{-time.Minute, 0, time.Minute, 60*time.Second + 999*time.Millisecond} {
		_, err := gateway.VerifyAuthorizationHeader(v.AuthorizationHeader, s.PublicKey(), now.Add(d), time.Minute)
		require.NoError(t, err, "offset %v", d)
	}
	// Task ids holding ':' sign and verify normally.
	a, err := gateway.VerifyAuthorizationHeader(colonTask, s.PublicKey(), now, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "task:x", a.TaskID)
}

func mustDecodeHeader(t testing.TB, h string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(h, "AgentAssertion "))
	require.NoError(t, err)
	return b
}

func TestVerifyTaskRegistration(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	s := vectorSigner(t)
	now := vectorTime(t, v.Timestamp)
	body := v.RegistrationBody
	rsig := v.RegistrationSignature

	good := []struct{ name, body string }{
		{"exact", body},
		{"other order", `{"signature":"` + rsig + `","timestamp":"2026-01-02T03:04:05Z"}`},
		{"whitespace", "{ \"timestamp\" : \"2026-01-02T03:04:05Z\",\n \"signature\": \"" + rsig + "\" }\n"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := gateway.VerifyTaskRegistration(v.RuntimeID, []byte(tt.body), s.PublicKey(), now, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, now, ts)
		})
	}
	bad := []struct {
		name, runtime, body string
		now                 time.Time
		want                error
	}{
		{"duplicate member", v.RuntimeID, strings.TrimSuffix(body, "}") + `,"timestamp":"2026-01-02T03:04:05Z"}`, now, gateway.ErrInvalidAssertion},
		{"extra member", v.RuntimeID, strings.TrimSuffix(body, "}") + `,"x":1}`, now, gateway.ErrInvalidAssertion},
		{"missing signature", v.RuntimeID, `{"timestamp":"2026-01-02T03:04:05Z"}`, now, gateway.ErrInvalidAssertion},
		{"number timestamp", v.RuntimeID, `{"timestamp":1,"signature":"` + rsig + `"}`, now, gateway.ErrInvalidAssertion},
		{"null signature", v.RuntimeID, `{"timestamp":"2026-01-02T03:04:05Z","signature":null}`, now, gateway.ErrInvalidAssertion},
		{"array", v.RuntimeID, `[` + body + `]`, now, gateway.ErrInvalidAssertion},
		{"not json", v.RuntimeID, `timestamp=1`, now, gateway.ErrInvalidAssertion},
		{"trailing garbage", v.RuntimeID, body + "x", now, gateway.ErrInvalidAssertion},
		{"fractional timestamp", v.RuntimeID, strings.Replace(body, "05Z", "05.0Z", 1), now, gateway.ErrInvalidAssertion},
		{"url alphabet signature", v.RuntimeID, strings.ReplaceAll(body, "/", "_"), now, gateway.ErrInvalidAssertion},
		{"assertion signature", v.RuntimeID, strings.Replace(body, rsig, v.AssertionSignature, 1), now, gateway.ErrInvalidAssertion},
		{"other runtime id", "agent-124", body, now, gateway.ErrInvalidAssertion},
		{"bad runtime id", "../x", body, now, ids.ErrInvalidRuntimeID},
		{"stale", v.RuntimeID, body, now.Add(2 * time.Minute), gateway.ErrInvalidAssertion},
		{"too large", v.RuntimeID, strings.TrimSuffix(body, "}") + strings.Repeat(" ", 5000) + "}", now, gateway.ErrInvalidAssertion},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := gateway.VerifyTaskRegistration(tt.runtime, []byte(tt.body), s.PublicKey(), tt.now, time.Minute)
			require.ErrorIs(t, err, tt.want)
			assert.True(t, ts.IsZero())
		})
	}
	_, err := gateway.VerifyTaskRegistration(v.RuntimeID, []byte(body), s.PublicKey(), now, -1)
	require.Error(t, err)
	_, err = gateway.VerifyTaskRegistration(v.RuntimeID, []byte(body), make([]byte, 32), now, time.Second)
	require.ErrorIs(t, err, wire.ErrInvalidKey)
}

func TestSealTaskIDRefuses(t *testing.T) {
	s := vectorSigner(t)
	tests := []struct {
		name string
		pub  []byte
		task string
		want error
	}{
		{"short key", make([]byte, 31), "t", wire.ErrInvalidKey},
		{"identity point", append([]byte{1}, make([]byte, 31)...), "t", wire.ErrInvalidKey},
		{"order 8 point", mustHex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "t", wire.ErrInvalidKey},
		{"not a point", append([]byte{2}, make([]byte, 31)...), "t", wire.ErrInvalidKey},
		{"empty task id", s.PublicKey(), "", ids.ErrInvalidTaskID},
		{"control character", s.PublicKey(), "a\tb", ids.ErrInvalidTaskID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := gateway.SealTaskID(tt.pub, tt.task)
			require.ErrorIs(t, err, tt.want)
			assert.Empty(t, out)
		})
	}
	a, err := gateway.SealTaskID(s.PublicKey(), "t")
	require.NoError(t, err)
	b, err := gateway.SealTaskID(s.PublicKey(), "t")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "sealed boxes are randomized")
}
