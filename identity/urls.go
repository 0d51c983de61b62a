package identity

import (
	"net/url"
	"strings"

	"github.com/agentidentity/agentidentity/internal/netrule"
)

// agentRegistrationURL returns the agent registration endpoint
// `{authAPIBaseURL}/v1/agent/register` (docs/protocol.md#authapi-endpoints).
//
// The base must be an absolute https URL (plain http only to a loopback
// host) with a plain ASCII host and no user info, query or fragment; one
// trailing '/' is ignored. Its path must be plain (no empty or dot segments,
// nothing that needs percent-encoding). Errors wrap
// agentidentity.ErrInvalidBaseURL.
func agentRegistrationURL(authAPIBaseURL string) (string, error) {
	return buildURL(authAPIBaseURL, "/v1/agent/register", "v1", "agent", "register")
}

// taskRegistrationURL returns the task registration endpoint
// `{authAPIBaseURL}/v1/agent/{agentRuntimeID}/task/register`
// (docs/protocol.md#authapi-endpoints).
//
// agentRuntimeID must pass ValidateRuntimeID (otherwise the error wraps
// ErrInvalidRuntimeID), so it can never change the path. The base is checked
// as in agentRegistrationURL (errors wrap agentidentity.ErrInvalidBaseURL). The built URL is
// parsed again and must keep the base's scheme and host and end in exactly
// `/v1/agent/{agentRuntimeID}/task/register`.
func taskRegistrationURL(authAPIBaseURL, agentRuntimeID string) (string, error) {
	if err := ValidateRuntimeID(agentRuntimeID); err != nil {
		return "", err
	}
	suffix := "/v1/agent/" + agentRuntimeID + "/task/register"
	return buildURL(authAPIBaseURL, suffix, "v1", "agent", agentRuntimeID, "task", "register")
}

func buildURL(base, suffix string, elems ...string) (string, error) {
	u, err := parseBaseURL(base)
	if err != nil {
		return "", err
	}
	out := u.JoinPath(elems...)
	s := out.String()

	// Parse the result again: what a client will send must be what we meant.
	back, err := url.Parse(s)
	if err != nil {
		return "", invalidURL("the built endpoint does not parse")
	}
	if back.Scheme != u.Scheme || back.Host != u.Host || back.User != nil ||
		back.RawQuery != "" || back.Fragment != "" || back.ForceQuery ||
		back.RawPath != "" || !strings.HasSuffix(back.Path, suffix) ||
		back.Path != strings.TrimSuffix(u.Path, "/")+suffix {
		return "", invalidURL("the built endpoint changed shape")
	}
	return s, nil
}

// parseBaseURL checks an AuthAPI base URL by the module's one URL rule
// (netrule.CheckURL: https, plain http only on a loopback host, one
// trailing '/' dropped).
func parseBaseURL(base string) (*url.URL, error) {
	u, err := netrule.CheckURL(base, netrule.URLRule{HTTPOnLoopback: true, TrimSlash: true})
	if err != nil {
		return nil, invalidURL("the AuthAPI base URL %w", err)
	}
	return u, nil
}
