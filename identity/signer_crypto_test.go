package identity_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/internal/wire"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// onlySigner hides every method of the key but those of crypto.Signer, as a
// hardware token or an ssh-agent would.
type onlySigner struct{ k crypto.Signer }

func (o onlySigner) Public() crypto.PublicKey { return o.k.Public() }
func (o onlySigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, msg, opts)
}

// cryptoVector is the part of agent_assertion_vectors.json these tests use.
type cryptoVector struct {
	Name                string `json:"name"`
	SeedHex             string `json:"seed_hex"`
	PKCS8v2             string `json:"private_key_pkcs8_v2_der_base64"`
	PublicKeySSH        string `json:"public_key_ssh"`
	RuntimeID           string `json:"agent_runtime_id"`
	TaskID              string `json:"task_id"`
	Timestamp           string `json:"timestamp"`
	AuthorizationHeader string `json:"authorization_header"`
	RegistrationBody    string `json:"registration_request_body_json"`
	X25519PublicKeyHex  string `json:"x25519_public_key_hex"`
}

func loadCryptoVectors(t testing.TB) []cryptoVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", "agent_assertion_vectors.json"))
	require.NoError(t, err)
	var f struct {
		Vectors []cryptoVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	require.NotEmpty(t, f.Vectors)
	return f.Vectors
}

func seedKey(t testing.TB, seedHex string) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString(seedHex)
	require.NoError(t, err)
	require.Len(t, seed, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

// TestSignerFromCryptoMatchesPKCS8 checks that the crypto.Signer path puts
// the same bytes on the wire as the PKCS#8 path, for the shared vectors.
func TestSignerFromCryptoMatchesPKCS8(t *testing.T) {
	for _, v := range loadCryptoVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			fromFile, err := identity.NewSigner(v.RuntimeID, codexhome.NewSecret(v.PKCS8v2))
			require.NoError(t, err)
			fromCrypto, err := identity.NewSignerFromCrypto(v.RuntimeID, onlySigner{seedKey(t, v.SeedHex)})
			require.NoError(t, err)
			at, err := time.Parse(time.RFC3339, v.Timestamp)
			require.NoError(t, err)

			h, err := fromCrypto.AuthorizationHeader(v.TaskID, at)
			require.NoError(t, err)
			want, err := fromFile.AuthorizationHeader(v.TaskID, at)
			require.NoError(t, err)
			assert.Equal(t, want, h)
			assert.Equal(t, v.AuthorizationHeader, h)

			for _, f := range []identity.PayloadFormat{identity.PayloadColon, identity.PayloadJSONArray} {
				a, err := fromCrypto.AuthorizationHeaderFormat(v.TaskID, at, f)
				require.NoError(t, err)
				b, err := fromFile.AuthorizationHeaderFormat(v.TaskID, at, f)
				require.NoError(t, err)
				assert.Equal(t, b, a, "format %v", f)
			}

			body, err := identity.TaskRegistrationBodyForTest(fromCrypto, at)
			require.NoError(t, err)
			assert.Equal(t, v.RegistrationBody, string(body))

			assert.Equal(t, fromFile.PublicKey(), fromCrypto.PublicKey())
			assert.Equal(t, v.PublicKeySSH, fromCrypto.PublicKeySSH())
			assert.Equal(t, v.X25519PublicKeyHex, fmt.Sprintf("%x", identity.X25519PublicKeyForTest(fromCrypto)))
			assert.Equal(t, v.RuntimeID, fromCrypto.AgentRuntimeID())
		})
	}
}

// badSigner is a crypto.Signer that misbehaves in one way.
type badSigner struct {
	pub  crypto.PublicKey
	sign func(msg []byte) ([]byte, error)
}

func (b badSigner) Public() crypto.PublicKey { return b.pub }
func (b badSigner) Sign(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	return b.sign(msg)
}

func TestSignerFromCryptoRefusesMisbehavingSigners(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pub := priv.Public()
	errToken := errors.New("token unplugged")
	tests := []struct {
		name    string
		sign    func(msg []byte) ([]byte, error)
		wantErr error
	}{
		{"error", func([]byte) ([]byte, error) { return nil, errToken }, errToken},
		{"short signature", func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg)[:63], nil }, nil},
		{"long signature", func(msg []byte) ([]byte, error) { return append(ed25519.Sign(priv, msg), 0), nil }, nil},
		{"empty signature", func([]byte) ([]byte, error) { return nil, nil }, nil},
		{"another key's signature", func(msg []byte) ([]byte, error) { return ed25519.Sign(other, msg), nil }, nil},
		{"signature of other bytes", func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, append(msg, 'x')), nil }, nil},
		{"flipped bit", func(msg []byte) ([]byte, error) {
			s := ed25519.Sign(priv, msg)
			s[10] ^= 1
			return s, nil
		}, nil},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := identity.NewSignerFromCrypto("agent-1", badSigner{pub: pub, sign: tt.sign})
			require.NoError(t, err)
			h, err := s.AuthorizationHeader("task-1", at)
			require.ErrorIs(t, err, identity.ErrKeySignFailed)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			assert.Empty(t, h)
			body, err := identity.TaskRegistrationBodyForTest(s, at)
			require.ErrorIs(t, err, identity.ErrKeySignFailed)
			assert.Empty(t, body)
		})
	}
}

func TestSignerFromCryptoRefusesBadKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	never := func([]byte) ([]byte, error) { panic("never called") }
	smallOrder := make(ed25519.PublicKey, ed25519.PublicKeySize)
	smallOrder[0] = 1 // y = 1, the identity point
	tests := []struct {
		name string
		key  crypto.Signer
	}{
		{"nil", nil},
		{"ecdsa", ec},
		{"pointer to ed25519 public key", badSigner{pub: &ed25519.PublicKey{}, sign: never}},
		{"short ed25519 public key", badSigner{pub: ed25519.PublicKey(make([]byte, 31)), sign: never}},
		{"small-order public key", badSigner{pub: smallOrder, sign: never}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.NewSignerFromCrypto("agent-1", tt.key)
			require.ErrorIs(t, err, wire.ErrInvalidKey)
		})
	}
	_, err = identity.NewSignerFromCrypto("bad id", priv)
	require.ErrorIs(t, err, identity.ErrInvalidRuntimeID)
}

func TestSignerFromCryptoSealedTaskID(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := identity.NewSignerFromCrypto("agent-1", onlySigner{priv})
	require.NoError(t, err)
	sealed, err := gateway.SealTaskID(s.PublicKey(), "task-1")
	require.NoError(t, err)
	_, err = s.OpenTaskID(sealed)
	require.ErrorIs(t, err, identity.ErrSealedTaskIDNeedsSeed)
	require.ErrorIs(t, err, identity.ErrInvalidTaskIDCiphertext)
	for _, spelling := range []string{"encrypted_task_id", "encryptedTaskId", "task_id", "taskId"} {
		assert.Contains(t, err.Error(), spelling, "the message names the spellings")
	}
	assert.NotContains(t, fmt.Sprint(s), "PRIVATE")
	assert.NotContains(t, fmt.Sprintf("%#v", s), fmt.Sprintf("%x", priv.Seed()))
}

// cryptoAgentFixture registers an agent whose key is only a crypto.Signer.
func cryptoAgentFixture(t *testing.T, key crypto.Signer) (*identitytest.Server, *identity.Signer, *identity.Client, identitytest.ChatGPTLogin) {
	t.Helper()
	srv := identitytest.NewServer()
	t.Cleanup(srv.Close)
	login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
	c := &identity.Client{AuthAPIBaseURL: srv.AuthAPIBaseURL}
	// The public key is known before the runtime id: make a throwaway
	// Signer to spell it, as a caller of RegisterAgent would.
	probe, err := identity.NewSignerFromCrypto("unregistered", key)
	require.NoError(t, err)
	id, err := c.RegisterAgent(context.Background(), login.AccessToken, identity.AgentRegistration{
		AgentVersion: "1", AgentHarnessID: "test", RunningLocation: "local", PublicKeySSH: probe.PublicKeySSH(),
	})
	require.NoError(t, err)
	s, err := identity.NewSignerFromCrypto(id, key)
	require.NoError(t, err)
	return srv, s, c, login
}

// checkCryptoSignerRun registers an agent with key's public key, then sends
// first-party POSTs through NewRunAuth's Transport, which the fake backend
// verifies against the registered key.
func checkCryptoSignerRun(t *testing.T, key crypto.Signer) {
	t.Helper()
	srv, s, c, login := cryptoAgentFixture(t, key)
	ra, err := identity.NewRunAuth(s, c, identity.RunAuthOptions{Account: codexhome.Account{AccountID: login.AccountID, FedRAMP: login.FedRAMP}, FirstPartyOrigin: srv.ChatGPTBaseURL})
	require.NoError(t, err)
	hc := &http.Client{Transport: ra.Transport(nil)}
	for i := range 3 {
		resp, err := hc.Post(srv.ChatGPTBaseURL+"/codex/responses", "application/json", strings.NewReader(`{"n":`+fmt.Sprint(i)+`}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, 1, srv.Stats().AgentsRegistered)
	assert.Equal(t, 1, srv.Stats().TasksRegistered)
	assert.Equal(t, 3, srv.Stats().RequestsVerified)
	assert.Zero(t, srv.Stats().RequestsRejected)
}

func TestSignerFromCryptoRunAuth(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	checkCryptoSignerRun(t, onlySigner{priv})
}

func TestSignerFromCryptoRegisterTask(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	srv, s, c, _ := cryptoAgentFixture(t, onlySigner{priv})
	ctx := context.Background()
	tests := []struct {
		members []string
		sealed  bool
	}{
		{[]string{"task_id"}, false},
		{[]string{"taskId"}, false},
		{[]string{"task_id", "encrypted_task_id"}, false}, // the plaintext wins
		{[]string{"encrypted_task_id"}, true},
		{[]string{"encryptedTaskId"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.members, "+"), func(t *testing.T) {
			srv.SetFault(identitytest.Fault{TaskIDMembers: tt.members})
			id, err := c.RegisterTask(ctx, s)
			if tt.sealed {
				require.ErrorIs(t, err, identity.ErrSealedTaskIDNeedsSeed)
				require.ErrorIs(t, err, identity.ErrInvalidRegistrationResponse)
				assert.Empty(t, id)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, srv.TaskIDs(s.AgentRuntimeID()), id)
		})
	}
}
