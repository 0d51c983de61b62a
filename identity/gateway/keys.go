package gateway

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
)

// Agent is what the server knows about a registered agent.
type Agent struct {
	// RuntimeID is the agent runtime id the backend registered. A Keys
	// that returns an Agent with another non-empty RuntimeID than the one
	// asked for is treated as not knowing the agent.
	RuntimeID string
	// PublicKey is the agent's Ed25519 public key (32 bytes).
	PublicKey ed25519.PublicKey
	// AccountID is the ChatGPT-Account-ID the agent must present; "" means
	// the header is not checked. Identity.AccountID is this value, never the
	// unsigned header.
	AccountID string
	// FedRAMP requires "X-OpenAI-Fedramp: true" when set, and refuses the
	// header when not set.
	FedRAMP bool
}

// LogValue shows the agent in logs as its runtime id, account and FedRAMP
// flag (the key is public, but long and useless in a log line).
func (a Agent) LogValue() slog.Value {
	return slog.GroupValue(slog.String("runtime_id", a.RuntimeID),
		slog.String("account_id", a.AccountID), slog.Bool("fedramp", a.FedRAMP))
}

// Keys finds the registered agent for a runtime id. It must be safe for
// concurrent use: a Verifier calls it for every request, also for a cached
// header, so that removing an agent takes effect at once.
type Keys interface {
	// Agent returns the agent registered as runtimeID, or an error wrapping
	// ErrUnknownAgent when there is none. Any other error is treated as a
	// failed lookup (ErrKeysUnavailable): the request is refused with 503.
	Agent(ctx context.Context, runtimeID string) (Agent, error)
}

// StaticKeys is a fixed set of agents, keyed by runtime id. A StaticKeys
// must not be modified while a Verifier uses it; reads are safe for
// concurrent use.
type StaticKeys map[string]Agent

// Agent returns the agent registered as runtimeID, with RuntimeID filled in,
// or ErrUnknownAgent.
func (k StaticKeys) Agent(_ context.Context, runtimeID string) (Agent, error) {
	a, ok := k[runtimeID]
	if !ok {
		return Agent{}, ErrUnknownAgent
	}
	if a.RuntimeID == "" {
		a.RuntimeID = runtimeID
	}
	return a, nil
}

// KeysFunc adapts a function to Keys, so that a server can look agents up in
// its own database. The function must be safe for concurrent use and return
// an error wrapping ErrUnknownAgent for an agent it does not know.
type KeysFunc func(ctx context.Context, runtimeID string) (Agent, error)

// Agent calls f.
func (f KeysFunc) Agent(ctx context.Context, runtimeID string) (Agent, error) {
	if f == nil {
		return Agent{}, fmt.Errorf("%w: nil KeysFunc", ErrKeysUnavailable)
	}
	return f(ctx, runtimeID)
}
