package wire

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/ids"
)

// randomTaskID makes task ids rich in the characters that could cause
// ambiguity: ':', digits, '-', 'T', 'Z', quotes and non-ASCII.
func randomTaskID(r *rand.Rand) string {
	const alphabet = "::--TZ0123456789\"\\ab.é"
	n := 1 + r.Intn(12)
	var b strings.Builder
	for range n {
		runes := []rune(alphabet)
		b.WriteRune(runes[r.Intn(len(runes))])
	}
	return b.String()
}

func randomRuntimeID(r *rand.Rand) string {
	const alphabet = "aZ09-_.~"
	n := 1 + r.Intn(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	if s := string(b); s == "." || s == ".." {
		return "a" + s
	}
	return string(b)
}

// TestPayloadCollisionFreedom is the property test the reviewers asked for:
// no two different (runtime, task, timestamp) triples give the same signed
// bytes, in either format. It also checks that the colon payload parses back
// one way only: runtime id up to the first ':', timestamp the last 20 bytes.
func TestPayloadCollisionFreedom(t *testing.T) {
	type triple struct{ runtime, task, ts string }
	r := rand.New(rand.NewSource(1))
	times := []string{"2026-01-02T03:04:05Z", "2026-01-02T03:04:06Z", "0000-01-01T00:00:00Z", "2026-12-31T23:59:59Z"}
	for _, f := range []PayloadFormat{PayloadColon, PayloadJSONArray} {
		seen := map[string]triple{}
		for range 20000 {
			tr := triple{randomRuntimeID(r), randomTaskID(r), times[r.Intn(len(times))]}
			require.NoError(t, ids.ValidateRuntimeID(tr.runtime))
			require.NoError(t, ids.ValidateTaskID(tr.task))
			p := string(AppendPayload(nil, tr.runtime, tr.task, []byte(tr.ts), f))
			if prev, ok := seen[p]; ok {
				require.Equal(t, prev, tr, "two triples sign the same bytes in format %v", f)
			}
			seen[p] = tr
			if f == PayloadColon {
				rt, rest, _ := strings.Cut(p, ":")
				require.Equal(t, tr.runtime, rt)
				require.Equal(t, tr.ts, rest[len(rest)-TimestampLen:])
				require.Equal(t, tr.task, rest[:len(rest)-TimestampLen-1])
			}
		}
		require.Greater(t, len(seen), 15000)
	}
}
