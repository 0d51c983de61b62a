package identity

import (
	"context"
	"fmt"
	"net/url"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/routes"
)

// Runs with no agent (docs/protocol.md#bearer-sources): a personal access
// token or a workload identity's exchanged token is the Bearer credential
// of every first-party route, inference included, with the account headers;
// nothing is signed, no agent or task is registered, and workspace routing
// discovery is made as for a ChatGPT login.
//
//	request                                          credential
//	first-party, inference and every other route     Bearer <token>
//	first-party, no-credential routes (JWKS, /ps/mcp) none
//	inference at the routed workspace origin         Bearer <token>
//	inference at the openai_base_url origin          Bearer <token>
//	anything else                                    none (untouched)
//
// The routed origin and the openai_base_url origin are the only origins
// besides the configured one that inference may go to; without the
// credential it would be refused there. The routed origin comes from the
// first-party origin's own answer and must be https; the openai_base_url
// origin is an accepted spelling of the same environment (openai.go).

const (
	sourcePersonalAccessToken = "personal access token"
	sourceWorkloadIdentity    = "workload identity"
)

// errNoAgent is what a run with no agent answers where an agent is needed
// (TaskID, a signature).
func (r *runState) errNoAgent() error {
	return fmt.Errorf("%w: this run authenticates with a %s, which has no agent and no tasks", ErrNoAgentIdentity, r.bearerSource)
}

// bearerCredential is credentialFor for a run with no agent.
func (r *runState) bearerCredential(ctx context.Context, u *url.URL) (credential, error) {
	class := routes.Classify(r.basePath, u.Path)
	switch {
	case r.isFirstParty(u):
		if class == routes.NoCredential {
			return credential{}, nil
		}
	case class != routes.Inference:
		return credential{}, nil
	case r.inferenceOrigin != "" && netrule.SameOrigin(u, r.inferenceOrigin):
	case !r.routingEnabled() || !r.isRoutedCandidate(u):
		return credential{}, nil
	default:
		origin, _, err := r.routing(ctx)
		if err != nil || origin == "" || !netrule.SameOrigin(u, origin) {
			return credential{}, nil
		}
	}
	var override []string
	if class == routes.Inference && r.routingEnabled() {
		// Inference waits for discovery, as in ChatGPT opt-in mode.
		var err error
		if _, override, err = r.routing(ctx); err != nil {
			return credential{}, err
		}
	}
	a, err := r.chatgpt.header(ctx, r.now())
	if err != nil {
		return credential{}, err
	}
	return credential{touch: true, authz: a, override: override, bearer: true}, nil
}

// bearerRun makes the RunAuth of a source with no agent for account: token
// gives the current Bearer token (asked on every request: it caches by
// itself), recover, if set, replaces one a route refused with 401.
func (l *loader) bearerRun(source string, token func(context.Context) (codexhome.Secret, error), recover func(ctx context.Context, rejected string) (string, error), account codexhome.Account) (*RunAuth, error) {
	return l.runAuth(nil, RunAuthOptions{Account: account, ChatGPTBearer: token},
		runInternals{bearerSource: source, recoverBearer: recover})
}

// secretSource gives an internal token source the Secret-returning form of
// [RunAuthOptions.ChatGPTBearer].
func secretSource(f func(context.Context) (string, error)) func(context.Context) (codexhome.Secret, error) {
	return func(ctx context.Context) (codexhome.Secret, error) {
		t, err := f(ctx)
		return codexhome.NewSecret(t), err
	}
}
