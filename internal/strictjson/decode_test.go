package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// number stands for a JSON number in decoded trees: the Decoder leaves
// numbers to be checked and skipped.
type number struct{}

// decodeAny decodes the current value of d into a tree of maps, slices,
// strings, booleans, nil and number{}.
func decodeAny(d *Decoder) (any, error) {
	switch d.Kind() {
	case "an object":
		m := map[string]any{}
		err := d.Object(func(name string) error {
			v, err := decodeAny(d)
			m[name] = v
			return err
		})
		return m, err
	case "an array":
		a := []any{}
		err := d.Array(func() error {
			v, err := decodeAny(d)
			a = append(a, v)
			return err
		})
		return a, err
	case "a string":
		return d.String()
	case "a boolean":
		return d.Bool()
	case "null":
		if !d.Null() {
			return nil, errors.New("null not read")
		}
		return nil, nil
	}
	return number{}, nil
}

// decodeDocument decodes data with DecodeObject into a tree.
func decodeDocument(data []byte) (map[string]any, error) {
	m := map[string]any{}
	err := DecodeObject(data, func(d *Decoder, name string) error {
		v, err := decodeAny(d)
		m[name] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// referenceTree is what encoding/json decodes from a document CheckObject
// accepts, numbers replaced by number{}.
func referenceTree(t testing.TB, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json refuses what CheckObject accepts: %v", err)
	}
	return replaceNumbers(v).(map[string]any)
}

func replaceNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return number{}
	case map[string]any:
		for k, e := range v {
			v[k] = replaceNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = replaceNumbers(e)
		}
	}
	return v
}

// TestDecodeObjectStrictness: DecodeObject refuses exactly what CheckObject
// refuses, with the same sentinels.
func TestDecodeObjectStrictness(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error // nil when accepted
	}{
		{"object", `{"a":1,"b":[1,2,{"c":null}],"d":"x\ny","e":true}`, nil},
		{"nested same name in different objects", `{"a":{"a":1},"b":{"a":2}}`, nil},
		{"whitespace around", " \n{ \"a\" : [ 1 , { } ] }\n ", nil},
		{"empty object", `{}`, nil},
		{"many members", `{` + manyMembers(100) + `}`, nil},
		{"array top level", `[1,2]`, ErrInvalid},
		{"scalar", `"x"`, ErrInvalid},
		{"broken non-object", `[1,`, ErrInvalid},
		{"empty", ``, ErrInvalid},
		{"only whitespace", "  \n", ErrInvalid},
		{"duplicate top", `{"a":1,"a":2}`, ErrDuplicateMember},
		{"duplicate escaped", `{"a":1,"\u0061":2}`, ErrDuplicateMember},
		{"duplicate nested", `{"x":{"a":1,"a":1}}`, ErrDuplicateMember},
		{"duplicate in array element", `{"x":[{"a":1,"a":1}]}`, ErrDuplicateMember},
		{"duplicate after many members", `{` + manyMembers(100) + `,"k7":1}`, ErrDuplicateMember},
		{"truncated", `{"a":1`, ErrInvalid},
		{"trailing data", `{"a":1}{}`, ErrInvalid},
		{"trailing garbage", `{"a":1}x`, ErrInvalid},
		{"invalid utf8", "{\"a\":\"\xff\"}", ErrInvalid},
		{"syntax", `{a:1}`, ErrInvalid},
		{"missing colon", `{"a" 1}`, ErrInvalid},
		{"trailing comma", `{"a":1,}`, ErrInvalid},
		{"array trailing comma", `{"a":[1,]}`, ErrInvalid},
		{"bad literal", `{"a":nul}`, ErrInvalid},
		{"leading zero", `{"a":01}`, ErrInvalid},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, nil},
		{"lone high surrogate", `{"a":"x\ud800y"}`, ErrInvalid},
		{"lone low surrogate in name", `{"\udc00":1}`, ErrInvalid},
		{"control character in a string", "{\"a\":\"\x01\"}", ErrInvalid},
		{"too deep", `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, ErrInvalid},
		{"deep ok", `{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeDocument([]byte(tt.in))
			cerr := CheckObject([]byte(tt.in))
			if tt.err == nil {
				require.NoError(t, cerr)
				require.NoError(t, err)
				assert.Equal(t, referenceTree(t, []byte(tt.in)), got)
				return
			}
			require.ErrorIs(t, cerr, tt.err)
			require.ErrorIs(t, err, tt.err)
			assert.Equal(t, cerr.Error(), err.Error())
		})
	}
}

// manyMembers returns n members "k0":0 … (more than the linear search of
// duplicates covers).
func manyMembers(n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = `"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i)
	}
	return strings.Join(parts, ",")
}

// TestDecoderReads: each method reads its type, leaves another type to the
// caller with ErrWrongType, and refuses to read one value twice.
func TestDecoderReads(t *testing.T) {
	tests := []struct {
		name string
		in   string
		read func(d *Decoder) (any, error)
		want any
		err  error
	}{
		{"string", `"a\u00e9\"b"`, func(d *Decoder) (any, error) { return d.String() }, "aé\"b", nil},
		{"plain string", `"abc"`, func(d *Decoder) (any, error) { return d.String() }, "abc", nil},
		{"string of a number", `12`, func(d *Decoder) (any, error) { return d.String() }, "", ErrWrongType},
		{"true", `true`, func(d *Decoder) (any, error) { return d.Bool() }, true, nil},
		{"false", `false`, func(d *Decoder) (any, error) { return d.Bool() }, false, nil},
		{"bool of a string", `"true"`, func(d *Decoder) (any, error) { return d.Bool() }, false, ErrWrongType},
		{"null", `null`, func(d *Decoder) (any, error) { return d.Null(), nil }, true, nil},
		{"null of a string", `"null"`, func(d *Decoder) (any, error) { return d.Null(), nil }, false, nil},
		{"object of an array", `[]`, func(d *Decoder) (any, error) { return nil, d.Object(func(string) error { return nil }) }, nil, ErrWrongType},
		{"array of an object", `{}`, func(d *Decoder) (any, error) { return nil, d.Array(func() error { return nil }) }, nil, ErrWrongType},
		{"read twice", `"x"`, func(d *Decoder) (any, error) {
			_, _ = d.String()
			return d.String()
		}, "", errReadTwice},
		{"kind after reading", `"x"`, func(d *Decoder) (any, error) {
			_, _ = d.String()
			return d.Kind(), nil
		}, "nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			err := DecodeObject([]byte(`{"v":`+tt.in+`,"after":1}`), func(d *Decoder, name string) error {
				if name != "v" {
					return nil
				}
				v, err := tt.read(d)
				got = v
				return err
			})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.NotErrorIs(t, err, ErrInvalid)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestDecodeObjectErrorOrder: a strictness error anywhere wins over a
// callback's error; otherwise the first callback error is returned and no
// callback runs after it.
func TestDecodeObjectErrorOrder(t *testing.T) {
	errFirst, errSecond := errors.New("first"), errors.New("second")
	tests := []struct {
		name  string
		in    string
		err   error
		calls []string
	}{
		{"callback error", `{"a":1,"b":2}`, errFirst, []string{"a"}},
		{"callback error in a nested object", `{"a":{"x":1,"y":2},"b":2}`, errFirst, []string{"a", "a.x"}},
		{"then a duplicate", `{"a":1,"b":2,"b":3}`, ErrDuplicateMember, []string{"a"}},
		{"then a nested duplicate", `{"a":1,"b":{"c":1,"c":2}}`, ErrDuplicateMember, []string{"a"}},
		{"then trailing data", `{"a":1} x`, ErrInvalid, []string{"a"}},
		{"then a syntax error", `{"a":1,"b":[1,}`, ErrInvalid, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			err := DecodeObject([]byte(tt.in), func(d *Decoder, name string) error {
				calls = append(calls, name)
				if d.Kind() == "an object" {
					return d.Object(func(inner string) error {
						calls = append(calls, name+"."+inner)
						if inner == "x" {
							return errFirst
						}
						return errSecond
					})
				}
				if name == "a" {
					return errFirst
				}
				return errSecond
			})
			require.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.calls, calls)
		})
	}
}

// FuzzDecodeObject holds DecodeObject to CheckObject (the same verdict and
// the same error) and, on accepted documents, to encoding/json (the same
// tree).
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a\u0062":1,"ab":2}`, ` {"a" : [1, -0.5e+3, true, null, "x\n"]} `,
		`{"a":"\ud800"}`, `{"a":01}`, `{"a":1.}`, `{"a":"` + "\x01" + `"}`, `{"a":1}x`, `[1]`, `"s"`, `{"a":[{"b":1},{"b":1}]}`,
		`{"x":` + strings.Repeat("[", 257) + strings.Repeat("]", 257) + `}`, `{"x":` + strings.Repeat("[", 255) + strings.Repeat("]", 255) + `}`,
		`{"a":"\u00e9\"","b":{"c":[true,false,null,"\ud83d\ude00"]}}`, `{"a" 1}`, `{1:2}`, `{"a":[1,]}`, `{"a":1,}`, `{"a":nul}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeDocument(data)
		cerr := CheckObject(data)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("DecodeObject says %v, CheckObject says %v", err, cerr)
		}
		if err != nil {
			if err.Error() != cerr.Error() || errors.Is(err, ErrDuplicateMember) != errors.Is(cerr, ErrDuplicateMember) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeObject says %v, CheckObject says %v", err, cerr)
			}
			return
		}
		if want := referenceTree(t, data); !assert.ObjectsAreEqual(want, got) {
			t.Fatalf("DecodeObject decodes %#v, encoding/json %#v", got, want)
		}
	})
}

// BenchmarkOneWalk decodes three string members of a document with one walk
// (DecodeObject: "one") and with the two passes it replaces (CheckObject,
// then encoding/json: "two"), in the same run.
func BenchmarkOneWalk(b *testing.B) {
	data := []byte(`{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token","refresh_reason":"proactive_expiry",` +
		`"refresh_token":"rt-0123456789abcdef0123456789abcdef","extra":{"a":[1,2,3],"b":null,"c":"d\u00e9"}}`)
	b.Run("strings/one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var id, grant, token *string
			err := DecodeObject(data, func(d *Decoder, name string) error {
				var err error
				switch name {
				case "client_id":
					id, err = d.OptionalString()
				case "grant_type":
					grant, err = d.OptionalString()
				case "refresh_token":
					token, err = d.OptionalString()
				}
				return err
			})
			if err != nil || id == nil || grant == nil || token == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strings/two", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				ClientID     *string `json:"client_id"`
				GrantType    *string `json:"grant_type"`
				RefreshToken *string `json:"refresh_token"`
			}
			if err := CheckObject(data); err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(data, &v); err != nil || v.ClientID == nil || v.GrantType == nil || v.RefreshToken == nil {
				b.Fatal(err)
			}
		}
	})
}
