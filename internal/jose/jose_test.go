package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseCompact(t *testing.T) {
	h, p := seg(`{"alg":"RS256","kid":"k"}`), seg(`{"iss":"i","aud":"a","exp":10}`)
	j, err := ParseCompact(h+"."+p+".c2ln", 1<<10)
	require.NoError(t, err)
	assert.Equal(t, h+"."+p, j.SigningInput)
	assert.Equal(t, []byte("sig"), j.Signature)
	assert.Equal(t, `"RS256"`, string(must(j.Header.Get("alg"))))
	assert.Equal(t, `10`, string(must(j.Payload.Get("exp"))))

	tests := []struct {
		name, token, want string
		is                error
	}{
		{"too large", strings.Repeat("a", 1<<10+1), "more than the 1024 allowed", ErrTooLarge},
		{"empty", "", "token is empty", ErrSegments},
		{"two segments", h + "." + p, "has 2 segments", ErrSegments},
		{"empty header", "." + p + ".", "header segment is not canonical", ErrEncoding},
		{"padded payload", h + "." + p + "=.", "payload segment is not canonical", ErrEncoding},
		{"std alphabet signature", h + "." + p + ".a+b/", "signature segment is not canonical", ErrEncoding},
		{"header not an object", seg(`[1]`) + "." + p + ".", "header is not a JSON object", ErrJSON},
		{"duplicate in header", seg(`{"alg":"a","alg":"b"}`) + "." + p + ".", "header has a duplicate member", strictjson.ErrDuplicateMember},
		{"payload lone surrogate", h + "." + seg(`{"a":"\ud800"}`) + ".", "payload is not a JSON object", strictjson.ErrInvalid},
		{"payload trailing data", h + "." + seg(`{} {}`) + ".", "payload is not a JSON object", ErrJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCompact(tt.token, 1<<10)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSplitCompactLeavesThePayloadAlone(t *testing.T) {
	j, err := SplitCompact(seg(`{"alg":"RS256"}`)+"."+seg("not json")+".", 1<<10)
	require.NoError(t, err)
	assert.Nil(t, j.Payload)
	require.ErrorIs(t, j.DecodePayload(), ErrJSON)
}

func TestDecodePayloadUnverified(t *testing.T) {
	m, err := DecodePayloadUnverified("not-a-header."+seg(`{"email":"e"}`)+".not base64!", 1<<10)
	require.NoError(t, err, "header and signature are not read")
	assert.Equal(t, `"e"`, string(must(m.Get("email"))))
	_, err = DecodePayloadUnverified("a."+seg(`{"email":"e","email":"f"}`)+".c", 1<<10)
	require.ErrorIs(t, err, strictjson.ErrDuplicateMember)
	var je *Error
	require.ErrorAs(t, err, &je)
	require.ErrorIs(t, je.Cause, strictjson.ErrDuplicateMember)
}

func TestCheckHeader(t *testing.T) {
	tests := []struct {
		name, header, want string
		h                  Header
	}{
		{"plain", `{"alg":"RS256","kid":"k"}`, "", Header{Alg: "RS256", Kid: "k", KidPresent: true}},
		{"kid null", `{"alg":"RS256","kid":null}`, "", Header{Alg: "RS256", KidPresent: true}},
		{"no kid", `{"alg":"RS256"}`, "", Header{Alg: "RS256"}},
		{"case variants ignored", `{"ALG":"none","alg":"RS256"}`, "", Header{Alg: "RS256"}},
		{"no alg", `{"Alg":"RS256"}`, `no string "alg"`, Header{}},
		{"alg number", `{"alg":1}`, `no string "alg"`, Header{}},
		{"kid number", `{"alg":"RS256","kid":1}`, `"kid" is not a string`, Header{}},
		{"crit", `{"alg":"RS256","crit":null}`, `"crit" is not accepted`, Header{}},
		{"jku", `{"alg":"RS256","jku":"https://x"}`, `"jku" is not accepted`, Header{}},
		{"x5u", `{"alg":"RS256","x5u":"https://x"}`, `"x5u" is not accepted`, Header{}},
		{"jwk", `{"alg":"RS256","jwk":{}}`, `"jwk" is not accepted`, Header{}},
		{"x5c", `{"alg":"RS256","x5c":[]}`, `"x5c" is not accepted`, Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := SplitCompact(seg(tt.header)+".."+"", 1<<10)
			require.NoError(t, err)
			h, err := j.CheckHeader()
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.h, h)
				return
			}
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDecodeAgentClaims(t *testing.T) {
	const login = "https://login.example"
	c, err := DecodeAgentClaims(mustObject(t, `{"iss":"i","aud":"a","exp":1.5,"iat":0,"agent_runtime_id":"r","email":null,"chatgpt_account_is_fedramp":true}`), login)
	require.NoError(t, err)
	assert.Equal(t, "i", c.Issuer)
	assert.Equal(t, []string{"a"}, []string(c.Audience))
	assert.Equal(t, int64(1), c.ExpiresAt.Unix())
	assert.True(t, c.HasRuntimeID)
	assert.True(t, c.FedRAMP)

	tests := []struct{ name, payload, want string }{
		{"aud array", `{"aud":["a"]}`, "single string"},
		{"exp string", `{"exp":"1"}`, `"exp" is not a number`},
		{"exp negative", `{"exp":-1}`, "out of range"},
		{"exp after 9999", `{"exp":253402300800}`, "out of range"},
		{"iss number", `{"iss":1}`, `"iss" is not a string`},
		{"fedramp string", `{"chatgpt_account_is_fedramp":"true"}`, "not a boolean"},
		{"login issuer", `{"iss":"https://login.example"}`, "ChatGPT access token"},
		{"under the login issuer", `{"iss":"https://login.example/x"}`, "ChatGPT access token"},
		{"auth claim", `{"https://api.openai.com/auth":{}}`, "ChatGPT access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeAgentClaims(mustObject(t, tt.payload), login)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, strings.Contains(tt.want, "ChatGPT"), errors.Is(err, ErrChatGPTAccessToken))
		})
	}
	// With an agent_runtime_id, the login issuer is just a wrong issuer.
	_, err = DecodeAgentClaims(mustObject(t, `{"iss":"https://login.example","agent_runtime_id":"r"}`), login)
	require.NoError(t, err)
	// A look-alike host is not under the login issuer.
	_, err = DecodeAgentClaims(mustObject(t, `{"iss":"https://login.example.evil"}`), login)
	require.NoError(t, err)
}

func must(raw json.RawMessage, ok bool) json.RawMessage {
	if !ok {
		panic("member missing")
	}
	return raw
}

func mustObject(t *testing.T, s string) Members {
	t.Helper()
	m, err := strictjson.Split([]byte(s))
	require.NoError(t, err)
	return m
}
