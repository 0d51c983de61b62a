package codexhome

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// Member names of the agent_identity record (spec §7), in the order the
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
// registered through a ChatGPT login (spec §7). AgentPrivateKey is the
// PKCS#8 Ed25519 key in standard base64 and is a secret: formatting a record
// with fmt (any verb) or slog never prints it.
//
// A record returned by AuthFile.AgentIdentityRecord also carries the
// record's unknown members and member order, so that a read-modify-write
// loses nothing written by a newer Codex CLI.
type AgentIdentityRecord struct {
	AgentRuntimeID  string // agent_runtime_id
	AgentPrivateKey string // agent_private_key (secret)
	AccountID       string // account_id
	ChatGPTUserID   string // chatgpt_user_id
	Email           string // email, written "" when absent
	PlanType        string // plan_type
	FedRAMP         bool   // chatgpt_account_is_fedramp
	TaskID          string // task_id, omitted when empty

	// orig holds the members as read, in order, so unknown members and
	// unchanged values survive a rewrite byte for byte.
	orig []strictjson.Member
}

func parseRecord(raw json.RawMessage) (*AgentIdentityRecord, error) {
	members, err := strictjson.Members(raw)
	if err != nil {
		return nil, corrupt("member %q: %v", memberAgentIdentity, err)
	}
	r := &AgentIdentityRecord{orig: members}
	seen := map[string]bool{}
	for _, m := range members {
		name := memberAgentIdentity + "." + m.Name
		switch m.Name {
		case recordRuntimeID, recordPrivateKey, recordAccountID, recordUserID:
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
	if r.AgentRuntimeID == "" || r.AgentPrivateKey == "" {
		return nil, corrupt("member %q has an empty agent_runtime_id or agent_private_key", memberAgentIdentity)
	}
	return r, nil
}

func (r *AgentIdentityRecord) stringField(name string) *string {
	switch name {
	case recordRuntimeID:
		return &r.AgentRuntimeID
	case recordPrivateKey:
		return &r.AgentPrivateKey
	case recordAccountID:
		return &r.AccountID
	case recordUserID:
		return &r.ChatGPTUserID
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
	return ok && s == *r.stringField(name)
}

func (r *AgentIdentityRecord) encode() (json.RawMessage, error) {
	if r.AgentRuntimeID == "" {
		return nil, errors.New("codexhome: agent identity record without agent_runtime_id")
	}
	if r.AgentPrivateKey == "" {
		return nil, errors.New("codexhome: agent identity record without agent_private_key")
	}
	for _, name := range recordOrder {
		if name == recordFedRAMP {
			continue
		}
		if err := checkUTF8(memberAgentIdentity+"."+name, *r.stringField(name)); err != nil {
			return nil, err
		}
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
	for _, m := range r.orig {
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
		if r.orig != nil && r.isZero(name) {
			continue
		}
		if v := r.known(name); v != nil {
			out = insertMember(out, strictjson.Member{Name: name, Raw: v}, recordOrder)
		}
	}
	return strictjson.Build(out), nil
}

// Equal reports whether r and o hold the same known values (unknown
// members are not compared).
func (r *AgentIdentityRecord) Equal(o *AgentIdentityRecord) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.AgentRuntimeID == o.AgentRuntimeID && r.AgentPrivateKey == o.AgentPrivateKey &&
		r.AccountID == o.AccountID && r.ChatGPTUserID == o.ChatGPTUserID && r.Email == o.Email &&
		r.PlanType == o.PlanType && r.FedRAMP == o.FedRAMP && r.TaskID == o.TaskID
}

// String returns a summary without the private key.
func (r AgentIdentityRecord) String() string {
	return fmt.Sprintf("codexhome.AgentIdentityRecord{AgentRuntimeID: %q, AgentPrivateKey: %s, AccountID: %q, ChatGPTUserID: %q, Email: %q, PlanType: %q, FedRAMP: %t, TaskID: %q}",
		r.AgentRuntimeID, redactedOrAbsent(r.AgentPrivateKey), r.AccountID, r.ChatGPTUserID, r.Email, r.PlanType, r.FedRAMP, r.TaskID)
}

func redactedOrAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return "redacted"
}

// GoString implements fmt.GoStringer without the private key.
func (r AgentIdentityRecord) GoString() string { return r.String() }

// Format implements fmt.Formatter so that no verb prints the private key.
func (r AgentIdentityRecord) Format(s fmt.State, verb rune) {
	writeRedacted(s, verb, r.String(), r.GoString())
}

// LogValue implements slog.LogValuer without the private key.
func (r AgentIdentityRecord) LogValue() slog.Value { return slog.StringValue(r.String()) }
