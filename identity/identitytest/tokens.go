package identitytest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/jwttest"
)

// LoginOptions describes the ChatGPT login MintChatGPTLogin makes. Empty
// fields get defaults ("account-<n>", "user-<n>", "user<n>@example.com",
// "plus").
type LoginOptions struct {
	codexhome.Account
	// TTL is the lifetime of the id and access tokens (0: 1 h); the logins
	// a refresh makes keep it. A negative TTL mints a login whose tokens
	// expired -TTL ago (its refreshes then live 1 h). The server refuses an
	// expired access token everywhere (agent registration, Bearer routes);
	// the Codex CLI refreshes a login within 5 minutes of its expiry, and an
	// expired one before it registers an agent
	// (docs/protocol.md#refresh-before-register).
	TTL time.Duration
	// IssuedAt is when the tokens were issued (default: the server's
	// clock, Options.Now); a time more than TTL ago also makes a login
	// whose access token has expired.
	IssuedAt time.Time
}

// ChatGPTLogin is a ChatGPT login minted by a Server, in the shape auth.json
// stores under "tokens" (docs/protocol.md#chatgpt-login). The tokens are test values; they are
// nevertheless secrets in the sense that a Client must never print them.
type ChatGPTLogin struct {
	// IDToken is a JWT whose payload has "email" at the top level and, under
	// "https://api.openai.com/auth", chatgpt_account_id, chatgpt_user_id,
	// chatgpt_plan_type and chatgpt_account_is_fedramp.
	IDToken codexhome.Secret
	// AccessToken is accepted by this server, and only this server, as the
	// Bearer token of agent registration and of the side routes, until its
	// "exp" by the server's clock. It is a JWT with issuer
	// https://auth.openai.com, as ChatGPT access tokens are.
	AccessToken codexhome.Secret
	// RefreshToken is an opaque token that the server's token refresh
	// (POST /oauth/token) redeems once for a new login.
	RefreshToken codexhome.Secret

	// Account is the login's account, with the defaults filled in.
	codexhome.Account
}

// JWTOptions describes an Agent Identity JWT minted by MintAgentJWT. The
// zero value gives a valid token for a fresh agent, issued now and expiring
// in an hour. The override fields exist to build bad tokens.
type JWTOptions struct {
	// Account holds the agent's account claims (defaults as in
	// LoginOptions; Email may stay "").
	codexhome.Account

	// TTL is the lifetime (default 1 h); the token expires at IssuedAt+TTL.
	TTL time.Duration
	// IssuedAt is "iat" (default: the server's clock).
	IssuedAt time.Time
	// OmitExp leaves "exp" out.
	OmitExp bool
	// Issuer and Audience override "iss" and "aud" (default Server.Issuer
	// and Server.Audience).
	Issuer   string
	Audience string
	// KeyID overrides the header "kid" (default the JWKS key's id).
	KeyID string
}

// loadKey makes or loads the signing key once.
func (s *Server) loadKey() error {
	s.keyOnce.Do(func() {
		if s.key == nil {
			s.key, s.keyErr = rsa.GenerateKey(rand.Reader, 2048)
			if s.keyErr != nil {
				s.keyErr = fmt.Errorf("identitytest: generating the RSA signing key: %w", s.keyErr)
				return
			}
		}
		s.jwks = jwttest.NewIssuerFromKey(s.kid, s.key).JWKS()
	})
	return s.keyErr
}

func (s *Server) sign(claims jwt.MapClaims, kid string) (string, error) {
	if err := s.loadKey(); err != nil {
		return "", err
	}
	if kid == "" {
		kid = s.kid
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	out, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("identitytest: signing a token: %w", err)
	}
	return out, nil
}

// MintChatGPTLogin makes a ChatGPT login whose access token this server then
// accepts, until it expires, for agent registration and as the Bearer token
// of the first-party side routes, and whose refresh token it redeems once. It panics only if
// the signing key cannot be made (crypto/rand failing).
func (s *Server) MintChatGPTLogin(o LoginOptions) ChatGPTLogin { return s.mintLogin(o) }

func (s *Server) mintLogin(o LoginOptions) ChatGPTLogin {
	s.mu.Lock()
	s.nextLogin++
	n := strconv.Itoa(s.nextLogin)
	s.mu.Unlock()
	ttl := o.TTL
	if ttl == 0 {
		ttl = defaultLoginTTL
	}
	l := ChatGPTLogin{Account: codexhome.Account{
		AccountID: orDefault(o.AccountID, "account-"+n),
		UserID:    orDefault(o.UserID, "user-"+n),
		Email:     orDefault(o.Email, "user"+n+"@example.com"),
		PlanType:  orDefault(o.PlanType, "plus"),
		FedRAMP:   o.FedRAMP,
	}}
	now := o.IssuedAt
	if now.IsZero() {
		now = s.now()
	}
	idToken, err := s.sign(jwt.MapClaims{
		"iss":                         agentidentity.ChatGPTLoginIssuer,
		"aud":                         []string{"app_identitytest"},
		"sub":                         l.UserID,
		"iat":                         now.Unix(),
		"exp":                         now.Add(ttl).Unix(),
		"email":                       l.Email,
		"https://api.openai.com/auth": authClaims(l.Account),
	}, "")
	if err != nil {
		panic(err.Error())
	}
	accessToken := s.mintAccessJWT(kindLogin, l.Account, now, ttl)
	refreshToken := "rt-" + randomToken()
	l.IDToken, l.AccessToken, l.RefreshToken = codexhome.NewSecret(idToken), accessToken, codexhome.NewSecret(refreshToken)
	// The logins a refresh makes live TTL, or the default when the login
	// was minted expired.
	refreshTTL := ttl
	if refreshTTL < 0 {
		refreshTTL = defaultLoginTTL
	}
	s.mu.Lock()
	s.refreshTokens[refreshToken] = &refreshState{login: l, ttl: refreshTTL}
	s.mu.Unlock()
	return l
}

// defaultLoginTTL is the lifetime of a login's tokens when LoginOptions.TTL
// is 0.
const defaultLoginTTL = time.Hour

// authClaims is the "https://api.openai.com/auth" claim of a ChatGPT
// login's tokens for account.
func authClaims(account codexhome.Account) map[string]any {
	auth := map[string]any{
		"chatgpt_account_id": account.AccountID,
		"chatgpt_user_id":    account.UserID,
		"chatgpt_plan_type":  account.PlanType,
	}
	if account.FedRAMP {
		auth["chatgpt_account_is_fedramp"] = true
	}
	return auth
}

// mintAccessJWT mints a ChatGPT access JWT for account, issued at iat and
// expiring at iat+ttl, and remembers it as a Bearer token of kind. It
// panics only if the signing key cannot be made (crypto/rand failing).
func (s *Server) mintAccessJWT(kind bearerKind, account codexhome.Account, iat time.Time, ttl time.Duration) codexhome.Secret {
	exp := iat.Add(ttl)
	tok, err := s.sign(jwt.MapClaims{
		"iss":                         agentidentity.ChatGPTLoginIssuer,
		"aud":                         []string{"https://api.openai.com/v1"},
		"sub":                         account.UserID,
		"iat":                         iat.Unix(),
		"exp":                         exp.Unix(),
		"jti":                         randomToken(),
		"https://api.openai.com/auth": authClaims(account),
	}, "")
	if err != nil {
		panic(err.Error())
	}
	s.mu.Lock()
	// The JWT says "exp" in whole seconds; the server holds the token to
	// the same second.
	s.bearers[tok] = &bearer{kind: kind, account: account, exp: time.Unix(exp.Unix(), 0)}
	s.mu.Unlock()
	return codexhome.NewSecret(tok)
}

// MintAgentJWT registers a new agent (with a fresh Ed25519 key) for the
// account of o and returns an RS256 Agent Identity JWT for it with the
// claims of docs/protocol.md#jwt-claims, signed by the key in the server's JWKS. The agent can
// then register tasks and sign first-party requests.
func (s *Server) MintAgentJWT(o JWTOptions) (codexhome.Secret, error) {
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		return codexhome.Secret{}, fmt.Errorf("identitytest: %w", err)
	}
	pub, err := gateway.ParsePublicKeySSH(km.PublicKeySSH)
	if err != nil {
		return codexhome.Secret{}, fmt.Errorf("identitytest: %w", err)
	}
	s.mu.Lock()
	n := strconv.Itoa(s.nextAgent + 1)
	s.mu.Unlock()
	acct := o.Account
	acct.AccountID = orDefault(acct.AccountID, "account-jwt-"+n)
	acct.UserID = orDefault(acct.UserID, "user-jwt-"+n)
	acct.PlanType = orDefault(acct.PlanType, "plus")
	a := s.addAgent(pub, acct)

	iat := o.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	claims := jwt.MapClaims{
		"iss":                        orDefault(o.Issuer, s.Issuer),
		"aud":                        orDefault(o.Audience, s.Audience),
		"iat":                        iat.Unix(),
		"agent_runtime_id":           a.runtimeID,
		"agent_private_key":          km.PrivateKeyPKCS8Base64.Reveal(),
		"account_id":                 acct.AccountID,
		"chatgpt_user_id":            acct.UserID,
		"plan_type":                  acct.PlanType,
		"chatgpt_account_is_fedramp": acct.FedRAMP,
	}
	if acct.Email != "" {
		claims["email"] = acct.Email
	}
	if !o.OmitExp {
		claims["exp"] = iat.Add(ttl).Unix()
	}
	tok, err := s.sign(claims, o.KeyID)
	return codexhome.NewSecret(tok), err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// randomToken returns 32 random bytes in unpadded base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddAgent registers an agent with the public key publicKeySSH
// ("ssh-ed25519 AAAA…") directly on the server, as if agent registration
// had succeeded for account (empty fields get the defaults of
// LoginOptions), and returns its runtime id. It needs no tokens and no RSA
// key.
func (s *Server) AddAgent(publicKeySSH string, account codexhome.Account) (string, error) {
	pub, err := gateway.ParsePublicKeySSH(publicKeySSH)
	if err != nil {
		return "", fmt.Errorf("identitytest: %w", err)
	}
	s.mu.Lock()
	n := strconv.Itoa(s.nextAgent + 1)
	s.mu.Unlock()
	account.AccountID = orDefault(account.AccountID, "account-"+n)
	account.UserID = orDefault(account.UserID, "user-"+n)
	account.PlanType = orDefault(account.PlanType, "plus")
	a := s.addAgent(pub, account)
	return a.runtimeID, nil
}
