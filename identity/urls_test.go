package identity

import (
	"net/url"
	"testing"

	"github.com/agentidentity/agentidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistrationURLs(t *testing.T) {
	tests := []struct {
		name, base, agent, task string
	}{
		{"production", "https://auth.openai.com/api/accounts", "https://auth.openai.com/api/accounts/v1/agent/register", "https://auth.openai.com/api/accounts/v1/agent/agent-123/task/register"},
		{"trailing slash", "https://auth.openai.com/api/accounts/", "https://auth.openai.com/api/accounts/v1/agent/register", "https://auth.openai.com/api/accounts/v1/agent/agent-123/task/register"},
		{"staging", "https://auth.api.openai.org/api/accounts", "https://auth.api.openai.org/api/accounts/v1/agent/register", "https://auth.api.openai.org/api/accounts/v1/agent/agent-123/task/register"},
		{"bare host", "https://example.com", "https://example.com/v1/agent/register", "https://example.com/v1/agent/agent-123/task/register"},
		{"bare host slash", "https://example.com/", "https://example.com/v1/agent/register", "https://example.com/v1/agent/agent-123/task/register"},
		{"local dev", "http://localhost:8080/api/codex", "http://localhost:8080/api/codex/v1/agent/register", "http://localhost:8080/api/codex/v1/agent/agent-123/task/register"},
		{"ipv6 loopback", "http://[::1]:8080", "http://[::1]:8080/v1/agent/register", "http://[::1]:8080/v1/agent/agent-123/task/register"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := agentRegistrationURL(tt.base)
			require.NoError(t, err)
			assert.Equal(t, tt.agent, a)
			u, err := taskRegistrationURL(tt.base, "agent-123")
			require.NoError(t, err)
			assert.Equal(t, tt.task, u)
		})
	}
	u, err := taskRegistrationURL("https://auth.openai.com/api/accounts", "a.~_-Z9")
	require.NoError(t, err)
	assert.Equal(t, "https://auth.openai.com/api/accounts/v1/agent/a.~_-Z9/task/register", u)
}

func TestTaskRegistrationURLHostileRuntimeIDs(t *testing.T) {
	for _, tt := range hostileRuntimeIDs {
		t.Run(tt.name, func(t *testing.T) {
			u, err := taskRegistrationURL("https://auth.openai.com/api/accounts", tt.id)
			require.ErrorIs(t, err, ErrInvalidRuntimeID)
			assert.Empty(t, u)
		})
	}
}

func TestRegistrationURLBadBases(t *testing.T) {
	tests := []struct{ name, base string }{
		{"empty", ""},
		{"relative", "/api/accounts"},
		{"no scheme", "auth.openai.com/api"},
		{"ftp", "ftp://auth.openai.com"},
		{"javascript", "javascript:alert(1)"},
		{"opaque", "https:auth.openai.com"},
		{"no host", "https:///api"},
		{"user info", "https://user:pass@auth.openai.com/api"},
		{"query", "https://auth.openai.com/api?x=1"},
		{"empty query", "https://auth.openai.com/api?"},
		{"fragment", "https://auth.openai.com/api#frag"},
		{"empty fragment", "https://auth.openai.com/api#"},
		{"dot dot segment", "https://auth.openai.com/api/../x"},
		{"dot segment", "https://auth.openai.com/./api"},
		{"double slash", "https://auth.openai.com//api"},
		{"escaped slash", "https://auth.openai.com/a%2Fb"},
		{"escaped char", "https://auth.openai.com/a%41"},
		{"space", "https://auth.openai.com/a b"},
		{"control char", "https://auth.openai.com/a\nb"},
		{"bad port", "https://auth.openai.com:x/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := agentRegistrationURL(tt.base)
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			assert.Empty(t, a)
			u, err := taskRegistrationURL(tt.base, "agent-1")
			require.ErrorIs(t, err, agentidentity.ErrInvalidBaseURL)
			assert.Empty(t, u)
		})
	}
}

// checkTaskURL asserts the properties every accepted task URL has.
func checkTaskURL(t testing.TB, base, id, got string) {
	t.Helper()
	b, err := url.Parse(base)
	require.NoError(t, err)
	u, err := url.Parse(got)
	require.NoError(t, err)
	require.Equal(t, b.Scheme, u.Scheme)
	require.Equal(t, b.Host, u.Host)
	require.Equal(t, got, u.String(), "re-encodes to the same bytes")
	require.Equal(t, "/v1/agent/"+id+"/task/register", u.Path[len(u.Path)-len("/v1/agent/"+id+"/task/register"):])
	require.Empty(t, u.RawQuery)
	require.Empty(t, u.Fragment)
	require.Nil(t, u.User)
}
