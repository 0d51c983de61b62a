package identity

import (
	"strings"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// openai_base_url (docs/protocol.md#openai-base-url): the Codex CLI 0.171 sends model
// traffic (GET {openai_base_url}/models and the Responses API,
// {openai_base_url}/responses over HTTP and WebSocket) to the model
// provider's base, openai_base_url in config.toml, in both modes: in runs
// of the real client against the fake backend models went to
// https://chatgpt.com/backend-api/codex without it, and in JWT mode
// chatgpt_base_url alone did not move inference. Load therefore applies it in
// both modes, and only when it passes the rule chatgpt_base_url passes, so
// that a config file never sends credentials to a host it merely names:
//
//   - the module's one URL rule (netrule.CheckURL): https (http only on a
//     loopback host), a plain ASCII host and path, no user info, query or
//     fragment, one trailing '/' ignored;
//   - its path is the configured base's path + "/codex" (where the route
//     table puts the Responses API);
//   - its origin is the configured base's (the common case: nothing moves),
//     or resolves (with the same overrides) to the same known environment,
//     e.g. https://chat.openai.com/backend-api/codex beside
//     https://chatgpt.com/backend-api. A custom deployment has one origin,
//     so there it must be the configured one.
//
// A second origin so accepted gets AgentAssertion on inference routes only
// and nothing on any other route (never the Bearer token).

// checkOpenAIBaseURL returns the origin inference moves to ("" when it is
// the configured base's own), or an error wrapping agentidentity.ErrInvalidBaseURL.
func checkOpenAIBaseURL(raw string, env agentidentity.Environment, o agentidentity.Overrides) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := netrule.CheckURL(raw, netrule.URLRule{HTTPOnLoopback: true, TrimSlash: true})
	if err != nil {
		return "", invalidURL("openai_base_url %s in config.toml %w", netrule.Redact(raw), err)
	}
	origin := netrule.Origin(u)
	refuse := func(why string) error {
		return invalidURL("openai_base_url %s in config.toml %s; it must be %s/codex or the same path on another origin of that environment", netrule.Redact(raw), why, env.ChatGPTBaseURL)
	}
	if u.Path != basePathOf(env.ChatGPTBaseURL)+"/codex" {
		return "", refuse("has another path than the Responses API base of chatgpt_base_url")
	}
	if configured, err := netrule.CheckOrigin(env.ChatGPTBaseURL); err == nil && origin == configured {
		return "", nil
	}
	other, err := agentidentity.ResolveWithOverrides(raw, o)
	if err != nil || other.Name != env.Name || other.AuthAPIBaseURL != env.AuthAPIBaseURL ||
		other.JWKSURL != env.JWKSURL || other.Issuer != env.Issuer || other.Audience != env.Audience {
		return "", refuse("is not on an origin of the environment of chatgpt_base_url")
	}
	return origin, nil
}
