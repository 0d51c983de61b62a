//go:build unix

package codexhome

import (
	"testing"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// BenchmarkOneWalk measures ParseAuthFile, whose strict check and split are
// one walk ("one"), beside the former two walks (strictjson.CheckObject,
// then the same parse: "two"), in the same run.
func BenchmarkOneWalk(b *testing.B) {
	data := readSample(b, "record_form.json")
	for _, v := range []struct {
		name  string
		check bool
	}{{"auth-file/one", false}, {"auth-file/two", true}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if v.check {
					if err := strictjson.CheckObject(data); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := ParseAuthFile(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
