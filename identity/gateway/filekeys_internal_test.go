package gateway

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentidentity/agentidentity/internal/wire"
)

// BenchmarkFileKeysCheck compares the two ways of seeing every change of
// content within the check interval: a stat compared with the last version
// (device, inode, size, mtime, ctime; what FileKeys does outside the racy
// window), against opening, reading and hashing the file on every check,
// for keys files of 10, 1,000 and 20,000 agents (1.5 KiB to 3 MiB).
func BenchmarkFileKeysCheck(b *testing.B) {
	for _, agents := range []int{10, 1000, 20000} {
		path := filepath.Join(b.TempDir(), "agents.jsonl")
		var buf bytes.Buffer
		for i := range agents {
			pub, _, _ := ed25519.GenerateKey(nil)
			ssh, err := wire.MarshalPublicKeySSH(pub)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&buf, `{"runtime_id":"agent-%06d","public_key":%q,"account_id":"acct-%06d"}`+"\n", i, ssh, i)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
		k, err := NewFileKeys(path, FileKeysOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		size := fmt.Sprintf("%dagents-%dKiB", agents, buf.Len()>>10)
		b.Run("stat/"+size, func(b *testing.B) {
			for b.Loop() {
				k.mu.Lock()
				k.racy = false
				k.checkLocked()
				k.mu.Unlock()
			}
		})
		b.Run("hash/"+size, func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				k.mu.Lock()
				_ = k.readLocked(false)
				k.mu.Unlock()
			}
		})
	}
}
