package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/cacert"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// statusReport is what status prints. Secrets appear only as "present",
// "absent" or "<redacted>".
type statusReport struct {
	// OK is false when status exits 1: Problems say why.
	OK              bool              `json:"ok"`
	CodexHome       string            `json:"codex_home"`
	CodexHomeExists bool              `json:"codex_home_exists"`
	Config          statusConfig      `json:"config"`
	Environment     statusEnv         `json:"environment"`
	AuthFile        statusAuthFile    `json:"auth_file"`
	AgentIdentity   statusAgent       `json:"agent_identity"`
	ChatGPTLogin    statusLogin       `json:"chatgpt_login"`
	Variables       map[string]string `json:"variables"`
	// AccessToken is the check of $CODEX_ACCESS_TOKEN, when it is set.
	AccessToken *statusToken `json:"access_token,omitempty"`
	// WorkloadIdentity is the check of a selected workload identity.
	WorkloadIdentity *statusWorkload `json:"workload_identity,omitempty"`
	// Usable names what a client of this home would authenticate with
	// ("" when nothing: status exits 1).
	Usable   string   `json:"usable"`
	Problems []string `json:"problems,omitempty"`
	// Error and Hint are set when status exits 1 (the line on standard
	// error).
	Error string `json:"error,omitempty"`
	Hint  string `json:"hint,omitempty"`

	problems []statusProblem
}

// statusProblem is one reason status exits 1.
type statusProblem struct{ msg, hint string }

// statusToken is the check of a standalone Agent Identity JWT (from
// $CODEX_ACCESS_TOKEN), claims decoded WITHOUT verification.
type statusToken struct {
	// State is "ok", "expired", "malformed" or "wrong-kind" (a token that is
	// not an Agent Identity JWT: a ChatGPT access token, a personal access
	// token).
	State string `json:"state"`
	// Kind is what an "ok" token is: "agent-identity-jwt" or
	// "personal-access-token".
	Kind           string `json:"kind,omitempty"`
	Detail         string `json:"detail,omitempty"`
	ExpiresAt      string `json:"expires_at,omitempty"`
	AgentRuntimeID string `json:"agent_runtime_id,omitempty"`
	AccountID      string `json:"account_id,omitempty"`
}

// statusWorkload is a workload identity, selected by
// OPENAI_FEDERATION_RULE_ID or OPENAI_IDENTITY_TOKEN_FILE (set, even to
// ""): it wins over every other credential.
type statusWorkload struct {
	FederationRuleID string `json:"federation_rule_id,omitempty"`
	// TokenSource is "file" or "spiffe" (OPENAI_IDENTITY_TOKEN_SOURCE).
	TokenSource string `json:"token_source"`
	TokenFile   string `json:"token_file,omitempty"`
	// Error is what Load would refuse it for ("" when it would exchange
	// it).
	Error string `json:"error,omitempty"`
}

type statusConfig struct {
	Path             string `json:"path"`
	Exists           bool   `json:"exists"`
	ChatGPTBaseURL   string `json:"chatgpt_base_url"`
	OpenAIBaseURL    string `json:"openai_base_url,omitempty"`
	UseAgentIdentity bool   `json:"use_agent_identity"`
	Policy           string `json:"policy"`
}

type statusEnv struct {
	Name           string `json:"name,omitempty"`
	AuthAPIBaseURL string `json:"authapi_base_url,omitempty"`
	JWKSURL        string `json:"jwks_url,omitempty"`
	Error          string `json:"error,omitempty"`
}

type statusAuthFile struct {
	// Store is cli_auth_credentials_store; HeldBy says where the
	// credentials were found: "file", "keyring" or "ephemeral".
	Store        string `json:"credentials_store"`
	HeldBy       string `json:"held_by,omitempty"`
	Path         string `json:"path"`
	Exists       bool   `json:"exists"`
	Mode         string `json:"mode,omitempty"`
	AuthMode     string `json:"auth_mode,omitempty"`
	OpenAIAPIKey string `json:"openai_api_key"`
	// PersonalAccessToken is "present" or "absent": the
	// personal_access_token member `codex login --with-access-token`
	// writes.
	PersonalAccessToken string `json:"personal_access_token"`
	Error               string `json:"error,omitempty"`
}

type statusAgent struct {
	// Form is "none", "jwt" (a standalone Agent Identity JWT) or "record"
	// (an identity registered through the ChatGPT login).
	Form           string `json:"form"`
	AgentRuntimeID string `json:"agent_runtime_id,omitempty"`
	AccountID      string `json:"account_id,omitempty"`
	UserID         string `json:"chatgpt_user_id,omitempty"`
	PlanType       string `json:"plan_type,omitempty"`
	FedRAMP        bool   `json:"fedramp,omitempty"`
	TaskID         string `json:"task_id,omitempty"`
	PrivateKey     string `json:"private_key,omitempty"`
	Token          string `json:"token,omitempty"`
	// MatchesLogin says whether a record belongs to the current ChatGPT
	// login (only then is it reused).
	MatchesLogin *bool  `json:"matches_login,omitempty"`
	Note         string `json:"note,omitempty"`
	// ExpiresAt and Expired are those of a stored JWT.
	ExpiresAt string `json:"expires_at,omitempty"`
	Expired   bool   `json:"expired,omitempty"`
}

type statusLogin struct {
	Present     bool   `json:"present"`
	AccountID   string `json:"account_id,omitempty"`
	UserID      string `json:"chatgpt_user_id,omitempty"`
	Email       string `json:"email,omitempty"`
	PlanType    string `json:"plan_type,omitempty"`
	FedRAMP     bool   `json:"fedramp,omitempty"`
	AccessToken string `json:"access_token,omitempty"`
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

func newStatusCmd(c *cli) *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "status [--codex-home DIR] [flags]",
		Short: "Show what $CODEX_HOME holds and whether it is usable, secrets redacted",
		Long: `Show what $CODEX_HOME (or --codex-home) holds for Agent Identity: config.toml
(chatgpt_base_url, use_agent_identity), the environment it resolves to,
auth.json (auth mode, which agent_identity form, runtime id, account, task id),
whether a ChatGPT login is present, which variables are set, and what a client
would authenticate with. No network request is made. Secrets are shown only as
"present", "absent" or "<redacted>"; JWT claims are decoded WITHOUT
verification.

What it shows is checked: a $` + identity.EnvAccessToken + ` or stored JWT that has
expired (with when), is malformed or is not an Agent Identity JWT at all, a
Codex home that does not exist, or a file that cannot be read or parsed is a
problem. A personal access token (at-…, in $` + identity.EnvAccessToken + ` or as
auth.json's personal_access_token) is usable; its metadata lookup is not
made. A workload identity (` + envFederationRuleID + ` or ` + envIdentityTokenFile + `
set, even to "") wins over every other credential: it is checked as Load
checks it (the variables, the token file, the base URL), up to the token
exchange, which is not made; a configuration Load refuses is a problem. status exits 1 when there is a problem or when the home holds no
usable identity or credential (as "gh auth status" does).

JSON (--json): {"ok", "codex_home", "codex_home_exists", "config": {"path",
"exists", "chatgpt_base_url", "openai_base_url", "use_agent_identity",
"policy"}, "environment": {"name", "authapi_base_url", "jwks_url", "error"},
"auth_file": {"credentials_store", "held_by", "keyring", "path", "exists",
"mode", "auth_mode", "members", "openai_api_key", "personal_access_token", "error"}, "agent_identity":
{"form" ("none", "jwt" or "record"), "agent_runtime_id", "account_id",
"chatgpt_user_id", "plan_type", "fedramp", "task_id", "private_key", "token",
"matches_login", "note", "expires_at", "expired"}, "chatgpt_login":
{"present", "account_id", "chatgpt_user_id", "email", "plan_type", "fedramp",
"access_token"}, "variables": {NAME: what it holds}, "access_token": {"state"
("ok", "expired", "malformed" or "wrong-kind"), "kind" ("agent-identity-jwt"
or "personal-access-token"), "detail", "expires_at",
"agent_runtime_id", "account_id"}, "workload_identity": {"federation_rule_id",
"token_source" ("file" or "spiffe"), "token_file", "error"}, "usable",
"problems", "error", "hint"}.`,
		Example: examples("agentid status", "agentid status --codex-home /tmp/codex-fake --json"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := c.codexHome(home)
			if err != nil {
				return err
			}
			rep := collectStatus(c, dir, time.Now())
			if c.json {
				if err := c.writeJSON(rep); err != nil {
					return err
				}
			} else {
				writeStatus(c.stdout, rep)
			}
			if len(rep.problems) > 0 {
				return &hintedError{err: errors.New(rep.Error), hint: rep.Hint}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	_ = cmd.MarkFlagDirname("codex-home")
	c.addJSONFlag(cmd)
	return cmd
}

// checkToken checks a standalone Agent Identity JWT without verifying it.
func checkToken(tok string, now time.Time) *statusToken {
	claims, err := identity.DecodeJWTUnverified(codexhome.NewSecret(tok))
	switch {
	case errors.Is(err, identity.ErrChatGPTAccessToken):
		return &statusToken{State: "wrong-kind", Detail: "a ChatGPT access token, not an Agent Identity JWT"}
	case errors.Is(err, identity.ErrPersonalAccessToken):
		return &statusToken{State: "ok", Kind: kindPersonalAccessToken, Detail: patDetail}
	case err != nil:
		return &statusToken{State: "malformed", Detail: oneLine(stripLibraryPrefixes(err.Error()))}
	}
	t := &statusToken{State: "ok", Kind: "agent-identity-jwt", AgentRuntimeID: claims.AgentRuntimeID, AccountID: claims.AccountID}
	if claims.ExpiresAt != nil {
		exp := claims.ExpiresAt.UTC()
		t.ExpiresAt = exp.Format(time.RFC3339)
		if !now.Before(exp) {
			t.State = "expired"
			t.Detail = fmt.Sprintf("expired at %s (%s ago)", t.ExpiresAt, now.Sub(exp).Round(time.Second))
		}
	}
	return t
}

const (
	kindPersonalAccessToken = "personal-access-token"
	// patDetail says how a personal access token is used.
	patDetail = "personal access token (at-…): sent as Bearer with its account's ChatGPT-Account-ID after one metadata lookup, which status does not make"
)

// storedPAT says whether auth.json holds a personal access token (the
// member "codex login --with-access-token" writes), and what is wrong with
// the member if it is not one.
func storedPAT(af *codexhome.AuthFile) (bool, error) {
	tok, ok := af.PersonalAccessToken()
	switch {
	case !ok:
		return false, nil
	case !strings.HasPrefix(tok.Reveal(), "at-"):
		return false, errors.New("auth.json's personal_access_token does not hold a personal access token (no \"at-\" prefix)")
	}
	return true, nil
}

// describeToken is the text status shows for a token check.
func describeToken(t *statusToken) string {
	switch t.State {
	case "ok":
		if t.Kind == kindPersonalAccessToken {
			return t.Detail
		}
		s := "Agent Identity JWT of agent " + orDash(t.AgentRuntimeID)
		if t.ExpiresAt != "" {
			s += ", expires " + t.ExpiresAt
		}
		return s + " (claims not verified)"
	case "expired":
		return "EXPIRED: " + t.Detail
	case "wrong-kind":
		return "NOT an Agent Identity JWT: " + t.Detail
	default:
		return "MALFORMED: " + t.Detail
	}
}

func collectStatus(c *cli, dir string, now time.Time) *statusReport {
	rep := &statusReport{CodexHome: dir, Variables: map[string]string{}}
	addProblem := func(msg, hint string) {
		msg = oneLine(stripLibraryPrefixes(msg))
		rep.Problems = append(rep.Problems, msg)
		rep.problems = append(rep.problems, statusProblem{msg, hint})
	}
	problem := func(err error, hint string) string {
		if h := autoHint(err); h != "" {
			hint = h
		}
		addProblem(err.Error(), hint)
		return oneLine(stripLibraryPrefixes(err.Error()))
	}
	const (
		fixConfig = "fix config.toml or the override variables"
		fixAuth   = "fix or move auth.json away, then log in again with \"codex login\""
	)
	defer finishStatus(rep)

	switch st, err := os.Stat(dir); {
	case err == nil && st.IsDir():
		rep.CodexHomeExists = true
	case err == nil:
		addProblem(fmt.Sprintf("the Codex home %s is not a folder", dir), "give a folder with --codex-home or $CODEX_HOME")
	case errors.Is(err, fs.ErrNotExist):
		addProblem(fmt.Sprintf("the Codex home %s does not exist", dir), "log in with \"codex login\", or give the right folder with --codex-home or $CODEX_HOME")
	default:
		problem(err, "check the permissions of the Codex home")
	}

	rep.Config.Path = filepath.Join(dir, "config.toml")
	if _, err := os.Stat(rep.Config.Path); err == nil {
		rep.Config.Exists = true
	}
	cfg, err := codexhome.LoadConfig(dir)
	cfgErr := err
	if err != nil {
		rep.Environment.Error = problem(err, fixConfig)
	}
	rep.Config.ChatGPTBaseURL = redactURL(cfg.ChatGPTBaseURL)
	rep.Config.OpenAIBaseURL = redactURL(cfg.OpenAIBaseURL)
	rep.Config.UseAgentIdentity = cfg.UseAgentIdentity
	policy := identity.PolicyFromConfig(cfg)
	rep.Config.Policy = policy.String()
	if err == nil {
		base := cfg.ChatGPTBaseURL
		if base == "" {
			base = agentidentity.DefaultChatGPTBaseURL
		}
		env, err := agentidentity.ResolveWithOverrides(base, agentidentity.OverridesFromEnv(c.getenv))
		if err != nil {
			rep.Environment.Error = problem(err, fixConfig)
		} else {
			rep.Environment = statusEnv{Name: env.Name, AuthAPIBaseURL: redactURL(env.AuthAPIBaseURL), JWKSURL: redactURL(env.JWKSURL)}
		}
	}

	for _, name := range []string{endpointrule.EnvAuthAPIBaseURLNew, endpointrule.EnvAuthAPIBaseURL, endpointrule.EnvJWKSBaseURL, identity.EnvRefreshTokenURLOverride, cacert.EnvCodexCACertificate, cacert.EnvSSLCertFile} {
		if v := c.getenv(name); v != "" {
			rep.Variables[name] = redactURL(v)
		}
	}
	if _, err := cacert.Pool(c.getenv); err != nil {
		addProblem(err.Error(), "point "+cacert.EnvCodexCACertificate+" at a PEM file of CA certificates, or unset it")
	}
	wif := checkWorkload(c, dir, rep, addProblem)
	if tok := strings.TrimSpace(c.getenv(identity.EnvAccessToken)); tok != "" {
		t := checkToken(tok, now)
		rep.AccessToken = t
		rep.Variables[identity.EnvAccessToken] = "present (takes precedence over auth.json): " + describeToken(t)
		switch {
		case wif:
			rep.Variables[identity.EnvAccessToken] = "present, not used (the workload identity wins): " + describeToken(t)
		case t.State == "ok" && t.Kind == kindPersonalAccessToken:
			rep.Usable = "$" + identity.EnvAccessToken + " (" + patDetail + ")"
		case t.State == "ok":
			rep.Usable = "$" + identity.EnvAccessToken
		default:
			addProblem("$"+identity.EnvAccessToken+": "+describeToken(t), "unset it or give a fresh Agent Identity JWT: it takes precedence over auth.json")
		}
	}

	store := codexhome.OpenStore(dir)
	rep.AuthFile.Path = store.Path()
	rep.AgentIdentity.Form = "none"
	rep.AuthFile.OpenAIAPIKey = "absent"
	rep.AuthFile.PersonalAccessToken = "absent"
	if st, err := os.Lstat(store.Path()); err == nil {
		rep.AuthFile.Mode = st.Mode().String()
	} else if !errors.Is(err, fs.ErrNotExist) {
		rep.AuthFile.Error = problem(err, fixAuth)
	}
	if cfgErr == nil {
		rep.AuthFile.Store = string(cfg.CredentialsStore)
		if cfg.CredentialsStore == "" {
			rep.AuthFile.Store = string(codexhome.CredentialsStoreFile)
		}
	}
	af, src, err := store.ReadSource()
	if err != nil {
		rep.AuthFile.Error = problem(err, fixAuth)
		return rep
	}
	rep.AuthFile.HeldBy = string(src)
	rep.AuthFile.Exists = af.Exists()
	rep.AuthFile.AuthMode = af.AuthMode()
	_, hasAPIKey := af.OpenAIAPIKey()
	if hasAPIKey {
		rep.AuthFile.OpenAIAPIKey = "present"
	}

	login, err := af.ChatGPTLogin()
	if err != nil {
		problem(err, fixAuth)
	}
	if login != nil {
		rep.ChatGPTLogin = statusLogin{
			Present: true, AccountID: login.AccountID, UserID: login.UserID,
			Email: login.Email, PlanType: login.PlanType, FedRAMP: login.FedRAMP,
			AccessToken: presence(!login.AccessToken.IsZero()),
		}
	}

	usable := func(what string) {
		if rep.Usable == "" && rep.AccessToken == nil && !wif {
			rep.Usable = what
		}
	}
	// A stored personal access token comes before the other members, as
	// Load takes it.
	if has, err := storedPAT(af); err != nil {
		problem(err, "log in again with \"codex login --with-access-token\", or remove the member")
	} else if has {
		rep.AuthFile.PersonalAccessToken = "present"
		usable("auth.json personal access token (" + patDetail + ")")
	}
	if jwtSecret := af.AgentIdentityJWT(); !jwtSecret.IsZero() {
		tok := jwtSecret.Reveal()
		a := statusAgent{Form: "jwt", Token: redacted, Note: "claims decoded WITHOUT verification"}
		if claims, err := identity.DecodeJWTUnverified(codexhome.NewSecret(tok)); err != nil {
			problem(fmt.Errorf("agent_identity JWT: %w", err), "store a valid Agent Identity JWT in auth.json")
		} else {
			a.AgentRuntimeID, a.AccountID, a.UserID = claims.AgentRuntimeID, claims.AccountID, claims.UserID
			a.PlanType, a.FedRAMP = claims.PlanType, claims.FedRAMP
			a.PrivateKey = presence(!claims.AgentPrivateKey.IsZero())
			t := checkToken(tok, now)
			a.ExpiresAt, a.Expired = t.ExpiresAt, t.State == "expired"
			if a.Expired && rep.AccessToken == nil {
				addProblem("the agent_identity JWT in auth.json "+t.Detail, "store a fresh Agent Identity JWT in auth.json")
			} else if !a.Expired {
				usable("auth.json agent_identity JWT")
			}
		}
		rep.AgentIdentity = a
	} else if rec := af.AgentIdentityRecord(); rec != nil {
		a := statusAgent{
			Form: "record", AgentRuntimeID: rec.AgentRuntimeID, AccountID: rec.AccountID,
			UserID: rec.UserID, PlanType: rec.PlanType, FedRAMP: rec.FedRAMP, TaskID: rec.TaskID,
			PrivateKey: presence(!rec.AgentPrivateKey.IsZero()),
		}
		if !rec.AgentPrivateKey.IsZero() {
			a.PrivateKey = redacted
		}
		m := login != nil && login.AccountID == rec.AccountID && login.UserID == rec.UserID
		a.MatchesLogin = &m
		if m && !rec.AgentPrivateKey.IsZero() && policy == identity.PolicyChatGPTAuth {
			usable("auth.json agent identity record")
		}
		rep.AgentIdentity = a
	}
	if login != nil && !login.AccessToken.IsZero() {
		usable("ChatGPT login (bearer; with use_agent_identity = true, \"agentid provision\" registers an identity)")
	}
	if hasAPIKey {
		usable("OPENAI_API_KEY")
	}
	return rep
}

// Workload identity variables (the Codex CLI's names).
const (
	envFederationRuleID    = "OPENAI_FEDERATION_RULE_ID"
	envIdentityTokenFile   = "OPENAI_IDENTITY_TOKEN_FILE"
	envIdentityTokenSource = "OPENAI_IDENTITY_TOKEN_SOURCE"
)

// checkWorkload reports a selected workload identity and whether Load would
// take it: Load itself checks it, with an HTTP client that sends nothing,
// so the configuration (the variables, the token file, the base URL) passes
// the very checks a run makes, up to the token exchange, which is not made.
// It returns whether a workload identity is selected.
func checkWorkload(c *cli, dir string, rep *statusReport, addProblem func(msg, hint string)) bool {
	rule, hasRule := c.lookup(envFederationRuleID)
	file, hasFile := c.lookup(envIdentityTokenFile)
	if !hasRule && !hasFile {
		return false
	}
	w := &statusWorkload{FederationRuleID: strings.TrimSpace(rule), TokenSource: "file", TokenFile: file}
	if v, ok := c.lookup(envIdentityTokenSource); ok && strings.TrimSpace(v) != "" {
		w.TokenSource = strings.TrimSpace(v)
	}
	rep.WorkloadIdentity = w
	for _, k := range []string{envFederationRuleID, envIdentityTokenFile, envIdentityTokenSource} {
		if v, ok := c.lookup(k); ok {
			rep.Variables[k] = oneLine(v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nothing noRequest
	_, err := identity.Load(ctx, identity.LoadOptions{CodexHome: dir, LookupEnv: c.lookup, HTTPClient: &http.Client{Transport: &nothing}})
	if !nothing.asked.Load() && err != nil {
		w.Error = oneLine(stripLibraryPrefixes(err.Error()))
		addProblem("workload identity refused: "+w.Error, "fix "+envFederationRuleID+", "+envIdentityTokenFile+
			" (an absolute path), the token file or chatgpt_base_url (production or staging only), or unset both variables: a selected workload identity wins over every other credential")
		return true
	}
	rep.Usable = "workload identity (" + workloadDetail + ")"
	return true
}

// workloadDetail says how a workload identity is used.
const workloadDetail = "the token file's assertion is exchanged for a ChatGPT access token, kept in memory and sent as Bearer; status makes no exchange"

// noRequest is the transport of checkWorkload: it sends nothing and notes
// that Load got as far as a request.
type noRequest struct{ asked atomic.Bool }

func (t *noRequest) RoundTrip(r *http.Request) (*http.Response, error) {
	t.asked.Store(true)
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return nil, errors.New("status makes no request")
}

// finishStatus sets the verdict: a problem, or nothing usable, exits 1.
func finishStatus(rep *statusReport) {
	if rep.Usable == "" && len(rep.problems) == 0 {
		msg := fmt.Sprintf("no usable identity or credential in %s", rep.CodexHome)
		rep.Problems = append(rep.Problems, msg)
		rep.problems = append(rep.problems, statusProblem{msg, "log in with \"codex login\" (then \"agentid provision\" with use_agent_identity = true), or set $" + identity.EnvAccessToken})
	}
	rep.OK = len(rep.problems) == 0
	if rep.OK {
		return
	}
	p := rep.problems[0]
	rep.Error, rep.Hint = p.msg, p.hint
	if n := len(rep.problems) - 1; n > 0 {
		rep.Error += fmt.Sprintf(" (and %d more problems, listed on standard output)", n)
	}
}

func writeStatus(w io.Writer, r *statusReport) {
	// Every value may come from a file, a keyring entry or the environment:
	// oneLine keeps control characters from reaching the terminal.
	line := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k, oneLine(v)) }
	if r.CodexHomeExists {
		line("codex_home", r.CodexHome)
	} else {
		line("codex_home", r.CodexHome+" (does not exist)")
	}
	cfg := "absent (defaults)"
	if r.Config.Exists {
		cfg = r.Config.Path
	}
	line("config", cfg)
	line("chatgpt_base_url", orDefault(r.Config.ChatGPTBaseURL, "(default) "+agentidentity.DefaultChatGPTBaseURL))
	if r.Config.OpenAIBaseURL != "" {
		line("openai_base_url", r.Config.OpenAIBaseURL)
	}
	line("use_agent_identity", fmt.Sprint(r.Config.UseAgentIdentity))
	line("policy", r.Config.Policy)
	if r.Environment.Error != "" {
		line("environment", "ERROR: "+r.Environment.Error)
	} else {
		line("environment", r.Environment.Name)
		line("authapi_base_url", r.Environment.AuthAPIBaseURL)
		line("jwks_url", r.Environment.JWKSURL)
	}
	for _, k := range sortedKeys(r.Variables) {
		line("$"+k, r.Variables[k])
	}
	line("credentials_store", orDefault(r.AuthFile.Store, "-"))
	switch {
	case r.AuthFile.Error != "":
		line("credentials", "ERROR: "+r.AuthFile.Error)
	case !r.AuthFile.Exists:
		line("credentials", "absent (store: "+r.AuthFile.HeldBy+")")
	case r.AuthFile.HeldBy == string(codexhome.CredentialsStoreKeyring):
		line("credentials", "in the keyring")
	case r.AuthFile.HeldBy == string(codexhome.CredentialsStoreEphemeral):
		line("credentials", "in this process's memory (ephemeral: nothing persisted)")
	default:
		line("credentials", "in auth.json")
	}
	switch {
	case r.AuthFile.Error != "":
		line("auth.json", "ERROR: "+r.AuthFile.Error)
	case r.AuthFile.Exists && r.AuthFile.HeldBy != string(codexhome.CredentialsStoreFile):
		line("auth_mode", orDash(r.AuthFile.AuthMode))
		line("OPENAI_API_KEY", r.AuthFile.OpenAIAPIKey)
		line("personal_access_token", r.AuthFile.PersonalAccessToken)
	case !r.AuthFile.Exists:
		line("auth.json", "absent")
	default:
		line("auth.json", r.AuthFile.Path+" ("+r.AuthFile.Mode+")")
		line("auth_mode", orDash(r.AuthFile.AuthMode))
		line("OPENAI_API_KEY", r.AuthFile.OpenAIAPIKey)
		line("personal_access_token", r.AuthFile.PersonalAccessToken)
	}
	if r.ChatGPTLogin.Present {
		l := r.ChatGPTLogin
		line("chatgpt_login", fmt.Sprintf("present (account %s, user %s, plan %s, access token %s)", orDash(l.AccountID), orDash(l.UserID), orDash(l.PlanType), l.AccessToken))
	} else {
		line("chatgpt_login", "absent")
	}
	a := r.AgentIdentity
	line("agent_identity", a.Form)
	if a.Form != "none" {
		line("agent_runtime_id", orDash(a.AgentRuntimeID))
		line("account_id", orDash(a.AccountID))
		line("chatgpt_user_id", orDash(a.UserID))
		if a.Form == "record" {
			line("task_id", orDash(a.TaskID))
			line("matches_login", fmt.Sprint(*a.MatchesLogin))
		} else {
			line("token", a.Token+" ("+a.Note+")")
			switch {
			case a.Expired:
				line("expires_at", a.ExpiresAt+" (EXPIRED)")
			case a.ExpiresAt != "":
				line("expires_at", a.ExpiresAt)
			}
		}
		line("private_key", orDash(a.PrivateKey))
	}
	if w := r.WorkloadIdentity; w != nil {
		v := fmt.Sprintf("selected (rule %s, source %s", orDash(w.FederationRuleID), w.TokenSource)
		if w.TokenFile != "" {
			v += ", token file " + w.TokenFile
		}
		v += ")"
		if w.Error != "" {
			v += ": REFUSED: " + w.Error
		}
		line("workload_identity", v)
	}
	line("usable", orDefault(r.Usable, "nothing"))
	for _, p := range r.Problems {
		line("problem", p)
	}
}

// redactURL shows a configured URL through the module's one redaction (user
// info, query and fragment replaced): a password or a token in a URL never
// reaches status output.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	return netrule.Redact(raw)
}
