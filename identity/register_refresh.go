package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// registerAgent registers the agent of a new identity with the login's
// access token as the Codex CLI does (docs/protocol.md#refresh-before-register):
// a token whose exp is less than the refresh margin away is refreshed
// first (reason proactive_expiry), and a 401 at registration is recovered
// once by refreshing (reason unauthorized_recovery) and registering again.
// Both refreshes follow the rules of the Bearer routes' refresh
// (docs/protocol.md#token-refresh): a token another writer refreshed
// meanwhile is adopted without a request, a refresh token is never sent
// twice, and the answer is committed under auth.json.lock. The caller holds
// the store's Coordinate lock, so the refresh runs under it.
func (l *loader) registerAgent(ctx context.Context, login *codexhome.ChatGPTLogin, reg AgentRegistration) (string, error) {
	r := l.refresher(login)
	tok, err := r.tokenLocked(ctx)
	if err != nil {
		return "", err
	}
	id, err := l.client.RegisterAgent(ctx, codexhome.NewSecret(tok), reg)
	var re *RegistrationError
	if err == nil || !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		return id, err
	}
	fresh, rerr := r.refreshLocked(ctx, tok, reasonUnauthorized)
	switch {
	case rerr != nil:
		return "", fmt.Errorf("%w; the refresh after it failed: %w", err, rerr)
	case fresh == tok:
		return "", err
	}
	return l.client.RegisterAgent(ctx, codexhome.NewSecret(fresh), reg)
}
