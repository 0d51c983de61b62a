package codexhome

import "github.com/agentidentity/agentidentity/internal/secret"

// Secret is the module's one secret type: a private key, a JWT, an access or
// refresh token. It prints "[REDACTED]" under every fmt verb (as a value and
// as a pointer, inside structs and slices), through log/slog's handlers and
// the text and JSON marshalers; Reveal returns the text. The zero Secret is
// empty. It is the same type as identity.Secret.
type Secret = secret.Value

// NewSecret wraps s in a Secret.
func NewSecret(s string) Secret { return secret.New(s) }
