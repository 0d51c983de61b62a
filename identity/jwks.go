package identity

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/limitio"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

const (
	defaultJWKSTTL     = time.Hour
	defaultJWKSTimeout = 10 * time.Second
	// jwksKidRefreshInterval is the shortest time between the start of one
	// JWKS fetch and a refresh caused by an unknown kid.
	jwksKidRefreshInterval = 5 * time.Minute
	// jwksFailureBackoff is how long after a failed fetch no new fetch is
	// tried; known keys are served meanwhile.
	jwksFailureBackoff = 30 * time.Second
	// maxJWKSSize is the largest JWKS document read, in bytes.
	maxJWKSSize = 1 << 20

	minRSABits = 2048
	maxRSABits = 8192
	maxRSAExp  = 1<<31 - 1
)

// errJWKSNotCached is the error of Keyfunc on a cold (or stale) cache.
var errJWKSNotCached = fmt.Errorf("%w: it is not cached; call JWTVerifier.Warm or Verify before using Keyfunc", ErrJWKSUnavailable)

// configError is a JWTVerifier configuration error; it wraps
// ErrInvalidJWTVerifier and, for URLs, agentidentity.ErrInvalidBaseURL.
type configError struct {
	reason string
	cause  error
}

func (e *configError) Error() string {
	return "identity: invalid JWTVerifier configuration: " + e.reason
}

func (e *configError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidJWTVerifier, e.cause}
	}
	return []error{ErrInvalidJWTVerifier}
}

// checkJWKSURL checks the JWKS URL by the module's one URL rule
// (netrule.CheckURL) for an endpoint: https, or http on a loopback host,
// with a plain host and path and no user info; a query is kept.
func checkJWKSURL(s string) (*url.URL, error) {
	u, err := netrule.CheckURL(s, netrule.URLRule{HTTPOnLoopback: true, Endpoint: true})
	if err != nil {
		return nil, &configError{"JWKSURL " + err.Error(), agentidentity.ErrInvalidBaseURL}
	}
	return u, nil
}

// jwk is one entry of a JWKS: a usable key, or the reason it cannot be used.
type jwk struct {
	key     *rsa.PublicKey
	problem string
}

// jwksCache fetches and caches one JWKS. It is safe for concurrent use.
type jwksCache struct {
	url    string
	client *http.Client
	ttl    time.Duration
	// timeout bounds one fetch.
	timeout time.Duration
	now     func() time.Time
	group   singleflight.Group

	mu        sync.Mutex
	keys      map[string]jwk // nil until the first successful fetch
	gen       uint64         // successful fetches so far
	fetchedAt time.Time      // time of the last successful fetch
	lastStart time.Time      // time the last fetch was started
	retryAt   time.Time      // no fetch before this time after a failure
	lastErr   error          // error of the last fetch, nil after a success
}

func newJWKSCache(u *url.URL, client *http.Client, ttl, timeout time.Duration, now func() time.Time) *jwksCache {
	// A JWKS endpoint has no reason to redirect; following one would let
	// whoever controls the target choose the keys.
	return &jwksCache{url: u.String(), client: noRedirects(client, timeout), ttl: ttl, timeout: timeout, now: now}
}

// key returns the verification key for kid, fetching the JWKS when it is
// missing or older than the TTL, and refreshing it early for an unknown kid
// at most once per jwksKidRefreshInterval.
func (c *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	now := c.now()
	c.mu.Lock()
	keys, gen := c.keys, c.gen
	stale := keys == nil || now.Sub(c.fetchedAt) >= c.ttl
	fetch := stale && !now.Before(c.retryAt)
	if fetch {
		c.lastStart = now
	}
	lastErr := c.lastErr
	c.mu.Unlock()

	if fetch {
		if err := c.refresh(ctx, gen); err != nil && keys == nil {
			return nil, err
		}
		keys, gen = c.current()
	} else if keys == nil {
		// The last fetch failed moments ago: do not hammer the server.
		return nil, lastErr
	}
	if k, ok := keys[kid]; ok {
		return k.get()
	}

	// Unknown kid: the keys may have rotated. Refresh early, but at most
	// once per interval however many made-up kids arrive.
	c.mu.Lock()
	early := !fetch && !now.Before(c.retryAt) && now.Sub(c.lastStart) >= jwksKidRefreshInterval
	if early {
		c.lastStart = now
	}
	c.mu.Unlock()
	if early {
		if err := c.refresh(ctx, gen); err != nil {
			return nil, fmt.Errorf("identity: the token's kid is not in the cached JWKS, and refreshing it failed: %w", err)
		}
		keys, _ = c.current()
		if k, ok := keys[kid]; ok {
			return k.get()
		}
	}
	return nil, invalidJWT(nil, "no key in the JWKS has the token's kid")
}

// cachedKey returns the key for kid from the cached JWKS without fetching:
// errJWKSNotCached if there is none or it is older than the TTL.
func (c *jwksCache) cachedKey(kid string) (*rsa.PublicKey, error) {
	now := c.now()
	c.mu.Lock()
	keys, fresh := c.keys, c.keys != nil && now.Sub(c.fetchedAt) < c.ttl
	c.mu.Unlock()
	if !fresh {
		return nil, errJWKSNotCached
	}
	if k, ok := keys[kid]; ok {
		return k.get()
	}
	return nil, invalidJWT(nil, "no key in the cached JWKS has the token's kid (Keyfunc does not refresh it; Verify does)")
}

// warm fetches the JWKS unless a fresh copy is cached, honouring the
// back-off after a failure.
func (c *jwksCache) warm(ctx context.Context) error {
	now := c.now()
	c.mu.Lock()
	gen := c.gen
	if c.keys != nil && now.Sub(c.fetchedAt) < c.ttl {
		c.mu.Unlock()
		return nil
	}
	if now.Before(c.retryAt) {
		err := c.lastErr
		c.mu.Unlock()
		return err
	}
	c.lastStart = now
	c.mu.Unlock()
	return c.refresh(ctx, gen)
}

func (k jwk) get() (*rsa.PublicKey, error) {
	if k.problem != "" {
		return nil, invalidJWT(nil, "the JWKS key with the token's kid cannot be used: %s", k.problem)
	}
	return k.key, nil
}

func (c *jwksCache) current() (map[string]jwk, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys, c.gen
}

// refresh fetches the JWKS once for all concurrent callers. gen is the
// generation the caller saw: if another fetch has succeeded since, nothing
// is fetched. ctx bounds only this caller's wait.
func (c *jwksCache) refresh(ctx context.Context, gen uint64) error {
	ch := c.group.DoChan("jwks", func() (any, error) {
		c.mu.Lock()
		done := c.gen != gen
		c.mu.Unlock()
		if done {
			return nil, nil
		}
		// The fetch is shared, so one caller's cancellation must not
		// fail the others: it gets its own time-out instead.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		keys, err := c.fetch(fctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.lastErr = err
			c.retryAt = c.now().Add(jwksFailureBackoff)
			return nil, err
		}
		c.keys, c.lastErr, c.retryAt = keys, nil, time.Time{}
		c.gen++
		c.fetchedAt = c.now()
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return &jwksError{URL: c.redactedURL(), Err: ctx.Err()}
	}
}

// redactedURL is the JWKS URL as errors show it: without user information,
// query or fragment (netrule.Redact).
func (c *jwksCache) redactedURL() string { return netrule.Redact(c.url) }

// redactError replaces the URL that net/http puts in a transport error by
// its redacted form, so that no query parameter (a key, a signature) of the
// JWKS URL reaches an error message.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: netrule.Redact(ue.URL), Err: ue.Err}
	}
	return err
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]jwk, error) {
	fail := func(status int, err error) error {
		return &jwksError{URL: c.redactedURL(), StatusCode: status, Err: redactError(err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fail(0, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fail(0, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, fail(resp.StatusCode, errors.New("redirects are not followed"))
		}
		return nil, fail(resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	body, err := limitio.ReadAll(resp.Body, maxJWKSSize)
	if err != nil {
		return nil, fail(0, err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fail(0, err)
	}
	return keys, nil
}

// parseJWKS parses a JWKS document strictly. Keys without a kid are
// skipped (tokens must name their key); keys that cannot be used are kept
// with the reason, so that a token naming one gets a clear error; a kid
// that appears twice is ambiguous and refused.
func parseJWKS(data []byte) (map[string]jwk, error) {
	errNotObject := errors.New("JWKS \"keys\" holds a value that is not an object")
	errKid := errors.New("JWKS key has a \"kid\" that is not a string")
	// One walk checks the document and reads the keys.
	var (
		list      []*jwkFields
		keysArray bool
	)
	err := strictjson.DecodeObject(data, func(d *strictjson.Decoder, name string) error {
		if name != "keys" || d.Kind() != "an array" {
			return nil
		}
		keysArray = true
		return d.Array(func() error {
			f := &jwkFields{}
			if d.Object(func(name string) error { return f.member(d, name) }) != nil {
				return errNotObject
			}
			if f.kid.bad {
				return errKid
			}
			list = append(list, f)
			return nil
		})
	})
	switch {
	case errors.Is(err, strictjson.ErrInvalid):
		return nil, fmt.Errorf("JWKS is not a strict JSON object: %w", err)
	case err != nil:
		return nil, err
	case !keysArray:
		return nil, errors.New("JWKS has no \"keys\" array")
	}
	keys := make(map[string]jwk, len(list))
	for _, f := range list {
		kid := f.kid.s
		if !f.kid.present || kid == "" {
			continue
		}
		if _, dup := keys[kid]; dup {
			keys[kid] = jwk{problem: "the JWKS has several keys with this kid"}
			continue
		}
		keys[kid] = parseJWK(f)
	}
	return keys, nil
}

// jsonField is a member read as a string: an absent or null member is not
// present; bad is set for a value of another type.
type jsonField struct {
	s            string
	present, bad bool
}

func (f *jsonField) read(d *strictjson.Decoder) {
	if d.Null() {
		return
	}
	var err error
	f.present = true
	f.s, err = d.String()
	f.bad = err != nil
}

// privateJWKMembers are the members of a private RSA JWK (RFC 7518 §6.3.2).
var privateJWKMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth"}

// jwkFields are the members of one JWK that parseJWK judges, as the walk of
// the JWKS read them.
type jwkFields struct {
	kid, kty, alg, use, n, e jsonField
	keyOps                   []string
	hasKeyOps                bool // key_ops is present, even as null
	keyOpsBad                bool // key_ops is not an array of strings (null elements allowed)
	private                  bool // a member of privateJWKMembers is present
}

// member reads the member name of a JWK object.
func (f *jwkFields) member(d *strictjson.Decoder, name string) error {
	switch name {
	case "kid":
		f.kid.read(d)
	case "kty":
		f.kty.read(d)
	case "alg":
		f.alg.read(d)
	case "use":
		f.use.read(d)
	case "n":
		f.n.read(d)
	case "e":
		f.e.read(d)
	case "key_ops":
		f.hasKeyOps = true
		if d.Kind() != "an array" {
			f.keyOpsBad = true
			return nil
		}
		return d.Array(func() error {
			if d.Null() {
				return nil
			}
			op, err := d.String()
			f.keyOpsBad = f.keyOpsBad || err != nil
			f.keyOps = append(f.keyOps, op)
			return nil
		})
	default:
		f.private = f.private || slices.Contains(privateJWKMembers[:], name)
	}
	return nil
}

func parseJWK(f *jwkFields) jwk {
	bad := func(format string, args ...any) jwk { return jwk{problem: fmt.Sprintf(format, args...)} }
	if f.kty.bad || f.kty.s != "RSA" {
		return bad("kty %q is not RSA", shortQuote(f.kty.s))
	}
	if f.alg.bad || (f.alg.present && f.alg.s != "RS256") {
		return bad("alg %q is not RS256", shortQuote(f.alg.s))
	}
	if f.use.bad || (f.use.present && f.use.s != "sig") {
		return bad("use %q is not sig", shortQuote(f.use.s))
	}
	if f.hasKeyOps {
		if f.keyOpsBad {
			return bad("key_ops is not an array of strings")
		}
		if !slices.Contains(f.keyOps, "verify") {
			return bad("key_ops does not allow verify")
		}
	}
	if f.private {
		return bad("it holds private key material")
	}
	n, err := jwkUint(f.n)
	if err != nil {
		return bad("n %v", err)
	}
	e, err := jwkUint(f.e)
	if err != nil {
		return bad("e %v", err)
	}
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return bad("the RSA modulus has %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
	}
	if n.Bit(0) == 0 {
		return bad("the RSA modulus is even")
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > maxRSAExp || e.Bit(0) == 0 {
		return bad("the RSA exponent is not an odd number from 3 to 2^31-1")
	}
	return jwk{key: &rsa.PublicKey{N: n, E: int(e.Int64())}}
}

// jwkUint decodes a Base64urlUInt (RFC 7518 §2): canonical unpadded
// base64url of a big-endian number in the fewest octets.
func jwkUint(f jsonField) (*big.Int, error) {
	if f.bad || !f.present {
		return nil, errors.New("is missing or not a string")
	}
	b, err := b64.DecodeRawURL(f.s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("is not canonical base64url")
	}
	if b[0] == 0 {
		return nil, errors.New("has a leading zero octet")
	}
	return new(big.Int).SetBytes(b), nil
}
