package codexhome_test

import (
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/testkit"
)

const secretText = "sk-very-secret-token-7f3a"

// TestSecretNeverPrints is the matrix of the public type: value, pointer,
// exported and unexported struct fields, slices and maps × every fmt verb,
// log/slog's text and JSON handlers, and the JSON and XML encoders.
func TestSecretNeverPrints(t *testing.T) {
	s := codexhome.NewSecret(secretText)
	type exported struct{ S codexhome.Secret }
	type hidden struct{ s codexhome.Secret }
	testkit.AssertNeverPrints(t, secretText, []testkit.Holder{
		{Name: "value", Val: s}, {Name: "pointer", Val: &s},
		{Name: "exported field", Val: exported{s}}, {Name: "exported field pointer", Val: &exported{s}},
		{Name: "unexported field", Val: hidden{s}}, {Name: "unexported field pointer", Val: &hidden{s}},
		{Name: "slice", Val: []codexhome.Secret{s, s}}, {Name: "struct slice", Val: []hidden{{s}}},
		{Name: "map", Val: map[string]any{"s": s, "h": hidden{s}}},
		{Name: "login", Val: codexhome.ChatGPTLogin{AccessToken: s, Account: codexhome.Account{AccountID: "acc"}}},
		{Name: "record", Val: &codexhome.AgentIdentityRecord{AgentRuntimeID: "r", AgentPrivateKey: s}},
	})
	t.Run("marshalers", func(t *testing.T) {
		text, err := s.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, "[REDACTED]", string(text))
		js, err := s.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, `"[REDACTED]"`, string(js))
		x, err := xml.Marshal(exported{s})
		require.NoError(t, err)
		assert.NotContains(t, string(x), secretText)
		assert.Equal(t, "[REDACTED]", s.String())
	})
}

func TestSecretReveal(t *testing.T) {
	tests := []struct {
		name string
		s    codexhome.Secret
		want string
		zero bool
	}{
		{"zero value", codexhome.Secret{}, "", true},
		{"empty text", codexhome.NewSecret(""), "", true},
		{"set", codexhome.NewSecret(secretText), secretText, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.Reveal())
			assert.Equal(t, tt.zero, tt.s.IsZero())
			assert.True(t, tt.s.Equal(codexhome.NewSecret(tt.want)))
			assert.False(t, tt.s.Equal(codexhome.NewSecret(tt.want+"x")))
		})
	}
}

func TestSecretUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{"string", `"sk-abc"`, "sk-abc", false},
		{"escaped", `"a\"b"`, `a"b`, false},
		{"null", `null`, "", false},
		{"number", `12345678`, "", true},
		{"object", `{"k":"sk-in-object"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct{ K codexhome.Secret }
			err := json.Unmarshal([]byte(`{"K":`+tt.in+`}`), &v)
			if tt.err {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "sk-in-object")
				assert.NotContains(t, err.Error(), "12345678")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.K.Reveal())
		})
	}
}
