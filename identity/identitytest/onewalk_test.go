package identitytest

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// twoPassAgentRegistrationBody is the former checkAgentRegistrationBody
// (strictjson.CheckObject, then encoding/json): FuzzCheckAgentRegistrationBody
// holds the one-walk check to it.
func twoPassAgentRegistrationBody(body []byte) (ed25519.PublicKey, error) {
	if err := strictjson.CheckObject(body); err != nil {
		return nil, errors.New("the body is not one strict JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errors.New("the body is not a JSON object")
	}
	if len(top) != 4 {
		return nil, errors.New("want exactly abom, agent_public_key, capabilities and ttl")
	}
	var abom map[string]json.RawMessage
	if err := json.Unmarshal(top["abom"], &abom); err != nil || abom == nil || len(abom) != 3 {
		return nil, errors.New("abom must be an object of exactly agent_version, agent_harness_id and running_location")
	}
	for _, name := range []string{"agent_version", "agent_harness_id", "running_location"} {
		if raw := abom[name]; len(raw) == 0 || raw[0] != '"' {
			return nil, fmt.Errorf("abom.%s must be a string", name)
		}
	}
	var caps []string
	if err := json.Unmarshal(top["capabilities"], &caps); err != nil || len(caps) != 1 || caps[0] != "responsesapi" {
		return nil, errors.New(`capabilities must be ["responsesapi"]`)
	}
	if string(top["ttl"]) != "null" {
		return nil, errors.New("ttl must be null")
	}
	var line string
	if raw := top["agent_public_key"]; len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &line) != nil {
		return nil, errors.New("agent_public_key must be a string")
	}
	pub, err := gateway.ParsePublicKeySSH(line)
	if err != nil || strings.Count(line, " ") != 1 {
		return nil, errors.New("agent_public_key is not an ssh-ed25519 public key line without a comment")
	}
	return pub, nil
}

const onewalkRegistration = `{"abom":{"agent_version":"0.171.0","agent_harness_id":"codex-cli","running_location":"local"},` +
	`"agent_public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4","capabilities":["responsesapi"],"ttl":null}`

// FuzzCheckAgentRegistrationBody holds the one-walk check of an agent
// registration body to the former two-pass check: the same key or the same
// error.
func FuzzCheckAgentRegistrationBody(f *testing.F) {
	for _, s := range []string{
		onewalkRegistration,
		strings.Replace(onewalkRegistration, `"ttl":null`, `"ttl":0`, 1),
		strings.Replace(onewalkRegistration, `"ttl":null`, `"x":null`, 1),
		strings.Replace(onewalkRegistration, `["responsesapi"]`, `[null]`, 1),
		strings.Replace(onewalkRegistration, `["responsesapi"]`, `["responsesapi",1]`, 1),
		strings.Replace(onewalkRegistration, `"local"`, `null`, 1),
		strings.Replace(onewalkRegistration, `"agent_version"`, `"x"`, 1),
		strings.Replace(onewalkRegistration, `{"agent_version"`, `null,"y":{"agent_version"`, 1),
		`{"abom":null,"agent_public_key":1,"capabilities":null,"ttl":null}`, `{}`, `[]`, `{"a":1,"a":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := checkAgentRegistrationBody(body)
		want, werr := twoPassAgentRegistrationBody(body)
		if fmt.Sprint(err) != fmt.Sprint(werr) || !got.Equal(want) {
			t.Fatalf("got %x %v, the two-pass check %x %v", got, err, want, werr)
		}
	})
}

// BenchmarkOneWalk measures the one-walk check of an agent registration
// body ("one") beside the two-pass check it replaced ("two"), in the same
// run.
func BenchmarkOneWalk(b *testing.B) {
	body := []byte(onewalkRegistration)
	for _, v := range []struct {
		name string
		fn   func([]byte) (ed25519.PublicKey, error)
	}{{"agent-registration/one", checkAgentRegistrationBody}, {"agent-registration/two", twoPassAgentRegistrationBody}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.fn(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
