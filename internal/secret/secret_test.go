package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	holders := []struct {
		name string
		val  any
	}{
		{"value", v}, {"pointer", &v}, {"box", b}, {"box pointer", &b},
		{"exported fields", exported{v, b}}, {"exported fields pointer", &exported{v, b}},
		{"unexported fields", hidden{v, b}}, {"unexported fields pointer", &hidden{v, b}},
		{"slice", []Value{v, v}}, {"box slice", []Box[payload]{b}},
		{"struct slice", []hidden{{v, b}}}, {"map", map[string]any{"v": v, "h": hidden{v, b}}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%e", "%t", "%p", "%T", "%10.3s"}
	for _, h := range holders {
		for _, verb := range verbs {
			t.Run(h.name+" "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, h.val)
				assert.NotContains(t, out, text)
				assert.NotContains(t, out, fmt.Sprintf("%x", text))
				assert.NotContains(t, out, fmt.Sprint([]byte(text)))
			})
		}
		t.Run(h.name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", h.val)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", h.val)
			assert.NotContains(t, buf.String(), text)
		})
		t.Run(h.name+" json", func(t *testing.T) {
			out, err := json.Marshal(h.val)
			if err == nil {
				assert.NotContains(t, string(out), text)
			}
		})
	}
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
