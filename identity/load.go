package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/golang-jwt/jwt/v5"
)

// EnvAccessToken is the environment variable that carries a standalone Agent
// Identity JWT; it takes precedence over everything in auth.json.
const EnvAccessToken = "CODEX_ACCESS_TOKEN"

// Defaults for the abom of an agent registered by [Load].
const (
	defaultAgentVersion    = "0.1.0"
	defaultAgentHarnessID  = "agentidentity-go"
	defaultRunningLocation = "local"
)

// LoadOptions configures [Load]. The zero value loads from $CODEX_HOME (or
// ~/.codex) with the policy of its config.toml.
type LoadOptions struct {
	// CodexHome is the folder of auth.json and config.toml; "" means
	// $CODEX_HOME, else ~/.codex.
	CodexHome string
	// Policy says whether a ChatGPT login may register or reuse an identity;
	// the zero value takes it from config.toml: PolicyChatGPTAuth when
	// [features] use_agent_identity = true, else PolicyJWTOnly.
	Policy Policy
	// Getenv reads environment variables (CODEX_HOME, CODEX_ACCESS_TOKEN,
	// the endpoint overrides, the workload identity variables); nil means
	// os.Getenv (but see LookupEnv). A variable it answers "" for counts as
	// unset.
	Getenv func(string) string
	// LookupEnv, if set, is used instead of Getenv, and tells a variable set
	// to "" from one that is unset, as os.LookupEnv does (a workload
	// identity is selected by the presence of its variables, even empty
	// ones). With neither set, os.LookupEnv is used.
	LookupEnv func(string) (string, bool)
	// HTTPClient is used for every request Load and the returned RunAuth
	// make themselves (JWKS, agent and task registration, token refresh,
	// routing discovery, the personal access token lookup); nil means a
	// default with time-outs that trusts the system roots (and SSL_CERT_FILE)
	// plus, as the Codex CLI does, the PEM bundle CODEX_CA_CERTIFICATE names.
	// Redirects are never followed with credentials.
	HTTPClient *http.Client
	// ChatGPTBaseURL overrides config.toml's chatgpt_base_url; "" means the
	// config's value, else https://chatgpt.com/backend-api.
	ChatGPTBaseURL string
	// TaskInMemoryOnly keeps the run task of a provisioned identity in memory:
	// it is not written to auth.json, a stored one is not reused, and it is
	// registered on first use (not while provisioning), so every run
	// registers its own task.
	TaskInMemoryOnly bool
	// AgentVersion, AgentHarnessID and RunningLocation fill the abom of a new
	// agent registration; "" means this module's own: "0.1.0", "agentidentity-go"
	// and "local".
	AgentVersion, AgentHarnessID, RunningLocation string
	// Logger receives the few events worth a line; nil discards them.
	Logger *slog.Logger

	// UnsafeTokenExchangeURL is for tests only: the workload identity token
	// exchange goes to this URL (https, or plain http to a loopback host)
	// instead of the environment's token endpoint, and a ChatGPT base URL
	// outside production and staging (a custom deployment, a fake
	// backend) is accepted for a workload identity. The workload's
	// assertion is sent there: never set it outside a test.
	UnsafeTokenExchangeURL string
}

// Load turns a $CODEX_HOME and the environment into run-scoped auth, with
// the precedence of the Codex CLI 0.171 (docs/protocol.md#source-precedence):
//
//  0. a workload identity, selected when OPENAI_FEDERATION_RULE_ID or
//     OPENAI_IDENTITY_TOKEN_FILE is set (docs/protocol.md#workload-identity);
//  1. $CODEX_ACCESS_TOKEN (trimmed): a personal access token when it starts
//     with "at-", else an Agent Identity JWT, verified against the
//     environment's JWKS; nothing is written;
//  2. a personal access token stored in auth.json (personal_access_token,
//     as `codex login --with-access-token` writes it);
//  3. an Agent Identity JWT stored in auth.json, verified as in 1;
//  4. with [PolicyChatGPTAuth] only, an identity record stored in auth.json,
//     reused when its account_id and chatgpt_user_id match the current
//     ChatGPT login and its key parses;
//  5. with [PolicyChatGPTAuth] and a ChatGPT login: a new key, an agent
//     registration with the login's access token (refreshed first when it
//     expires in less than 5 minutes, and once more after a 401, as the
//     Codex CLI does: docs/protocol.md#refresh-before-register), the run
//     task's registration (unless TaskInMemoryOnly), and the record saved
//     to auth.json under its lock. The file is read
//     again before it is written; if the login changed meanwhile nothing is
//     saved and Load fails (call it again).
//
// A personal access token (1 and 2; docs/protocol.md#personal-access-tokens)
// is looked up once (GET {AuthAPI}/v1/user-auth-credential/whoami, the
// AuthAPI base of the environment or CODEX_AUTHAPI_BASE_URL), and the
// returned RunAuth sends it as Bearer with the answer's ChatGPT-Account-ID
// (and X-OpenAI-Fedramp: true for a FedRAMP account) on every first-party
// request, inference included, after workspace routing discovery. Such a
// run has no agent ([RunAuth.AgentRuntimeID] is "", TaskID fails), never
// provisions one whatever the policy, and writes nothing. A lookup that
// fails fails Load with an error wrapping [ErrPersonalAccessTokenLookup]:
// the selected source never falls back to another.
//
// A workload identity (0) exchanges the workload's assertion (the token
// file's content, read again for every exchange) for a ChatGPT access
// token at the token endpoint of the production or staging environment
// (POST /oauth/token, a form in the Codex CLI's member order and
// encoding; only [LoadOptions].UnsafeTokenExchangeURL, for tests, sends it
// elsewhere). Load makes the first exchange; the returned RunAuth uses the
// token as a personal access token's (Bearer with ChatGPT-Account-ID on
// every first-party route, routing discovery included), keeps it in memory
// only, and exchanges again before it lapses: one exchange at a time for
// any number of callers, the current token kept through a failed exchange
// while it is valid. A configuration that is incomplete or refused fails
// Load before any request with an error wrapping
// [ErrWorkloadIdentityConfig] that names what is wrong; a rejected or
// invalid exchange with one wrapping [ErrWorkloadIdentity]. Nothing of
// auth.json is read then, and no agent is provisioned.
//
// With no identity to use, the error wraps [ErrNoAgentIdentity] and callers
// fall back to bearer auth. A JWT that fails verification fails Load itself;
// a corrupt auth.json wraps [codexhome.ErrCorruptAuthFile], never ErrNoAgentIdentity.
// A bootstrap that failed with [ErrBootstrapUnavailable] is not retried for
// an hour per (account, AuthAPI base): the remembered error is returned as a
// [*BackoffError].
//
// An identity used through a ChatGPT login (4 and 5) runs in ChatGPT opt-in
// mode ([RunAuthOptions].ChatGPTBearer, docs/protocol.md#route-credentials): only inference is signed, other
// first-party requests carry the login's current access token as Bearer,
// and inference waits for workspace routing discovery
// ([RunAuth.InferenceBaseURL]). A JWT (1 and 3) signs every first-party
// request and makes no discovery.
//
// The environment comes from the ChatGPT base URL and the override
// variables (see agentidentity.ResolveWithOverrides); the returned auth only
// sends credentials to that environment's ChatGPT backend origin, and
// AgentAssertion on inference to the origin of config.toml's
// openai_base_url when it is another origin of the same environment (in
// both modes, as the Codex CLI sends model traffic there; see
// [RunAuth.InferenceBaseURL]). An openai_base_url that does not pass that
// rule fails Load with an error wrapping [agentidentity.ErrInvalidBaseURL].
func Load(ctx context.Context, opts LoadOptions) (*RunAuth, error) {
	getenv, lookup := opts.Getenv, opts.LookupEnv
	switch {
	case lookup != nil:
		getenv = func(k string) string { v, _ := lookup(k); return v }
	case getenv != nil:
		lookup = func(k string) (string, bool) { v := getenv(k); return v, v != "" }
	default:
		getenv, lookup = os.Getenv, os.LookupEnv
	}
	opts.Getenv = getenv // for the loader's own reads
	workload, workloadSelected, workloadErr := workloadFromEnv(lookup)
	if workloadErr != nil {
		return nil, workloadErr // nothing else is tried (docs/protocol.md#source-precedence)
	}
	if opts.HTTPClient == nil {
		var err error
		if opts.HTTPClient, err = caHTTPClient(getenv); err != nil {
			return nil, err
		}
	}
	home := opts.CodexHome
	if home == "" {
		h, err := codexhome.DefaultDir(getenv)
		if err != nil {
			return nil, err
		}
		home = h
	}
	cfg, err := codexhome.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	policy := opts.Policy
	switch policy {
	case 0:
		policy = PolicyFromConfig(cfg)
	case PolicyJWTOnly, PolicyChatGPTAuth:
	default:
		return nil, fmt.Errorf("identity: unknown policy %d", int(policy))
	}
	base := opts.ChatGPTBaseURL
	if base == "" {
		base = cfg.ChatGPTBaseURL
	}
	if base == "" {
		base = agentidentity.DefaultChatGPTBaseURL
	}
	overrides := agentidentity.OverridesFromEnv(getenv)
	env, err := agentidentity.ResolveWithOverrides(base, overrides)
	if err != nil {
		if workloadSelected {
			return nil, workloadConfigError(err, msgTrustedRouting)
		}
		return nil, fmt.Errorf("identity: chatgpt_base_url: %w", err)
	}
	var inferenceOrigin string
	if cfg.OpenAIBaseURL != "" {
		if inferenceOrigin, err = checkOpenAIBaseURL(cfg.OpenAIBaseURL, env, overrides); err != nil {
			return nil, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &loader{
		opts:            opts,
		env:             env,
		inferenceOrigin: inferenceOrigin,
		store:           codexhome.OpenStore(home),
		client:          &Client{AuthAPIBaseURL: env.AuthAPIBaseURL, Environment: env, HTTPClient: opts.HTTPClient},
		logger:          logger,
	}

	if workloadSelected {
		endpoint, err := tokenEndpoint(base, opts.UnsafeTokenExchangeURL)
		if err != nil {
			return nil, err
		}
		return l.fromWorkloadIdentity(ctx, workload, endpoint)
	}
	pat := func(tok codexhome.Secret, where string) (*RunAuth, error) {
		endpoint, err := l.whoamiURL(getenv, base)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrPersonalAccessTokenLookup, where, err)
		}
		return l.fromPersonalAccessToken(ctx, tok, where, endpoint)
	}
	if tok := strings.TrimSpace(getenv(EnvAccessToken)); tok != "" {
		if isPersonalAccessToken(tok) {
			return pat(codexhome.NewSecret(tok), "$"+EnvAccessToken)
		}
		return l.fromJWT(ctx, codexhome.NewSecret(tok), "$"+EnvAccessToken)
	}
	af, err := l.store.Read()
	if err != nil {
		return nil, err
	}
	if tok, ok, err := storedPersonalAccessToken(af); err != nil {
		return nil, err
	} else if ok {
		return pat(tok, "auth.json's personal_access_token")
	}
	if tok := af.AgentIdentityJWT(); !tok.IsZero() {
		return l.fromJWT(ctx, tok, "the agent_identity JWT in auth.json")
	}
	if policy != PolicyChatGPTAuth {
		return nil, fmt.Errorf("%w: no Agent Identity JWT in $%s or auth.json (a ChatGPT login can provision one when [features] use_agent_identity = true in config.toml)", ErrNoAgentIdentity, EnvAccessToken)
	}
	login, err := af.ChatGPTLogin()
	if err != nil {
		return nil, err
	}
	if login == nil || login.AccessToken.IsZero() || login.AccountID == "" || login.UserID == "" {
		return nil, fmt.Errorf("%w: no Agent Identity JWT and no complete ChatGPT login (account and user id, access token) in auth.json", ErrNoAgentIdentity)
	}
	if rec := af.AgentIdentityRecord(); rec != nil && recordMatches(rec, login) {
		if ra, err := l.fromRecord(rec, login); err == nil {
			return ra, nil
		} else {
			logger.Warn("agent identity: the stored identity cannot be used; provisioning a new one",
				slog.String("agent_runtime_id", rec.AgentRuntimeID), slog.String("error", err.Error()))
		}
	}
	key := cooldownKey{accountID: login.AccountID, authAPIBase: env.AuthAPIBaseURL}
	if err := processBootstrapCooldown.check(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create CODEX_HOME: %w", err)
	}
	ra, err := l.provision(ctx, login)
	if err != nil {
		processBootstrapCooldown.record(key, err)
		return nil, err
	}
	processBootstrapCooldown.forget(key)
	return ra, nil
}

type loader struct {
	opts            LoadOptions
	env             agentidentity.Environment
	inferenceOrigin string // openai_base_url's origin, if not the base's
	store           *codexhome.Store
	client          *Client
	logger          *slog.Logger
}

// runAuth makes the RunAuth of a loaded identity; the first-party origin
// comes from the Client's Environment.
func (l *loader) runAuth(s *Signer, o RunAuthOptions, in runInternals) (*RunAuth, error) {
	o.Logger = l.logger
	in.inferenceOrigin = l.inferenceOrigin
	return newRunAuth(s, l.client, o, in)
}

// fromJWT verifies a standalone Agent Identity JWT; its task lives in memory.
func (l *loader) fromJWT(ctx context.Context, token codexhome.Secret, where string) (*RunAuth, error) {
	v := &JWTVerifier{JWKSURL: l.env.JWKSURL, Issuer: l.env.Issuer, Audience: l.env.Audience, HTTPClient: l.opts.HTTPClient}
	claims, err := v.Verify(ctx, token)
	if errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, ErrJWTExpired) {
		return nil, fmt.Errorf("identity: %s: %w: %w", where, ErrJWTExpired, err)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", where, err)
	}
	s, err := NewSigner(claims.AgentRuntimeID, claims.AgentPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: agent key: %w", where, err)
	}
	o := RunAuthOptions{Account: claims.Account}
	if claims.ExpiresAt != nil {
		o.Expiry = claims.ExpiresAt.Time
	}
	return l.runAuth(s, o, runInternals{})
}

func recordMatches(rec *codexhome.AgentIdentityRecord, login *codexhome.ChatGPTLogin) bool {
	return rec.AccountID == login.AccountID && rec.UserID == login.UserID
}

// fromRecord reuses a stored record, and its stored task unless tasks are
// kept in memory only.
func (l *loader) fromRecord(rec *codexhome.AgentIdentityRecord, login *codexhome.ChatGPTLogin) (*RunAuth, error) {
	s, err := NewSigner(rec.AgentRuntimeID, rec.AgentPrivateKey)
	if err != nil {
		return nil, err
	}
	// ChatGPT opt-in mode (docs/protocol.md#route-credentials): inference is signed, other first-party
	// requests carry the login's Bearer token, and inference waits for
	// workspace routing discovery.
	refresher := l.refresher(login)
	token := secretSource(refresher.token)
	o := RunAuthOptions{Account: rec.Account, BearerFallback: token, ChatGPTBearer: token}
	in := runInternals{recoverBearer: refresher.recoverRejected}
	if !l.opts.TaskInMemoryOnly {
		if rec.TaskID != "" && ValidateTaskID(rec.TaskID) == nil {
			o.TaskID = rec.TaskID
		}
		o.SaveTask = l.taskSaver(rec.AgentRuntimeID)
		in.renewTask = l.taskRenewer(rec.AgentRuntimeID)
	}
	return l.runAuth(s, o, in)
}

// accessToken returns the bearer token source of an identity of login: the
// access token of the ChatGPT login in auth.json now, as long as it is still
// the login the identity belongs to, refreshed first when it expires in
// less than 5 minutes (see loginRefresher; the Codex CLI may also have
// refreshed it).
func (l *loader) refresher(login *codexhome.ChatGPTLogin) *loginRefresher {
	getenv := l.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	endpoint := getenv(EnvRefreshTokenURLOverride) // verbatim, as the Codex CLI reads it
	if endpoint == "" {
		endpoint = defaultRefreshTokenURL
	}
	r := &loginRefresher{store: l.store, login: login, url: endpoint,
		client: refreshClient(l.opts.HTTPClient), logger: l.logger, ledger: processRefreshes}
	return r
}

// taskSaver stores a newly registered run task in the record of the agent
// runtimeID, if that record is still the one in auth.json.
func (l *loader) taskSaver(runtimeID string) func(context.Context, string) error {
	return func(ctx context.Context, taskID string) error {
		return l.store.Update(ctx, func(f *codexhome.AuthFile) error {
			rec := f.AgentIdentityRecord()
			if rec == nil || rec.AgentRuntimeID != runtimeID {
				return errors.New("identity: auth.json no longer holds this agent's record")
			}
			rec.TaskID = taskID
			return f.SetAgentIdentityRecord(rec)
		})
	}
}

// taskRenewer replaces a run task the backend refused (heal.go). Our
// processes take turns through the module's lock, so that a task ended for
// several of them is replaced once: each re-reads auth.json and adopts the
// task another process saved meanwhile (unless stale says it was refused
// already); the first registers a new task and saves it in the agent's
// record under auth.json.lock. A task that cannot be saved (the record is
// gone) is still used, in memory.
func (l *loader) taskRenewer(runtimeID string) func(context.Context, func(string) bool, func(context.Context) (string, error)) (string, error) {
	return func(ctx context.Context, stale func(string) bool, register func(context.Context) (string, error)) (string, error) {
		var id string
		err := l.store.Coordinate(ctx, func() error {
			f, err := l.store.Read()
			if err != nil {
				return err
			}
			if rec := f.AgentIdentityRecord(); rec != nil && rec.AgentRuntimeID == runtimeID &&
				rec.TaskID != "" && !stale(rec.TaskID) && ValidateTaskID(rec.TaskID) == nil {
				id = rec.TaskID // another process replaced it meanwhile
				return nil
			}
			if id, err = register(ctx); err != nil {
				return err
			}
			if serr := l.taskSaver(runtimeID)(ctx, id); serr != nil {
				l.logger.Warn("agent identity: the replacement run task could not be saved; it is used in memory only",
					slog.String("agent_runtime_id", runtimeID), slog.String("error", serr.Error()))
			}
			return nil
		})
		return id, err
	}
}

// provision registers a new agent and its run task for login and saves the
// record. Concurrent processes of this module take turns through the
// module's own lock file, so they register one identity between them;
// auth.json.lock is taken only to commit.
func (l *loader) provision(ctx context.Context, login *codexhome.ChatGPTLogin) (*RunAuth, error) {
	var (
		result  *codexhome.AgentIdentityRecord
		created bool
	)
	// existing returns the identity f already holds for login (nil if none),
	// or an error when f holds something we must not overwrite.
	existing := func(f *codexhome.AuthFile) (*codexhome.AgentIdentityRecord, error) {
		cur, err := f.ChatGPTLogin()
		if err != nil {
			return nil, err
		}
		if !sameLogin(cur, login) {
			return nil, errLoginChanged
		}
		if !f.AgentIdentityJWT().IsZero() {
			return nil, errors.New("identity: auth.json gained an Agent Identity JWT while loading; load again")
		}
		if rec := f.AgentIdentityRecord(); rec != nil && recordMatches(rec, cur) {
			if _, err := NewSigner(rec.AgentRuntimeID, rec.AgentPrivateKey); err == nil {
				return rec, nil
			}
		}
		return nil, nil
	}
	// Our processes take turns through the module's own lock; the Codex
	// CLI's auth.json.lock is held only for the read-modify-write at the
	// end, never across the registration calls (Codex gives up on it after
	// about 5 s and registers again, leaving orphan agents).
	err := l.store.Coordinate(ctx, func() error {
		cur, err := l.store.Read()
		if err != nil {
			return err
		}
		rec, err := existing(cur)
		if err != nil {
			return err
		}
		if rec != nil {
			// Another process provisioned it while we waited for our turn.
			result = rec
			return nil
		}
		curLogin, err := cur.ChatGPTLogin()
		if err != nil {
			return err
		}
		rec, err = l.register(ctx, curLogin)
		if err != nil {
			return err
		}
		// Commit under auth.json.lock, on the file as it is now: a writer
		// that does not take our lock (a Codex CLI refreshing its tokens or
		// provisioning by itself) may have changed it while we talked to the
		// backend. Never save for a login that is gone, and never write over
		// an identity that writer saved: use it instead (the agent just
		// registered stays unused).
		return l.store.Update(ctx, func(f *codexhome.AuthFile) error {
			theirs, err := existing(f)
			if err != nil {
				return err
			}
			if theirs != nil {
				result = theirs
				return nil
			}
			saved := *rec
			if l.opts.TaskInMemoryOnly {
				saved.TaskID = ""
			}
			if err := f.SetAgentIdentityRecord(&saved); err != nil {
				return err
			}
			result, created = rec, true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if created {
		l.logger.Info("agent identity: provisioned and saved a new identity",
			slog.String("agent_runtime_id", result.AgentRuntimeID), slog.String("auth_file", l.store.Path()))
	}
	return l.fromRecord(result, login)
}

// register makes a key, registers the agent with the ChatGPT access token
// (refreshed first when it is about to expire: registerAgent), and
// registers the run task. The caller holds the store's Coordinate lock.
func (l *loader) register(ctx context.Context, login *codexhome.ChatGPTLogin) (*codexhome.AgentIdentityRecord, error) {
	km, err := GenerateKeyMaterial()
	if err != nil {
		return nil, err
	}
	reg := AgentRegistration{
		AgentVersion:    orDefault(l.opts.AgentVersion, defaultAgentVersion),
		AgentHarnessID:  orDefault(l.opts.AgentHarnessID, defaultAgentHarnessID),
		RunningLocation: orDefault(l.opts.RunningLocation, defaultRunningLocation),
		PublicKeySSH:    km.PublicKeySSH,
		FedRAMP:         login.FedRAMP,
	}
	runtimeID, err := l.registerAgent(ctx, login, reg)
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(runtimeID, km.PrivateKeyPKCS8Base64)
	if err != nil {
		return nil, err
	}
	// The run task is registered with the identity, so that it is saved with
	// it; a task kept in memory only is registered on first use instead.
	var taskID string
	if !l.opts.TaskInMemoryOnly {
		if taskID, err = l.client.RegisterTask(ctx, s); err != nil {
			return nil, err
		}
	}
	return &codexhome.AgentIdentityRecord{
		AgentRuntimeID:  runtimeID,
		AgentPrivateKey: km.PrivateKeyPKCS8Base64,
		Account:         login.Account,
		TaskID:          taskID,
	}, nil
}

func sameLogin(a, b *codexhome.ChatGPTLogin) bool {
	return a != nil && b != nil && a.AccountID == b.AccountID && a.UserID == b.UserID
}
