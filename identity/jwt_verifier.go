package identity

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// A [JWTVerifier] whose fields are left empty takes production's values:
// [agentidentity.ProductionJWKSURL], [agentidentity.ProductionIssuer] and
// [agentidentity.ProductionAudience] (the issuer and the audience are the
// same in staging, docs/protocol.md#environment-table).
const (
	// defaultJWTLeeway is the clock skew allowed when Leeway is zero.
	defaultJWTLeeway = 30 * time.Second
	// maxJWTLeeway is the largest Leeway a JWTVerifier accepts.
	maxJWTLeeway = 60 * time.Second
)

// JWTVerifier verifies Agent Identity JWTs (docs/protocol.md#agent-jwt) against a JWKS.
// Tokens are parsed and validated by github.com/golang-jwt/jwt/v5 after a
// strict pre-pass that refuses what golang-jwt would let through (see "What
// is refused" below); [JWTVerifier.Keyfunc] plugs the cached keys into
// golang-jwt directly.
//
// The zero value verifies production tokens: empty fields take
// production's values. Set the fields before the first call to Verify and do not
// change them afterwards; the verifier reads them once. A JWTVerifier is
// safe for concurrent use, and concurrent callers share one cached JWKS.
//
// What is refused: any alg but RS256 (none, HS*, RS384/512, PS*, ES*,
// EdDSA); a missing, empty or unknown kid; tokens whose header carries crit,
// jku, x5u, jwk or x5c (never used to find a key: the token is refused);
// JWKs that are not kty RSA, whose alg is not RS256, whose use is not sig,
// whose key_ops lack verify, or whose modulus is under 2048 bits; an iss or
// aud that is not exactly Issuer or Audience (aud must be one string, not an
// array); a missing exp; exp in the past or nbf or iat in the future beyond
// the leeway; duplicate JSON members in header or payload; non-canonical
// base64url; tokens over 64 KiB; an agent_runtime_id outside the
// runtime-id allowlist and an empty agent_private_key or account_id (the
// two a run needs besides the runtime id).
type JWTVerifier struct {
	// JWKSURL is where the signing keys are fetched (default
	// agentidentity.ProductionJWKSURL). It must be https, except on a loopback host
	// (localhost, 127.0.0.0/8, ::1).
	JWKSURL string
	// Issuer is the exact expected "iss" (default
	// agentidentity.ProductionIssuer).
	Issuer string
	// Audience is the exact expected "aud" (default
	// agentidentity.ProductionAudience).
	Audience string
	// HTTPClient fetches the JWKS. Nil means a client with a 10 s
	// time-out. Redirects are never followed, whatever its CheckRedirect.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp, nbf and iat: zero means
	// 30 s; negative values and values over 60 s are refused.
	Leeway time.Duration
	// JWKSCacheTTL is how long a fetched JWKS is used before it is fetched
	// again (default 1 h). A token with an unknown kid causes an early
	// refresh at most once per 5 minutes; if a refresh fails, the keys
	// already known keep being used.
	JWKSCacheTTL time.Duration
	// FetchTimeout bounds one JWKS request (default 10 s).
	FetchTimeout time.Duration

	// now is the clock; nil means time.Now. Tests set it.
	now func() time.Time

	once     sync.Once
	initErr  error
	issuer   string
	audience string
	parser   *jwt.Parser
	keys     *jwksCache
}

func (v *JWTVerifier) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

func (v *JWTVerifier) init() error {
	v.once.Do(func() {
		v.initErr = v.setup()
	})
	return v.initErr
}

func (v *JWTVerifier) setup() error {
	v.issuer = orDefault(v.Issuer, agentidentity.ProductionIssuer)
	v.audience = orDefault(v.Audience, agentidentity.ProductionAudience)
	leeway := v.Leeway
	switch {
	case leeway == 0:
		leeway = defaultJWTLeeway
	case leeway < 0:
		return fmt.Errorf("%w: Leeway is negative", ErrInvalidJWTVerifier)
	case leeway > maxJWTLeeway:
		return fmt.Errorf("%w: Leeway %s is more than the %s allowed", ErrInvalidJWTVerifier, leeway, maxJWTLeeway)
	}
	ttl := v.JWKSCacheTTL
	if ttl == 0 {
		ttl = defaultJWKSTTL
	} else if ttl < 0 {
		return fmt.Errorf("%w: JWKSCacheTTL is negative", ErrInvalidJWTVerifier)
	}
	timeout := v.FetchTimeout
	if timeout == 0 {
		timeout = defaultJWKSTimeout
	} else if timeout < 0 {
		return fmt.Errorf("%w: FetchTimeout is negative", ErrInvalidJWTVerifier)
	}
	u, err := checkJWKSURL(orDefault(v.JWKSURL, agentidentity.ProductionJWKSURL))
	if err != nil {
		return err
	}
	v.keys = newJWKSCache(u, v.HTTPClient, ttl, timeout, v.clock)
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.clock),
		jwt.WithStrictDecoding(),
	)
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Verify checks token and returns its claims, which the caller owns.
//
// The token goes through the strict pre-pass first (size, segments,
// canonical base64url, strict JSON, the refused header members, claim
// types; see [JWTVerifier]), then through golang-jwt (RS256 only, the
// signature, iss, aud, exp required, nbf and iat, with the leeway), then
// the agent claims are checked.
//
// An error wrapping [ErrInvalidJWT] means the token was refused (and may
// also wrap [ErrPersonalAccessToken], [ErrChatGPTAccessToken],
// [ErrJWTExpired] or a golang-jwt error such as jwt.ErrTokenExpired). An
// error wrapping [ErrJWKSUnavailable] means the keys could not be fetched:
// the token may be good, and a later call may succeed. An error wrapping
// [ErrInvalidJWTVerifier] means v itself is misconfigured. No error quotes
// the token.
//
// ctx bounds the wait for a JWKS fetch; the fetch itself, shared with other
// callers, runs for at most FetchTimeout.
func (v *JWTVerifier) Verify(ctx context.Context, token codexhome.Secret) (*Claims, error) {
	if err := v.init(); err != nil {
		return nil, err
	}
	raw := token.Reveal()
	p, err := parseJWT(raw)
	if errors.Is(err, ErrChatGPTAccessToken) {
		return nil, invalidJWT(ErrChatGPTAccessToken,
			"it looks like a ChatGPT access token; an Agent Identity JWT (issuer %q, audience %q) was expected", v.issuer, v.audience)
	}
	if err != nil {
		return nil, err
	}
	if err := checkAlgKid(p.header.Alg, p.header.Kid); err != nil {
		return nil, err
	}
	key, err := v.keys.key(ctx, p.header.Kid)
	if err != nil {
		return nil, err
	}
	dec := &claimsDecoder{Claims: &Claims{}, pre: p.claims, preJSON: p.jws.PayloadJSON, preRuntime: p.hasRuntimeID}
	if _, err := v.parser.ParseWithClaims(raw, dec, staticKey{key}.keyfunc); err != nil {
		return nil, v.parseError(err, dec.Claims)
	}
	c := dec.Claims
	switch {
	case !dec.runtimeID:
		return nil, invalidJWT(nil, "claim \"agent_runtime_id\" is missing")
	case !jwtRuntimeIDValid(c.AgentRuntimeID):
		return nil, invalidJWT(ErrInvalidRuntimeID, "claim \"agent_runtime_id\" is not a valid runtime id")
	case c.AgentPrivateKey.IsZero():
		return nil, invalidJWT(nil, "claim \"agent_private_key\" is missing or empty")
	case c.AccountID == "":
		return nil, invalidJWT(nil, "claim \"account_id\" is missing or empty")
	}
	return c, nil
}

// staticKey is a golang-jwt key function serving one key.
type staticKey struct{ key *rsa.PublicKey }

func (k staticKey) keyfunc(*jwt.Token) (any, error) { return k.key, nil }

// checkAlgKid refuses every alg but RS256, and a missing or empty kid.
func checkAlgKid(alg, kid string) error {
	switch {
	case alg == "RS256":
	case alg == "none" || alg == "None" || alg == "NONE" || alg == "":
		return invalidJWT(jwt.ErrTokenSignatureInvalid, "unsigned tokens (alg %q) are refused; only RS256 is accepted", shortQuote(alg))
	default:
		return invalidJWT(jwt.ErrTokenSignatureInvalid, "alg %q is refused; only RS256 is accepted", shortQuote(alg))
	}
	if kid == "" {
		return invalidJWT(nil, "header has no kid")
	}
	return nil
}

// parseError turns an error of golang-jwt's parse into one that says what
// was wrong, keeping the golang-jwt error for errors.Is. c holds the
// claims decoded, if the parse got that far.
func (v *JWTVerifier) parseError(err error, c *Claims) error {
	var ours *jwtError
	switch {
	case errors.As(err, &ours):
		return ours
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidJWT(jwt.ErrTokenSignatureInvalid, "signature does not verify")
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return invalidJWT(err, "golang-jwt refused the token")
	case c.Issuer == "":
		return invalidJWT(jwt.ErrTokenRequiredClaimMissing, "claim \"iss\" is missing; %q was expected", v.issuer)
	case len(c.Audience) == 0:
		return invalidJWT(jwt.ErrTokenRequiredClaimMissing, "claim \"aud\" is missing; %q was expected", v.audience)
	case c.ExpiresAt == nil:
		return invalidJWT(jwt.ErrTokenRequiredClaimMissing, "claim \"exp\" is missing")
	}
	return claimsError(err, v.issuer, v.audience)
}

// Keyfunc is a golang-jwt key function (jwt.Keyfunc) serving the keys of
// v's JWKS, so that v plugs into jwt.Parse and jwt.ParseWithClaims
// directly. It refuses every alg but RS256 and a token without a kid, and
// serves only keys already cached: it has no context to fetch with, so on a
// cold cache (or one older than JWKSCacheTTL) it returns an error saying to
// call [JWTVerifier.Verify] or [JWTVerifier.Warm] first, and an unknown kid
// never causes a refresh. Errors wrap [ErrInvalidJWT], [ErrInvalidJWTVerifier]
// or [ErrJWKSUnavailable].
//
// A bare jwt.Parse with Keyfunc checks the signature only: it skips this
// package's strict pre-pass (size, canonical base64url, duplicate JSON
// members, the refused header members crit, jku, x5u, jwk and x5c, aud as an
// array) and, unless the caller passes the matching parser options, the
// issuer, audience and exp checks; nor does it check the agent claims. Use
// [JWTVerifier.Verify] to accept an Agent Identity JWT.
func (v *JWTVerifier) Keyfunc(t *jwt.Token) (any, error) {
	if err := v.init(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, invalidJWT(nil, "no token")
	}
	alg, _ := t.Header["alg"].(string)
	if t.Method != jwt.SigningMethodRS256 {
		alg = "" // a method golang-jwt does not know under that name
		if t.Method != nil {
			alg = t.Method.Alg()
		}
	}
	kid, ok := t.Header["kid"].(string)
	if _, present := t.Header["kid"]; present && !ok {
		return nil, invalidJWT(nil, "header \"kid\" is not a string")
	}
	if err := checkAlgKid(alg, kid); err != nil {
		return nil, err
	}
	return v.keys.cachedKey(kid)
}

// Warm fetches the JWKS now unless a fresh copy is cached, so that
// [JWTVerifier.Keyfunc] can serve keys. It returns an error wrapping
// [ErrJWKSUnavailable] if the fetch fails (and within 30 s of a failed fetch, that error again, without
// a new request). ctx bounds the wait, as for Verify.
func (v *JWTVerifier) Warm(ctx context.Context) error {
	if err := v.init(); err != nil {
		return err
	}
	return v.keys.warm(ctx)
}

// claimsError turns a golang-jwt validation error into one that says which
// check failed, keeping the golang-jwt error for errors.Is.
func claimsError(err error, iss, aud string) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return &jwtError{reason: "token has expired; load a fresh token", causes: []error{ErrJWTExpired, err}}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalidJWT(err, "token is not valid yet (nbf is in the future)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalidJWT(err, "token was issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalidJWT(err, "claim \"iss\" is not %q", iss)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalidJWT(err, "claim \"aud\" is not %q", aud)
	default:
		return invalidJWT(err, "claims are invalid")
	}
}

// shortQuote cuts an attacker-chosen header value for an error message.
func shortQuote(s string) string {
	const max = 32
	if len(s) > max {
		return truncateUTF8(s, max) + "…"
	}
	return s
}
