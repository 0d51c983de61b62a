package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/agentidentity/agentidentity/internal/strictjson"
	"github.com/agentidentity/agentidentity/internal/wire"
)

// maxABOMField bounds each abom string of an agent registration.
const maxABOMField = 1 << 10

// maxAccessToken bounds the access token RegisterAgent sends.
const maxAccessToken = 64 << 10

// taskIDMembers are the spellings of a task id in a task registration
// answer, in the order they are read (docs/protocol.md#task-registration-answer); the first two are plaintext.
var taskIDMembers = [...]string{"task_id", "taskId", "encrypted_task_id", "encryptedTaskId"}

// parseTaskRegistrationResponse reads a task registration answer (docs/protocol.md#task-registration-answer).
// body must be one strict JSON object (no duplicate members, valid UTF-8);
// unknown members are ignored. The members of taskIDMembers are read in
// order, a null member counting as absent; the first one present decides and
// must be a non-empty string. Exactly one of plain and encrypted is set on
// success. Errors wrap errInvalidRegistrationResponse and never quote the
// body.
func parseTaskRegistrationResponse(body []byte) (plain, encrypted string, err error) {
	members, err := responseMembers(body, taskIDMembers[:]...)
	if err != nil {
		return "", "", err
	}
	for i, name := range taskIDMembers {
		m, ok := members[name]
		if !ok {
			continue
		}
		if !m.isString {
			return "", "", fmt.Errorf("%w: %q is not a string", errInvalidRegistrationResponse, name)
		}
		s := m.value
		if s == "" {
			return "", "", fmt.Errorf("%w: %q is empty", errInvalidRegistrationResponse, name)
		}
		if i < 2 {
			return s, "", nil
		}
		return "", s, nil
	}
	return "", "", fmt.Errorf("%w: no task_id, taskId, encrypted_task_id or encryptedTaskId", errInvalidRegistrationResponse)
}

// taskIDFromResponse parses a task registration answer and returns the
// validated (and, if encrypted, opened) task id.
func taskIDFromResponse(s *Signer, body []byte) (string, error) {
	plain, encrypted, err := parseTaskRegistrationResponse(body)
	if err != nil {
		return "", err
	}
	if encrypted != "" {
		id, err := s.OpenTaskID(encrypted)
		if err != nil {
			return "", fmt.Errorf("%w: %w", errInvalidRegistrationResponse, err)
		}
		return id, nil
	}
	if err := ValidateTaskID(plain); err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidRegistrationResponse, err)
	}
	return plain, nil
}

// parseAgentRegistrationResponse reads {"agent_runtime_id": "…"} (docs/protocol.md#agent-registration),
// unknown members ignored, and validates the id.
func parseAgentRegistrationResponse(body []byte) (string, error) {
	members, err := responseMembers(body, "agent_runtime_id")
	if err != nil {
		return "", err
	}
	m, ok := members["agent_runtime_id"]
	if !ok {
		return "", fmt.Errorf("%w: no agent_runtime_id", errInvalidRegistrationResponse)
	}
	if !m.isString {
		return "", fmt.Errorf("%w: agent_runtime_id is not a string", errInvalidRegistrationResponse)
	}
	id := m.value
	if err := ValidateRuntimeID(id); err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidRegistrationResponse, err)
	}
	return id, nil
}

// responseMember is a top-level member of a registration answer that is
// present and not null.
type responseMember struct {
	value    string // its value, if a string
	isString bool
}

// responseMembers checks body strictly and, in the same walk, reads the
// top-level members called names; absent and null members are left out.
func responseMembers(body []byte, names ...string) (map[string]responseMember, error) {
	got := make(map[string]responseMember, len(names))
	err := strictjson.DecodeObject(body, func(d *strictjson.Decoder, name string) error {
		if !slices.Contains(names, name) || d.Null() {
			return nil
		}
		var m responseMember
		if d.Kind() == "a string" {
			m.value, _ = d.String()
			m.isString = true
		}
		got[name] = m
		return nil
	})
	switch {
	case errors.Is(err, strictjson.ErrDuplicateMember):
		return nil, fmt.Errorf("%w: a member appears twice", errInvalidRegistrationResponse)
	case err != nil:
		return nil, fmt.Errorf("%w: the body is not one JSON object", errInvalidRegistrationResponse)
	}
	return got, nil
}

// agentRegistrationBody builds the exact body of docs/protocol.md#agent-registration, members in the
// order the Codex client writes them, strings escaped as serde_json does.
func agentRegistrationBody(r AgentRegistration) ([]byte, error) {
	fields := [...]struct{ name, v string }{
		{"AgentVersion", r.AgentVersion},
		{"AgentHarnessID", r.AgentHarnessID},
		{"RunningLocation", r.RunningLocation},
	}
	for _, f := range fields {
		if len(f.v) > maxABOMField {
			return nil, fmt.Errorf("identity: AgentRegistration.%s is longer than %d bytes", f.name, maxABOMField)
		}
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("identity: AgentRegistration.%s is not valid UTF-8", f.name)
		}
	}
	if _, err := wire.ParsePublicKeySSH(r.PublicKeySSH); err != nil {
		return nil, fmt.Errorf("identity: AgentRegistration.PublicKeySSH: %w", err)
	}
	if strings.Count(r.PublicKeySSH, " ") != 1 {
		return nil, fmt.Errorf("identity: AgentRegistration.PublicKeySSH: %w: the OpenSSH public key has a comment; send it without one", errInvalidKey)
	}
	b := make([]byte, 0, 160+len(r.AgentVersion)+len(r.AgentHarnessID)+len(r.RunningLocation)+len(r.PublicKeySSH))
	b = append(b, `{"abom":{"agent_version":"`...)
	b = strictjson.AppendString(b, r.AgentVersion)
	b = append(b, `","agent_harness_id":"`...)
	b = strictjson.AppendString(b, r.AgentHarnessID)
	b = append(b, `","running_location":"`...)
	b = strictjson.AppendString(b, r.RunningLocation)
	b = append(b, `"},"agent_public_key":"`...)
	b = strictjson.AppendString(b, r.PublicKeySSH)
	b = append(b, `","capabilities":["responsesapi"],"ttl":null}`...)
	return b, nil
}

// checkAccessToken refuses an access token that cannot be sent as a Bearer
// token, without quoting it.
func checkAccessToken(tok string) error {
	if tok == "" {
		return errors.New("identity: agent registration needs a ChatGPT access token, got an empty one")
	}
	if len(tok) > maxAccessToken {
		return fmt.Errorf("identity: the access token is longer than %d bytes", maxAccessToken)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= 0x20 || c >= 0x7f {
			return fmt.Errorf("identity: the access token holds a space, control or non-ASCII character at byte %d", i)
		}
	}
	return nil
}
