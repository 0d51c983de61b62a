package secret

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/testkit"
)

const text = "sk-very-secret-token"

type payload struct {
	Key  []byte
	Name string
}

// TestNeverPrints is the matrix: each holder × value, pointer, exported and
// unexported struct field, slice and map × every fmt verb, and slog's text
// and JSON handlers.
func TestNeverPrints(t *testing.T) {
	v := New(text)
	b := NewBox(payload{Key: []byte(text), Name: text})
	type exported struct {
		V Value
		B Box[payload]
	}
	type hidden struct {
		v Value
		b Box[payload]
	}
	testkit.AssertNeverPrints(t, text, []testkit.Holder{
		{Name: "value", Val: v}, {Name: "pointer", Val: &v}, {Name: "box", Val: b}, {Name: "box pointer", Val: &b},
		{Name: "exported fields", Val: exported{v, b}}, {Name: "exported fields pointer", Val: &exported{v, b}},
		{Name: "unexported fields", Val: hidden{v, b}}, {Name: "unexported fields pointer", Val: &hidden{v, b}},
		{Name: "slice", Val: []Value{v, v}}, {Name: "box slice", Val: []Box[payload]{b}},
		{Name: "struct slice", Val: []hidden{{v, b}}}, {Name: "map", Val: map[string]any{"v": v, "h": hidden{v, b}}},
	})
}

func TestReveal(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
		zero bool
	}{
		{"zero", Value{}, "", true},
		{"empty", New(""), "", true},
		{"set", New(text), text, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.v.Reveal())
			assert.Equal(t, tt.zero, tt.v.IsZero())
			assert.Equal(t, len(tt.want), tt.v.Len())
			assert.True(t, tt.v.Equal(New(tt.want)))
			if tt.zero {
				assert.Empty(t, tt.v.Presence())
			} else {
				assert.Equal(t, Redacted, tt.v.Presence())
			}
		})
	}
	b := NewBox(payload{Name: "x"})
	require.NotNil(t, b.Get())
	b.Get().Name = "y"
	assert.Equal(t, "y", b.Get().Name, "copies share the boxed value")
	assert.Nil(t, Box[payload]{}.Get())
}

func TestUnmarshal(t *testing.T) {
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
			var v struct{ K Value }
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
