package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

type sealedVectorFile struct {
	Variants []struct {
		Variant string `json:"variant"`
		Value   string `json:"value"`
	} `json:"base64_transport_variants"`
	Negative []struct {
		Name       string `json:"name"`
		Ciphertext string `json:"ciphertext_base64"`
	} `json:"negative"`
	Vectors []struct {
		Name          string `json:"name"`
		Ciphertext    string `json:"ciphertext_base64"`
		CiphertextHex string `json:"ciphertext_hex"`
		EphemeralHex  string `json:"ephemeral_private_key_hex"`
		Plaintext     string `json:"plaintext"`
		PKCS8v2       string `json:"private_key_pkcs8_v2_der_base64"`
		SeedHex       string `json:"seed_hex"`
		X25519Pub     string `json:"x25519_public_key_hex"`
	} `json:"vectors"`
}

func TestOpenTaskIDVectors(t *testing.T) {
	var f sealedVectorFile
	readVectorFile(t, "sealed_task_id_vectors.json", &f)
	s := testSigner(t)
	require.NotEmpty(t, f.Vectors)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			require.Equal(t, hex.EncodeToString(s.key.Get().priv.Seed()), v.SeedHex)
			assert.Equal(t, v.X25519Pub, hex.EncodeToString(s.x25519PublicKey()))
			got, err := s.OpenTaskID(v.Ciphertext)
			require.NoError(t, err)
			assert.Equal(t, v.Plaintext, got)
			if v.EphemeralHex != "" {
				// Reproduce the deterministic box by injecting the ephemeral key.
				sealed, err := wire.SealTaskID(bytes.NewReader(mustHex(t, v.EphemeralHex)), s.PublicKey(), v.Plaintext)
				require.NoError(t, err)
				assert.Equal(t, v.Ciphertext, sealed)
				assert.Equal(t, v.CiphertextHex, hex.EncodeToString(mustDecodeStd(t, sealed)))
			}
		})
	}
	require.NotEmpty(t, f.Negative)
	for _, n := range f.Negative {
		t.Run("negative/"+n.Name, func(t *testing.T) {
			got, err := s.OpenTaskID(n.Ciphertext)
			require.ErrorIs(t, err, errInvalidTaskIDCiphertext)
			assert.Empty(t, got)
		})
	}
	for i, tv := range f.Variants {
		t.Run("variant/"+tv.Variant, func(t *testing.T) {
			got, err := s.OpenTaskID(tv.Value)
			if i == 0 {
				require.NoError(t, err)
				assert.Equal(t, "task-abc", got)
				return
			}
			require.ErrorIs(t, err, errInvalidTaskIDCiphertext)
		})
	}
}

func mustDecodeStd(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestEd25519ToX25519Vectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name       string `json:"name"`
			Seed       string `json:"ed25519_seed_hex"`
			Public     string `json:"x25519_public_hex"`
			Private    string `json:"x25519_private_hex"`
			SharedWith string `json:"x25519_shared_with_key_A_hex"`
		} `json:"vectors"`
	}
	readVectorFile(t, "ed25519_to_x25519_vectors.json", &f)
	require.NotEmpty(t, f.Vectors)
	var keyA [32]byte
	for i, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			priv := ed25519.NewKeyFromSeed(mustHex(t, v.Seed))
			s, err := newSignerFromKey("agent-1", priv)
			require.NoError(t, err)
			assert.Equal(t, v.Private, hex.EncodeToString(s.key.Get().x25519Priv[:]))
			assert.Equal(t, v.Public, hex.EncodeToString(s.x25519PublicKey()))

			// The server-side map from the Ed25519 public key agrees.
			xpub, err := wire.X25519PublicFromEd25519(s.PublicKey())
			require.NoError(t, err)
			assert.Equal(t, v.Public, hex.EncodeToString(xpub[:]))

			if i == 1 {
				keyA = s.key.Get().x25519Priv
			}
			if v.SharedWith != "" {
				shared, err := curve25519.X25519(keyA[:], s.x25519PublicKey())
				require.NoError(t, err)
				assert.Equal(t, v.SharedWith, hex.EncodeToString(shared))
			}

			// Seal -> Open round-trips.
			for _, task := range []string{"task-abc", "t:ä\"<&>", strings.Repeat("x", 1000)} {
				sealed, err := gateway.SealTaskID(s.PublicKey(), task)
				require.NoError(t, err)
				got, err := s.OpenTaskID(sealed)
				require.NoError(t, err)
				assert.Equal(t, task, got)
			}
		})
	}
}

func TestSealedBoxExternalKATs(t *testing.T) {
	var f struct {
		KATs []struct {
			Name       string `json:"name"`
			RecipPriv  string `json:"recipient_x25519_private_hex"`
			RecipPub   string `json:"recipient_x25519_public_hex"`
			Ephemeral  string `json:"ephemeral_private_hex"`
			Plaintext  string `json:"plaintext_hex"`
			Ciphertext string `json:"ciphertext_hex"`
			Nonce      string `json:"nonce_hex"`
		} `json:"kats"`
	}
	readVectorFile(t, "sealed_box_kats_external.json", &f)
	n := 0
	for _, k := range f.KATs {
		if k.Nonce != "" || k.RecipPub == "" {
			continue // plain crypto_box, not a sealed box
		}
		n++
		t.Run(k.Name, func(t *testing.T) {
			var pub, priv [32]byte
			copy(pub[:], mustHex(t, k.RecipPub))
			copy(priv[:], mustHex(t, k.RecipPriv))
			plain, ok := box.OpenAnonymous(nil, mustHex(t, k.Ciphertext), &pub, &priv)
			require.True(t, ok)
			assert.Equal(t, mustHex(t, k.Plaintext), plain)
			if k.Ephemeral != "" {
				sealed, err := box.SealAnonymous(nil, plain, &pub, bytes.NewReader(mustHex(t, k.Ephemeral)))
				require.NoError(t, err)
				assert.Equal(t, k.Ciphertext, hex.EncodeToString(sealed))
			}
		})
	}
	require.Positive(t, n)
}

// sealRaw seals plain to s with the box primitives directly, so tests can
// make boxes that gateway.SealTaskID refuses to make.
func sealRaw(t testing.TB, s *Signer, plain []byte) string {
	t.Helper()
	sealed, err := box.SealAnonymous(nil, plain, &s.x25519Pub, bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sealed)
}

func TestOpenTaskIDRefuses(t *testing.T) {
	s := testSigner(t)
	good := sealRaw(t, s, []byte("task-1"))
	lowOrder := append(make([]byte, 32), bytes.Repeat([]byte{1}, 40)...) // all-zero ephemeral key
	lowOrder2 := append(mustHex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), bytes.Repeat([]byte{1}, 40)...)
	tests := []struct {
		name, in string
		also     error
	}{
		{"empty plaintext", sealRaw(t, s, nil), nil},
		{"invalid utf-8", sealRaw(t, s, []byte{'a', 0xff}), ErrInvalidTaskID},
		{"control character", sealRaw(t, s, []byte("a\nb")), ErrInvalidTaskID},
		{"nul", sealRaw(t, s, []byte("a\x00")), ErrInvalidTaskID},
		{"zero ephemeral key", base64.StdEncoding.EncodeToString(lowOrder), nil},
		{"order-8 ephemeral key", base64.StdEncoding.EncodeToString(lowOrder2), nil},
		{"missing padding", strings.TrimRight(sealRaw(t, s, []byte("task-12")), "="), nil}, // url alphabet: see the vector variants
		{"too long", strings.Repeat("A", wire.MaxSealedTaskID+4), nil},
		{"other recipient", func() string {
			o, err := gateway.SealTaskID(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey), "task-1")
			require.NoError(t, err)
			return o
		}(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.OpenTaskID(tt.in)
			require.ErrorIs(t, err, errInvalidTaskIDCiphertext)
			if tt.also != nil {
				require.ErrorIs(t, err, tt.also)
			}
			assert.Empty(t, got)
			assert.True(t, strings.HasPrefix(err.Error(), "identity: "))
		})
	}
	got, err := s.OpenTaskID(good)
	require.NoError(t, err)
	assert.Equal(t, "task-1", got)
}

// TestOpenTaskIDLowOrderEphemeralWycheproof sends every Wycheproof X25519
// public key that gives an all-zero shared secret as the ephemeral key of a
// box: OpenTaskID refuses each before trying to open it, as libsodium does.
func TestOpenTaskIDLowOrderEphemeralWycheproof(t *testing.T) {
	var f struct {
		TestGroups []struct {
			Tests []struct {
				TcID   int    `json:"tcId"`
				Public string `json:"public"`
				Shared string `json:"shared"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readVectorFile(t, "wycheproof/x25519_test.json", &f)
	s := testSigner(t)
	n := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			if tc.Shared != strings.Repeat("0", 64) {
				continue
			}
			n++
			sealed := append(mustHex(t, tc.Public), bytes.Repeat([]byte{1}, 40)...)
			_, err := s.OpenTaskID(base64.StdEncoding.EncodeToString(sealed))
			require.ErrorIs(t, err, errInvalidTaskIDCiphertext, "tcId %d", tc.TcID)
			assert.Contains(t, err.Error(), "low order", "tcId %d", tc.TcID)
		}
	}
	require.GreaterOrEqual(t, n, 30)
}
