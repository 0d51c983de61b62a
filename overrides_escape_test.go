package agentidentity

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOverridesRefuseCharactersThatNeedEscaping: a base whose path net/url
// would percent-encode is refused, so that every URL made from an accepted
// base is the base's own bytes (found by FuzzJWKSURL).
func TestOverridesRefuseCharactersThatNeedEscaping(t *testing.T) {
	for _, c := range []string{`"`, "<", ">", "{", "}", "|", "^", "`"} {
		base := "https://self-hosted.example/api" + c + "x"
		t.Run(c, func(t *testing.T) {
			_, err := JWKSURL(base)
			require.ErrorIs(t, err, ErrInvalidBaseURL)
			_, err = ResolveWithOverrides(base, Overrides{AuthAPIBaseURL: base, JWKSBaseURL: base})
			require.Error(t, err)
			_, err = ResolveWithOverrides(DefaultChatGPTBaseURL, Overrides{AuthAPIBaseURL: base})
			require.Error(t, err)
		})
	}
}
