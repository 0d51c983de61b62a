package strictjson

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		object  bool
		wantErr error
	}{
		{"object", `{"a":1,"b":[1,2,{"c":null}]}`, true, nil},
		{"nested same name in different objects", `{"a":{"a":1},"b":{"a":2}}`, true, nil},
		{"array top level", `[1,2]`, false, nil},
		{"scalar", `"x"`, false, nil},
		{"whitespace around", " \n{\"a\":1}\n ", true, nil},
		{"empty", ``, false, ErrInvalid},
		{"only whitespace", "  \n", false, ErrInvalid},
		{"duplicate top", `{"a":1,"a":2}`, false, ErrDuplicateMember},
		{"duplicate escaped", `{"a":1,"\u0061":2}`, false, ErrDuplicateMember},
		{"duplicate nested", `{"x":{"a":1,"a":1}}`, false, ErrDuplicateMember},
		{"duplicate in array element", `[{"a":1,"a":1}]`, false, ErrDuplicateMember},
		{"truncated", `{"a":1`, false, ErrInvalid},
		{"trailing data", `{"a":1}{}`, false, ErrInvalid},
		{"trailing scalar", `1 2`, false, ErrInvalid},
		{"trailing garbage", `{"a":1}x`, false, ErrInvalid},
		{"invalid utf8", "{\"a\":\"\xff\"}", false, ErrInvalid},
		{"syntax", `{a:1}`, false, ErrInvalid},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, true, nil},
		{"surrogate pair upper case", `{"a":"\uD83D\uDE00"}`, true, nil},
		{"lone high surrogate in value", `{"a":"x\ud800y"}`, false, ErrInvalid},
		{"lone high surrogate in name", `{"x\ud800y":1}`, false, ErrInvalid},
		{"lone low surrogate", `{"a":"\udc00"}`, false, ErrInvalid},
		{"high then non-low", `{"a":"\ud800\u0041"}`, false, ErrInvalid},
		{"high at end of string", `["\ud800"]`, false, ErrInvalid},
		{"escaped backslash then u", `{"a":"\\ud800"}`, true, nil},
		{"other escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9"}`, true, nil},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false, ErrInvalid},
		{"deep ok", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in))
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

func TestCheckObject(t *testing.T) {
	require.NoError(t, CheckObject([]byte(`{}`)))
	for _, in := range []string{`[]`, `"s"`, `1`, `null`, `true`} {
		require.ErrorIs(t, CheckObject([]byte(in)), ErrInvalid, in)
	}
}

func TestDuplicateNameNotQuotedBeyondLimit(t *testing.T) {
	long := strings.Repeat("k", 500)
	err := Check([]byte(`{"` + long + `":1,"` + long + `":2}`))
	require.ErrorIs(t, err, ErrDuplicateMember)
	require.Less(t, len(err.Error()), 200)
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[{"b":[]}]`, `"x"`, `{"a":{"\u0062":1,"b":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Check(data)
	})
}
