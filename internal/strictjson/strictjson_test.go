package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
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

// FuzzScanAgainstDecoder holds the single-pass scanner to referenceCheck (the
// former Decoder.Token implementation) and Object to encoding/json.
func FuzzScanAgainstDecoder(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a\u0062":1,"ab":2}`, ` {"a" : [1, -0.5e+3, true, null, "x\n"]} `,
		`{"a":"\ud800"}`, `{"a":01}`, `{"a":1.}`, `{"a":"` + "\x01" + `"}`, `{"a":1}x`, `[1]`, `"s"`, `{"a":[{"b":1},{"b":1}]}`,
		`{"x":` + strings.Repeat("[", 257) + strings.Repeat("]", 257) + `}`, `{"x":` + strings.Repeat("[", 255) + strings.Repeat("]", 255) + `}`,
		`1 2`, ` `, `-`, `-0`, `1e`, `"\u00zz"`, `{"a" 1}`, `{1:2}`, `[1,]`, `{"a":1,}`, `nul`, `truex`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, werr := referenceCheck(data)
		err := Check(data)
		if (err == nil) != (werr == nil) {
			t.Fatalf("scanner says %v, reference says %v", err, werr)
		}
		if err != nil {
			if errors.Is(err, ErrDuplicateMember) != errors.Is(werr, ErrDuplicateMember) {
				t.Fatalf("duplicate verdicts differ: %v / %v", err, werr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		got, oerr := Object(data)
		split, serr := Split(data)
		if (serr == nil) != (oerr == nil) || len(split) != len(got) {
			t.Fatalf("Split and Object differ: %v / %v", serr, oerr)
		}
		if cerr := CheckObject(data); (oerr == nil) != (cerr == nil) || (oerr != nil && oerr.Error() != cerr.Error()) {
			t.Fatalf("Object says %v, CheckObject says %v", oerr, cerr)
		}
		if oerr != nil {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("encoding/json refuses what the scanner accepts: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, encoding/json has %d", len(got), len(want))
		}
		for k, v := range want {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[k], buf.Bytes()) {
				t.Fatalf("member %q: %q, encoding/json has %q", k, got[k], buf.Bytes())
			}
		}
		ms, err := Members(data)
		if err != nil || len(ms) != len(got) {
			t.Fatalf("Members: %d members, %v", len(ms), err)
		}
		for _, m := range ms {
			if !bytes.Equal(m.Raw, got[m.Name]) {
				t.Fatalf("Members and Object differ on %q", m.Name)
			}
		}
	})
}

func TestMembersCompactAndOwn(t *testing.T) {
	data := []byte(`{ "a" : [ 1 , "x y" ] , "b":{"c" : null},"d":"s" }`)
	ms, err := Members(data)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	require.Equal(t, `[1,"x y"]`, string(ms[0].Raw))
	require.Equal(t, `{"c":null}`, string(ms[1].Raw))
	require.Equal(t, `"s"`, string(ms[2].Raw))
	for i := range data {
		data[i] = 'X'
	}
	require.Equal(t, `"s"`, string(ms[2].Raw), "Members values must not share the input")
	m, err := Object([]byte(`{"a":1,"a":2}`))
	require.ErrorIs(t, err, ErrDuplicateMember)
	require.Nil(t, m)
	_, err = Object([]byte(`[]`))
	require.ErrorIs(t, err, ErrInvalid)
}

func TestStringFastPath(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `"a\"b"`: `a"b`, `"é"`: "é", `""`: ""} {
		got, ok := String(json.RawMessage(in))
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{`"a`, `a"`, `"` + "\x01" + `"`, `1`, ``, `"`} {
		_, ok := String(json.RawMessage(in))
		require.False(t, ok, in)
	}
}
