//go:build unix

package codexhome

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkParseAuthFile(b *testing.B) {
	data := readSample(b, "record_form.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseAuthFile(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAuthFileStdlibBaseline is the standard-library baseline:
// encoding/json into a map of raw members (no duplicate check, no order,
// no type checks).
func BenchmarkParseAuthFileStdlibBaseline(b *testing.B) {
	data := readSample(b, "record_form.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalAuthFile(b *testing.B) {
	f := mustParse(b, readSample(b, "record_form.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalAuthFileStdlibBaseline is json.MarshalIndent of the same
// members from a map (which loses the member order).
func BenchmarkMarshalAuthFileStdlibBaseline(b *testing.B) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(readSample(b, "record_form.json"), &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.MarshalIndent(m, "", "  "); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreUpdate(b *testing.B) {
	s := OpenStore(b.TempDir())
	writeFile(b, s.Path(), readSample(b, "record_form.json"), 0o600)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(ctx, incrementCounter); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreUpdateStdlibBaseline reads, decodes, re-encodes and writes
// the file with os.ReadFile/os.WriteFile: no lock, no fsync, not atomic.
func BenchmarkStoreUpdateStdlibBaseline(b *testing.B) {
	path := filepath.Join(b.TempDir(), "auth.json")
	writeFile(b, path, readSample(b, "record_form.json"), 0o600)
	b.ReportAllocs()
	for b.Loop() {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		n, _ := m["counter"].(float64)
		m["counter"] = n + 1
		out, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreUpdateNoChange measures the locked read when fn changes
// nothing (no write).
func BenchmarkStoreUpdateNoChange(b *testing.B) {
	s := OpenStore(b.TempDir())
	writeFile(b, s.Path(), readSample(b, "record_form.json"), 0o600)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(ctx, func(*AuthFile) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
