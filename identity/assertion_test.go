package identity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
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
