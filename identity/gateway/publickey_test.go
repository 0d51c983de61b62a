package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/wire"
)

func TestParsePublicKeySSH(t *testing.T) {
	v := loadAssertionVectors(t).Vectors[0]
	blob64 := strings.TrimPrefix(v.PublicKeySSH, "ssh-ed25519 ")
	blob, err := base64.StdEncoding.DecodeString(blob64)
	require.NoError(t, err)
	sshBlob := func(pub []byte) string {
		b := []byte{0, 0, 0, 11}
		b = append(b, "ssh-ed25519"...)
		b = append(b, 0, 0, 0, byte(len(pub)))
		return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(append(b, pub...))
	}
	good := []struct{ name, line string }{
		{"no comment", v.PublicKeySSH},
		{"comment", v.PublicKeySSH + " agent@host"},
		{"comment with spaces", v.PublicKeySSH + " my agent key"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := gateway.ParsePublicKeySSH(tt.line)
			require.NoError(t, err)
			assert.Equal(t, v.PublicKeyHex, hex.EncodeToString(pub))
		})
	}
	bad := []struct{ name, line string }{
		{"empty", ""},
		{"options", `from="1.2.3.4" ` + v.PublicKeySSH},
		{"leading space", " " + v.PublicKeySSH},
		{"trailing space", v.PublicKeySSH + " "},
		{"trailing newline", v.PublicKeySSH + "\n"},
		{"two spaces before comment", v.PublicKeySSH + "  c"},
		{"two lines", v.PublicKeySSH + "\n" + v.PublicKeySSH},
		{"rsa type", "ssh-rsa " + blob64},
		{"needless padding", "ssh-ed25519 " + blob64 + "="},
		{"url alphabet", strings.ReplaceAll(loadAssertionVectors(t).Vectors[1].PublicKeySSH, "+", "-")},
		{"trailing blob bytes", "ssh-ed25519 " + base64.StdEncoding.EncodeToString(append(bytes.Clone(blob), 0))},
		{"short key", sshBlob(make([]byte, 31))},
		{"identity point", sshBlob(append([]byte{1}, make([]byte, 31)...))},
		{"order 8 point", sshBlob(mustHex(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))},
		{"not on curve", sshBlob(append([]byte{2}, make([]byte, 31)...))},
		{"spki instead", v.SPKI},
		{"only type", "ssh-ed25519"},
		{"tab separator", "ssh-ed25519\t" + blob64},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := gateway.ParsePublicKeySSH(tt.line)
			require.ErrorIs(t, err, wire.ErrInvalidKey)
			assert.Nil(t, pub)
		})
	}
}

// loadCCTV reads the C2SP/CCTV Ed25519 edge cases (TestCCTVThroughVerifyPath runs
// all of them through the verify path; TestSmallOrderBlocklist checks the
// low-order keys).
func loadCCTV(t testing.TB) []cctvVector {
	t.Helper()
	var vs []cctvVector
	readVectorFile(t, "cctv_ed25519/ed25519vectors.json", &vs)
	require.NotEmpty(t, vs)
	return vs
}

// TestSmallOrderBlocklist checks the cheap blocklist used on the verify path
// against a full point decode: every listed encoding (with either sign bit)
// that decodes is of small order, and every CCTV low-order key is listed.
func TestSmallOrderBlocklist(t *testing.T) {
	for i, y := range wire.SmallOrderY {
		for _, sign := range []byte{0, 0x80} {
			t.Run(fmt.Sprintf("entry-%d-sign-%x", i, sign), func(t *testing.T) {
				enc := y
				enc[31] |= sign
				require.ErrorIs(t, wire.CheckVerifyKey(enc[:]), wire.ErrInvalidKey)
				p, err := new(edwards25519.Point).SetBytes(enc[:])
				if err != nil {
					return // not a valid point at all: refused either way
				}
				assert.Equal(t, 1, new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()))
			})
		}
	}
	for _, c := range loadCCTV(t) {
		if c.has("low_order_A") {
			require.ErrorIs(t, wire.CheckVerifyKey(mustHex(t, c.Key)), wire.ErrInvalidKey, "cctv %d", c.Number)
		}
	}
}

// FuzzParsePublicKeySSH: a line ParsePublicKeySSH accepts starts with the
// canonical form of the key it returns (then at most a comment).
func FuzzParsePublicKeySSH(f *testing.F) {
	for _, v := range loadAssertionVectors(f).Vectors {
		f.Add(v.PublicKeySSH)
		f.Add(v.PublicKeySSH + " comment")
	}
	f.Fuzz(func(t *testing.T, line string) {
		pub, err := gateway.ParsePublicKeySSH(line)
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
