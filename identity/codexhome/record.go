package codexhome

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity/internal/ids"
	"github.com/agentidentity/agentidentity/internal/secret"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Member names of the agent_identity record (docs/protocol.md#agent-record), in the order the
// Codex CLI writes them.
const (
	recordRuntimeID  = "agent_runtime_id"
	recordPrivateKey = "agent_private_key"
	recordAccountID  = "account_id"
	recordUserID     = "chatgpt_user_id"
	recordEmail      = "email"
	recordPlanType   = "plan_type"
	recordFedRAMP    = "chatgpt_account_is_fedramp"
	recordTaskID     = "task_id"
)

var recordOrder = []string{recordRuntimeID, recordPrivateKey, recordAccountID, recordUserID, recordEmail, recordPlanType, recordFedRAMP, recordTaskID}

// AgentIdentityRecord is the agent_identity record of auth.json: an agent
// registered through a ChatGPT login (docs/protocol.md#agent-record).
// AgentPrivateKey is the PKCS#8 Ed25519 key in standard base64 and is a
// secret: formatting a record with fmt (any verb) or slog never prints it.
//
// A record returned by AuthFile.AgentIdentityRecord also carries the
// record's unknown members and member order, so that a read-modify-write
// loses nothing written by a newer Codex CLI.
type AgentIdentityRecord struct {
	AgentRuntimeID  string // agent_runtime_id
	AgentPrivateKey Secret // agent_private_key
	// Account is the account the agent was registered for: account_id,
	// chatgpt_user_id, email (written "" when absent), plan_type and
	// chatgpt_account_is_fedramp.
	Account
	TaskID string // task_id, omitted when empty

	// orig holds the members as read, in order, so unknown members and
	// unchanged values survive a rewrite byte for byte. It is boxed so that
	// printing a record never shows the raw key.
	orig secret.Box[[]strictjson.Member]
}

func parseRecord(raw json.RawMessage) (*AgentIdentityRecord, error) {
	members, err := strictjson.Members(raw)
	if err != nil {
		return nil, corrupt("member %q: %v", memberAgentIdentity, err)
	}
	r := &AgentIdentityRecord{orig: secret.NewBox(members)}
	seen := map[string]bool{}
	for _, m := range members {
		name := memberAgentIdentity + "." + m.Name
		switch m.Name {
		case recordPrivateKey:
			s, ok := strictjson.String(m.Raw)
			if !ok {
				return nil, wrongType(name, m.Raw, "a string")
			}
			r.AgentPrivateKey = NewSecret(s)
		case recordRuntimeID, recordAccountID, recordUserID:
			s, ok := strictjson.String(m.Raw)
			if !ok {
				return nil, wrongType(name, m.Raw, "a string")
			}
			*r.stringField(m.Name) = s
		case recordEmail, recordPlanType, recordTaskID:
			if strictjson.IsNull(m.Raw) {
				break
			}
			s, ok := strictjson.String(m.Raw)
			if !ok {
				return nil, wrongType(name, m.Raw, "a string or null")
			}
			*r.stringField(m.Name) = s
		case recordFedRAMP:
			if strictjson.IsNull(m.Raw) {
				break
			}
			b, ok := strictjson.Bool(m.Raw)
			if !ok {
				return nil, wrongType(name, m.Raw, "a boolean or null")
			}
			r.FedRAMP = b
		}
		seen[m.Name] = true
	}
	for _, req := range []string{recordRuntimeID, recordPrivateKey, recordAccountID, recordUserID} {
		if !seen[req] {
			return nil, corrupt("member %q is missing", memberAgentIdentity+"."+req)
		}
	}
	if r.AgentRuntimeID == "" || r.AgentPrivateKey.IsZero() {
		return nil, corrupt("member %q has an empty agent_runtime_id or agent_private_key", memberAgentIdentity)
	}
	return r, nil
}

func (r *AgentIdentityRecord) stringField(name string) *string {
	switch name {
	case recordRuntimeID:
		return &r.AgentRuntimeID
	case recordAccountID:
		return &r.AccountID
	case recordUserID:
		return &r.UserID
	case recordEmail:
		return &r.Email
	case recordPlanType:
		return &r.PlanType
	case recordTaskID:
		return &r.TaskID
	}
	return nil
}

// known returns the encoded value of a known member, or nil when the member
// is omitted (task_id when empty).
func (r *AgentIdentityRecord) known(name string) json.RawMessage {
	if name == recordFedRAMP {
		if r.FedRAMP {
			return json.RawMessage("true")
		}
		return json.RawMessage("false")
	}
	if name == recordPrivateKey {
		return strictjson.Quote(r.AgentPrivateKey.Reveal())
	}
	s := *r.stringField(name)
	if name == recordTaskID && s == "" {
		return nil
	}
	return strictjson.Quote(s)
}

// isZero reports whether the field of a known member holds its zero value.
func (r *AgentIdentityRecord) isZero(name string) bool {
	if name == recordFedRAMP {
		return !r.FedRAMP
	}
	if name == recordPrivateKey {
		return r.AgentPrivateKey.IsZero()
	}
	return *r.stringField(name) == ""
}

// sameValue reports whether the original raw value of a known member still
// decodes to the current field value, so its exact bytes can be kept.
func (r *AgentIdentityRecord) sameValue(name string, raw json.RawMessage) bool {
	if name == recordFedRAMP {
		b, ok := strictjson.Bool(raw)
		return ok && b == r.FedRAMP
	}
	s, ok := strictjson.String(raw)
	if name == recordPrivateKey {
		return ok && s == r.AgentPrivateKey.Reveal()
	}
	return ok && s == *r.stringField(name)
}

func (r *AgentIdentityRecord) encode() (json.RawMessage, error) {
	if r.AgentRuntimeID == "" {
		return nil, errors.New("codexhome: agent identity record without agent_runtime_id")
	}
	if r.AgentPrivateKey.IsZero() {
		return nil, errors.New("codexhome: agent identity record without agent_private_key")
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	isKnown := func(name string) bool {
		for _, n := range recordOrder {
			if n == name {
				return true
			}
		}
		return false
	}
	var out []strictjson.Member
	done := map[string]bool{}
	var orig []strictjson.Member
	if p := r.orig.Get(); p != nil {
		orig = *p
	}
	for _, m := range orig {
		if !isKnown(m.Name) {
			out = append(out, strictjson.Member{Name: m.Name, Raw: m.Raw})
			continue
		}
		done[m.Name] = true
		if r.sameValue(m.Name, m.Raw) {
			out = append(out, strictjson.Member{Name: m.Name, Raw: m.Raw})
			continue
		}
		if v := r.known(m.Name); v != nil {
			out = append(out, strictjson.Member{Name: m.Name, Raw: v})
		}
	}
	for _, name := range recordOrder {
		if done[name] {
			continue
		}
		// A record read from a file that lacked a member whose value is
		// still the zero value keeps lacking it, so that re-setting an
		// unchanged record changes nothing.
		if r.orig.Get() != nil && r.isZero(name) {
			continue
		}
		if v := r.known(name); v != nil {
			out = insertMember(out, strictjson.Member{Name: name, Raw: v}, recordOrder)
		}
	}
	return strictjson.Build(out), nil
}

// equal reports whether r and o hold the same known values (unknown
// members are not compared).
func (r *AgentIdentityRecord) equal(o *AgentIdentityRecord) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.AgentRuntimeID == o.AgentRuntimeID && r.AgentPrivateKey.Equal(o.AgentPrivateKey) &&
		r.Account == o.Account && r.TaskID == o.TaskID
}

// check refuses a record the readers of auth.json would refuse: strings that
// are not UTF-8, a runtime id outside the allowlist, a task id that breaks
// the task-id rule (too long, control characters).
func (r *AgentIdentityRecord) check() error {
	for _, name := range recordOrder {
		if name == recordFedRAMP || name == recordPrivateKey {
			continue
		}
		if err := checkUTF8(memberAgentIdentity+"."+name, *r.stringField(name)); err != nil {
			return err
		}
	}
	if err := checkUTF8(memberAgentIdentity+"."+recordPrivateKey, r.AgentPrivateKey.Reveal()); err != nil {
		return err
	}
	if err := ids.ValidateRuntimeID(r.AgentRuntimeID); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidValue, memberAgentIdentity+"."+recordRuntimeID, err)
	}
	if r.TaskID != "" {
		if err := ids.ValidateTaskID(r.TaskID); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidValue, memberAgentIdentity+"."+recordTaskID, err)
		}
	}
	return nil
}
