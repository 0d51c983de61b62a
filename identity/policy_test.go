package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

func TestPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		str    string
		valid  bool
	}{
		{"zero", 0, "from-config", true},
		{"jwt only", PolicyJWTOnly, "jwt-only", true},
		{"chatgpt auth", PolicyChatGPTAuth, "chatgpt-auth", true},
		{"unknown", Policy(9), "Policy(9)", false},
		{"negative", Policy(-1), "Policy(-1)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.str, tt.policy.String())
			assert.Equal(t, tt.valid, tt.policy.valid())
		})
	}
	assert.NotZero(t, PolicyJWTOnly)
	assert.NotZero(t, PolicyChatGPTAuth)
	assert.NotEqual(t, PolicyJWTOnly, PolicyChatGPTAuth)
	assert.Equal(t, PolicyChatGPTAuth, PolicyFromConfig(codexhome.Config{UseAgentIdentity: true}))
	assert.Equal(t, PolicyJWTOnly, PolicyFromConfig(codexhome.Config{}))
	assert.Equal(t, PolicyJWTOnly, PolicyFromConfig(codexhome.Config{ChatGPTBaseURL: "https://chatgpt.com"}))
}
