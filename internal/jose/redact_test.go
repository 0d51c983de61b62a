package jose

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const canary = "hunter2-agent-private-key"

// TestNeverPrints is the redaction matrix (every verb, every shape) for the types of
// this package that hold a secret (a JWS holds the signed payload, whose
// agent_private_key is the agent's key; AgentClaims hold that key): value,
// pointer, in a struct and in a slice, under every verb and both slog
// handlers.
func TestNeverPrints(t *testing.T) {
	token := seg(`{"alg":"RS256"}`) + "." + seg(`{"agent_runtime_id":"r","agent_private_key":"`+canary+`"}`) + "." + seg(canary)
	j, err := ParseCompact(token, 1<<10)
	require.NoError(t, err)
	c, err := DecodeAgentClaims(j.Payload, "")
	require.NoError(t, err)
	require.Equal(t, canary, c.AgentPrivateKey)

	type holder struct {
		J JWS
		C AgentClaims
		P *AgentClaims
	}
	values := map[string]any{
		"JWS value":          *j,
		"JWS pointer":        j,
		"claims value":       *c,
		"claims pointer":     c,
		"in a struct":        holder{J: *j, C: *c, P: c},
		"pointer to struct":  &holder{J: *j, C: *c, P: c},
		"in a slice":         []AgentClaims{*c},
		"slice of pointers":  []*JWS{j},
		"in a map":           map[string]AgentClaims{"k": *c},
		"in an any slice":    []any{*j, c},
		"in an array":        [1]JWS{*j},
		"in an anonymous st": struct{ X AgentClaims }{*c},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"}
	for name, v := range values {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
				t.Errorf("%s under %s: %s", name, verb, out)
			}
		}
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("m", "v", v)
			if strings.Contains(b.String(), canary) {
				t.Errorf("%s through slog: %s", name, b.String())
			}
		}
	}
}

// TestErrorsNeverQuoteTheToken: refusals at every stage name what is wrong,
// never what the token holds.
func TestErrorsNeverQuoteTheToken(t *testing.T) {
	s := seg
	for _, token := range []string{
		canary,
		canary + "." + canary + "." + canary,
		s(canary) + "." + s("{}") + ".",
		s(`{"alg":"`+canary+`","alg":1}`) + "." + s("{}") + ".",
		s(`{"alg":"RS256","jwk":"`+canary+`"}`) + "." + s("{}") + ".",
		s(`{"alg":"RS256","kid":{"`+canary+`":1}}`) + "." + s("{}") + ".",
		s(`{"alg":"RS256"}`) + "." + s(`{"exp":"`+canary+`"}`) + ".",
		s(`{"alg":"RS256"}`) + "." + s(`{"aud":["`+canary+`"]}`) + ".",
		s(`{"alg":"RS256"}`) + "." + s(`{"agent_private_key":1,"x":"`+canary+`"}`) + ".",
		s(`{"alg":"RS256"}`) + "." + s(canary) + ".",
		strings.Repeat(canary, 100),
	} {
		j, err := ParseCompact(token, 1<<10)
		if err == nil {
			_, err = j.CheckHeader()
		}
		if err == nil {
			_, err = DecodeAgentClaims(j.Payload, "")
		}
		require.Error(t, err, token)
		require.NotContains(t, err.Error(), canary)
		require.NotContains(t, fmt.Sprintf("%+v", err), canary)
		_, err = DecodePayloadUnverified(token, 1<<10)
		if err != nil {
			require.NotContains(t, err.Error(), canary)
		}
	}
}
