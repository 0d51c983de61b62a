package identity

import (
	"fmt"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// Policy says when a Codex home may use Agent Identity (docs/protocol.md#policy).
// The zero value means "take it from config.toml": PolicyChatGPTAuth when
// [features] use_agent_identity = true, else PolicyJWTOnly. The two named
// policies are both non-zero. A workload identity or a personal access
// token is used under either policy, and never provisions an agent.
type Policy int

const (
	// PolicyJWTOnly uses Agent Identity only when the credentials already
	// are an Agent Identity JWT (CODEX_ACCESS_TOKEN or a stored JWT). A
	// ChatGPT login is never used to register or reuse an identity.
	PolicyJWTOnly Policy = iota + 1
	// PolicyChatGPTAuth also lets a ChatGPT login reuse a stored agent
	// identity record or register a new one. config.toml turns it on with
	// [features] use_agent_identity = true.
	PolicyChatGPTAuth
)

// PolicyFromConfig returns the policy config.toml asks for:
// PolicyChatGPTAuth when [features] use_agent_identity is true, else
// PolicyJWTOnly. It never returns the zero Policy.
func PolicyFromConfig(c codexhome.Config) Policy {
	if c.UseAgentIdentity {
		return PolicyChatGPTAuth
	}
	return PolicyJWTOnly
}

// String returns "jwt-only", "chatgpt-auth", "from-config" for the zero
// value, or "Policy(n)" for an unknown value.
func (p Policy) String() string {
	switch p {
	case 0:
		return "from-config"
	case PolicyJWTOnly:
		return "jwt-only"
	case PolicyChatGPTAuth:
		return "chatgpt-auth"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// valid reports whether p is the zero value or one of the named policies.
func (p Policy) valid() bool { return p >= 0 && p <= PolicyChatGPTAuth }
