package identity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/strictjson"
	"github.com/agentidentity/agentidentity/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func vectorTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return ts
}

func TestAuthorizationHeaderVectors(t *testing.T) {
	for _, v := range loadAssertionVectors(t).Vectors {
		t.Run(v.Name, func(t *testing.T) {
			for form, key := range map[string]string{"pkcs8-v1": v.PKCS8v1, "pkcs8-v2": v.PKCS8v2} {
				t.Run(form, func(t *testing.T) {
					s, err := NewSigner(v.RuntimeID, codexhome.NewSecret(key))
					require.NoError(t, err)
					at := vectorTime(t, v.Timestamp)

					h, err := s.AuthorizationHeader(v.TaskID, at)
					require.NoError(t, err)
					assert.Equal(t, v.AuthorizationHeader, h)
					assert.Equal(t, "AgentAssertion "+v.EnvelopeB64URL, h)

					env, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(h, "AgentAssertion "))
					require.NoError(t, err)
					assert.Equal(t, v.EnvelopeJSON, string(env))

					var fields map[string]string
					require.NoError(t, json.Unmarshal(env, &fields))
					assert.Equal(t, v.AssertionSignature, fields["signature"])
					assert.Equal(t, v.AssertionPayload, v.RuntimeID+":"+v.TaskID+":"+v.Timestamp)

					// Fractions of a second and other zones sign the same.
					h2, err := s.AuthorizationHeader(v.TaskID, at.Add(999*time.Millisecond).In(time.FixedZone("x", 5*3600)))
					require.NoError(t, err)
					assert.Equal(t, v.AuthorizationHeader, h2)

					body, err := s.taskRegistrationBody(at.Add(123 * time.Millisecond))
					require.NoError(t, err)
					assert.Equal(t, v.RegistrationBody, string(body))
					assert.Contains(t, string(body), v.RegistrationSignature)

					a, err := gateway.VerifyAuthorizationHeader(h, s.PublicKey(), at, time.Second)
					require.NoError(t, err)
					assert.Equal(t, gateway.Assertion{AgentRuntimeID: v.RuntimeID, TaskID: v.TaskID, Timestamp: at}, a)

					ts, err := gateway.VerifyTaskRegistration(v.RuntimeID, body, s.PublicKey(), at, time.Second)
					require.NoError(t, err)
					assert.Equal(t, at, ts)
				})
			}
		})
	}
}

func TestCommonMistakesDiffer(t *testing.T) {
	f := loadAssertionVectors(t)
	v := f.Vectors[0]
	fields := map[string]string{
		"authorization_header":          v.AuthorizationHeader,
		"envelope_json":                 v.EnvelopeJSON,
		"assertion_signature_base64":    v.AssertionSignature,
		"registration_signature_base64": v.RegistrationSignature,
	}
	s, err := NewSigner(v.RuntimeID, codexhome.NewSecret(v.PKCS8v2))
	require.NoError(t, err)
	require.NotEmpty(t, f.Mistakes)
	for _, m := range f.Mistakes {
		t.Run(m.Mistake, func(t *testing.T) {
			want, ok := fields[m.MustDifferKey]
			require.True(t, ok, m.MustDifferKey)
			assert.NotEqual(t, want, m.Value)
			if strings.HasPrefix(m.Value, "AgentAssertion ") {
				_, err := gateway.VerifyAuthorizationHeader(m.Value, s.PublicKey(), vectorTime(t, v.Timestamp), time.Minute)
				require.ErrorIs(t, err, gateway.ErrInvalidAssertion)
			}
		})
	}
}

func TestAuthorizationHeaderEscaping(t *testing.T) {
	s := testSigner(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, task, wantJSON string
	}{
		{"plain", "task-1", `"task-1"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"html characters", "<a>&b", `"<a>&b"`},
		{"non-ascii", "tâche-✓-日本", `"tâche-✓-日本"`},
		{"line and paragraph separators", "a\u2028b\u2029c", "\"a\u2028b\u2029c\""},
		{"colons", "a:b:c", `"a:b:c"`},
		{"longer than the stack scratch", strings.Repeat(`x"`, 600), `"` + strings.Repeat(`x\"`, 600) + `"`},
		{"del is not escaped", "a\x7fb", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := s.AuthorizationHeader(tt.task, at)
			if tt.wantJSON == "" {
				require.ErrorIs(t, err, ErrInvalidTaskID)
				return
			}
			require.NoError(t, err)
			env, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(h, "AgentAssertion "))
			require.NoError(t, err)
			assert.Contains(t, string(env), `"task_id":`+tt.wantJSON+`,`)
			a, err := gateway.VerifyAuthorizationHeader(h, s.PublicKey(), at, time.Second)
			require.NoError(t, err)
			assert.Equal(t, tt.task, a.TaskID)
		})
	}
}

func TestAppendJSONStringMatchesSerde(t *testing.T) {
	// serde_json escapes exactly '"', '\\' and U+0000..U+001F.
	for c := 0; c < 0x80; c++ {
		got := string(strictjson.AppendString(nil, string(rune(c))))
		var want string
		switch {
		case c == '"':
			want = `\"`
		case c == '\\':
			want = `\\`
		case c == '\b':
			want = `\b`
		case c == '\f':
			want = `\f`
		case c == '\n':
			want = `\n`
		case c == '\r':
			want = `\r`
		case c == '\t':
			want = `\t`
		case c < 0x20:
			want = fmt.Sprintf(`\u%04x`, c)
		default:
			want = string(rune(c))
		}
		assert.Equal(t, want, got, "byte %#x", c)
		assert.Equal(t, len(want), strictjson.StringLen(string(rune(c))), "byte %#x", c)
		var back string
		require.NoError(t, json.Unmarshal([]byte(`"`+got+`"`), &back))
		assert.Equal(t, string(rune(c)), back)
	}
}

func TestSigningTime(t *testing.T) {
	s := testSigner(t)
	tests := []struct {
		name string
		at   time.Time
		want string // "" for an error
	}{
		{"year 2000 first second", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "2000-01-01T00:00:00Z"},
		{"year 8999 last second", time.Date(8999, 12, 31, 23, 59, 59, 999999999, time.UTC), "8999-12-31T23:59:59Z"},
		{"year 9000", time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), ""},
		{"year 1999", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), ""},
		{"year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"year -1", time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), ""},
		{"offset zone", time.Date(2026, 1, 2, 5, 4, 5, 0, time.FixedZone("p2", 2*3600)), "2026-01-02T03:04:05Z"},
		{"zero time", time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := s.AuthorizationHeader("t", tt.at)
			body, berr := s.taskRegistrationBody(tt.at)
			if tt.want == "" {
				require.ErrorIs(t, err, errInvalidSigningTime)
				require.ErrorIs(t, berr, errInvalidSigningTime)
				return
			}
			require.NoError(t, err)
			require.NoError(t, berr)
			assert.Contains(t, string(body), `"timestamp":"`+tt.want+`"`)
			ts, ok := wire.ParseTimestamp(tt.want)
			require.True(t, ok)
			a, err := gateway.VerifyAuthorizationHeader(h, s.PublicKey(), ts, time.Second)
			require.NoError(t, err)
			assert.Equal(t, ts, a.Timestamp)
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", "2026-01-02T03:04:05Z", true},
		{"leap day", "2024-02-29T00:00:00Z", true},
		{"not a leap day", "2025-02-29T00:00:00Z", false},
		{"month 13", "2026-13-02T03:04:05Z", false},
		{"day 0", "2026-01-00T03:04:05Z", false},
		{"hour 24", "2026-01-02T24:04:05Z", false},
		{"leap second", "2026-12-31T23:59:60Z", false},
		{"lower-case t", "2026-01-02t03:04:05Z", false},
		{"lower-case z", "2026-01-02T03:04:05z", false},
		{"offset", "2026-01-02T03:04:05+00:00", false},
		{"fraction", "2026-01-02T03:04:05.0Z", false},
		{"space", "2026-01-02 03:04:05Z", false},
		{"sign", "+026-01-02T03:04:05Z", false},
		{"empty", "", false},
		{"unicode digit", "２026-01-02T03:04:05Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := wire.ParseTimestamp(tt.in)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestPayloadFormats(t *testing.T) {
	s := testSigner(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range []PayloadFormat{PayloadColon, PayloadJSONArray} {
		t.Run(f.String(), func(t *testing.T) {
			h, err := s.AuthorizationHeaderFormat(`t"a\sk:1`, at, f)
			require.NoError(t, err)
			a, err := wire.VerifyHeader(h, s.PublicKey(), at, time.Second, f.wireFormat())
			require.NoError(t, err)
			assert.Equal(t, `t"a\sk:1`, a.TaskID)
			other := PayloadColon
			if f == PayloadColon {
				other = PayloadJSONArray
			}
			_, err = wire.VerifyHeader(h, s.PublicKey(), at, time.Second, other.wireFormat())
			require.ErrorIs(t, err, gateway.ErrInvalidAssertion)
		})
	}
	buf := wire.AppendPayload(nil, "agent-1", `x"y`, []byte("2026-01-02T03:04:05Z"), wire.PayloadJSONArray)
	assert.Equal(t, `["agent-1","x\"y","2026-01-02T03:04:05Z"]`, string(buf))
	var arr []string
	require.NoError(t, json.Unmarshal(buf, &arr))
	assert.Equal(t, []string{"agent-1", `x"y`, "2026-01-02T03:04:05Z"}, arr)

	_, err := s.AuthorizationHeaderFormat("t", at, PayloadFormat(7))
	require.Error(t, err)
	_, err = wire.VerifyHeader("x", s.PublicKey(), at, time.Second, PayloadFormat(7).wireFormat())
	require.Error(t, err)
	assert.Equal(t, "PayloadFormat(7)", PayloadFormat(7).String())
}

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
			require.NoError(t, ValidateRuntimeID(tr.runtime))
			require.NoError(t, ValidateTaskID(tr.task))
			p := string(wire.AppendPayload(nil, tr.runtime, tr.task, []byte(tr.ts), f.wireFormat()))
			if prev, ok := seen[p]; ok {
				require.Equal(t, prev, tr, "two triples sign the same bytes in format %v", f)
			}
			seen[p] = tr
			if f == PayloadColon {
				rt, rest, _ := strings.Cut(p, ":")
				require.Equal(t, tr.runtime, rt)
				require.Equal(t, tr.ts, rest[len(rest)-wire.TimestampLen:])
				require.Equal(t, tr.task, rest[:len(rest)-wire.TimestampLen-1])
			}
		}
		require.Greater(t, len(seen), 15000)
	}
}

func TestSignerIsConcurrencySafe(t *testing.T) {
	s := testSigner(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want, err := s.AuthorizationHeader("task", at)
	require.NoError(t, err)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				h, err := s.AuthorizationHeader("task", at)
				if err == nil && h != want {
					err = fmt.Errorf("header changed")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	require.True(t, utf8.ValidString(want))
}
