package identity

import (
	"fmt"
	"net/url"
	"strings"
)

// AgentRegistrationURL returns the agent registration endpoint
// `{authAPIBaseURL}/v1/agent/register` (docs/protocol.md#authapi-endpoints).
//
// The base must be an absolute http or https URL with a host and no user
// info, query or fragment; one trailing '/' is ignored. Its path must be
// plain (no dot segments, nothing that needs percent-encoding). Errors wrap
// ErrInvalidURL.
func AgentRegistrationURL(authAPIBaseURL string) (string, error) {
	return buildURL(authAPIBaseURL, "/v1/agent/register", "v1", "agent", "register")
}

// TaskRegistrationURL returns the task registration endpoint
// `{authAPIBaseURL}/v1/agent/{agentRuntimeID}/task/register`
// (docs/protocol.md#authapi-endpoints).
//
// agentRuntimeID must pass ValidateRuntimeID (otherwise the error wraps
// ErrInvalidRuntimeID), so it can never change the path. The base is checked
// as in AgentRegistrationURL (errors wrap ErrInvalidURL). The built URL is
// parsed again and must keep the base's scheme and host and end in exactly
// `/v1/agent/{agentRuntimeID}/task/register`.
func TaskRegistrationURL(authAPIBaseURL, agentRuntimeID string) (string, error) {
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
		return "", fmt.Errorf("%w: the built endpoint does not parse", ErrInvalidURL)
	}
	if back.Scheme != u.Scheme || back.Host != u.Host || back.User != nil ||
		back.RawQuery != "" || back.Fragment != "" || back.ForceQuery ||
		back.RawPath != "" || !strings.HasSuffix(back.Path, suffix) ||
		back.Path != strings.TrimSuffix(u.Path, "/")+suffix {
		return "", fmt.Errorf("%w: the built endpoint changed shape", ErrInvalidURL)
	}
	return s, nil
}

// parseBaseURL parses and checks an AuthAPI base URL.
func parseBaseURL(base string) (*url.URL, error) {
	if base == "" {
		return nil, fmt.Errorf("%w: the AuthAPI base URL is empty", ErrInvalidURL)
	}
	u, err := url.Parse(base)
	if err != nil {
		// url.Error quotes the input; a base URL is not a secret, but keep
		// the message short and stable.
		return nil, fmt.Errorf("%w: the AuthAPI base URL does not parse", ErrInvalidURL)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%w: the AuthAPI base URL scheme must be https or http", ErrInvalidURL)
	case u.Opaque != "" || u.Host == "":
		return nil, fmt.Errorf("%w: the AuthAPI base URL has no host", ErrInvalidURL)
	case u.User != nil:
		return nil, fmt.Errorf("%w: the AuthAPI base URL holds user info", ErrInvalidURL)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("%w: the AuthAPI base URL holds a query", ErrInvalidURL)
	case u.Fragment != "" || strings.Contains(base, "#"):
		return nil, fmt.Errorf("%w: the AuthAPI base URL holds a fragment", ErrInvalidURL)
	case u.RawPath != "" || strings.Contains(u.Path, "%"):
		return nil, fmt.Errorf("%w: the AuthAPI base URL path holds escaped characters", ErrInvalidURL)
	}
	if u.Path != "" && u.Path[0] != '/' {
		return nil, fmt.Errorf("%w: the AuthAPI base URL path is not absolute", ErrInvalidURL)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(u.Path, "/"), "/")[1:] {
		if seg == "" || seg == "." || seg == ".." {
			return nil, fmt.Errorf("%w: the AuthAPI base URL path holds an empty or dot segment", ErrInvalidURL)
		}
	}
	if u.EscapedPath() != u.Path {
		return nil, fmt.Errorf("%w: the AuthAPI base URL path needs escaping", ErrInvalidURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}
