package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
	"github.com/agentidentity/agentidentity/internal/netrule"
)

// statusReport is what status prints. Secrets appear only as "present",
// "absent" or "<redacted>".
type statusReport struct {
	CodexHome     string            `json:"codex_home"`
	Config        statusConfig      `json:"config"`
	Environment   statusEnv         `json:"environment"`
	AuthFile      statusAuthFile    `json:"auth_file"`
	AgentIdentity statusAgent       `json:"agent_identity"`
	ChatGPTLogin  statusLogin       `json:"chatgpt_login"`
	Variables     map[string]string `json:"variables"`
	Problems      []string          `json:"problems,omitempty"`
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
	Store        string   `json:"credentials_store"`
	HeldBy       string   `json:"held_by,omitempty"`
	Keyring      string   `json:"keyring,omitempty"`
	Path         string   `json:"path"`
	Exists       bool     `json:"exists"`
	Mode         string   `json:"mode,omitempty"`
	AuthMode     string   `json:"auth_mode,omitempty"`
	Members      []string `json:"members,omitempty"`
	OpenAIAPIKey string   `json:"openai_api_key"`
	Error        string   `json:"error,omitempty"`
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

func runStatus(c *cli, args []string) error {
	fset := newFlagSet(c, "status", "[--codex-home DIR] [--json]", `
Show what $CODEX_HOME (or --codex-home) holds for Agent Identity: config.toml
(chatgpt_base_url, use_agent_identity), the environment it resolves to,
auth.json (auth mode, which agent_identity form, runtime id, account, task id),
whether a ChatGPT login is present, and which variables are set. No network
request is made. Secrets are shown only as "present", "absent" or "<redacted>";
a standalone JWT's claims are decoded WITHOUT verification. Exits 1 when a file
cannot be read or parsed.`)
	home := fset.String("codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	asJSON := fset.Bool("json", false, "print JSON")
	if err := c.parse(fset, args, 0); err != nil {
		return err
	}
	dir, err := c.codexHome(*home)
	if err != nil {
		return err
	}
	rep := collectStatus(c, dir)
	if *asJSON {
		if err := writeJSON(c.stdout, rep); err != nil {
			return err
		}
	} else {
		writeStatus(c.stdout, rep)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("status: %s", strings.Join(rep.Problems, "; "))
	}
	return nil
}

func collectStatus(c *cli, dir string) *statusReport {
	rep := &statusReport{CodexHome: dir, Variables: map[string]string{}}
	problem := func(err error) string {
		msg := oneLine(err.Error())
		rep.Problems = append(rep.Problems, msg)
		return msg
	}

	rep.Config.Path = filepath.Join(dir, codexhome.ConfigFileName)
	if _, err := os.Stat(rep.Config.Path); err == nil {
		rep.Config.Exists = true
	}
	cfg, err := codexhome.LoadConfig(dir)
	if err != nil {
		rep.Environment.Error = problem(err)
	}
	rep.Config.ChatGPTBaseURL = redactURL(cfg.ChatGPTBaseURL)
	rep.Config.OpenAIBaseURL = redactURL(cfg.OpenAIBaseURL)
	rep.Config.UseAgentIdentity = cfg.UseAgentIdentity
	rep.Config.Policy = identity.PolicyFromConfig(cfg).String()
	if err == nil {
		base := cfg.ChatGPTBaseURL
		if base == "" {
			base = agentidentity.DefaultChatGPTBaseURL
		}
		env, err := agentidentity.ResolveWithOverrides(base, agentidentity.OverridesFromEnv(c.getenv))
		if err != nil {
			rep.Environment.Error = problem(err)
		} else {
			rep.Environment = statusEnv{Name: env.Name, AuthAPIBaseURL: redactURL(env.AuthAPIBaseURL), JWKSURL: redactURL(env.JWKSURL)}
		}
	}

	for _, name := range []string{endpointrule.EnvAuthAPIBaseURLNew, endpointrule.EnvAuthAPIBaseURL, endpointrule.EnvJWKSBaseURL, identity.EnvRefreshTokenURLOverride} {
		if v := c.getenv(name); v != "" {
			rep.Variables[name] = redactURL(v)
		}
	}
	if c.getenv(identity.EnvAccessToken) != "" {
		rep.Variables[identity.EnvAccessToken] = "present (takes precedence over auth.json)"
	}

	store := codexhome.OpenStore(dir)
	rep.AuthFile.Path = store.Path()
	rep.AgentIdentity.Form = "none"
	rep.AuthFile.OpenAIAPIKey = "absent"
	if st, err := os.Lstat(store.Path()); err == nil {
		rep.AuthFile.Mode = st.Mode().String()
	} else if !errors.Is(err, fs.ErrNotExist) {
		rep.AuthFile.Error = problem(err)
	}
	if mode, err := store.Mode(); err == nil {
		rep.AuthFile.Store = string(mode)
		if mode == codexhome.CredentialsStoreKeyring || mode == codexhome.CredentialsStoreAuto {
			rep.AuthFile.Keyring = fmt.Sprintf("service %q, account %q", codexhome.KeyringService, store.KeyringAccount())
		}
	}
	af, src, err := store.ReadSource()
	if err != nil {
		rep.AuthFile.Error = problem(err)
		return rep
	}
	rep.AuthFile.HeldBy = string(src)
	rep.AuthFile.Exists = af.Exists()
	rep.AuthFile.AuthMode = af.AuthMode()
	rep.AuthFile.Members = af.MemberNames()
	if _, ok := af.OpenAIAPIKey(); ok {
		rep.AuthFile.OpenAIAPIKey = "present"
	}

	login, err := af.ChatGPTLogin()
	if err != nil {
		problem(err)
	}
	if login != nil {
		rep.ChatGPTLogin = statusLogin{
			Present: true, AccountID: login.AccountID, UserID: login.UserID,
			Email: login.Email, PlanType: login.PlanType, FedRAMP: login.FedRAMP,
			AccessToken: presence(!login.AccessToken.IsZero()),
		}
	}

	if tok := af.AgentIdentityJWT(); !tok.IsZero() {
		a := statusAgent{Form: "jwt", Token: redacted, Note: "claims decoded WITHOUT verification"}
		if claims, err := identity.DecodeJWTUnverified(tok.Reveal()); err != nil {
			problem(fmt.Errorf("agent_identity JWT: %w", err))
		} else {
			a.AgentRuntimeID, a.AccountID, a.UserID = claims.AgentRuntimeID, claims.AccountID, claims.UserID
			a.PlanType, a.FedRAMP = claims.PlanType, claims.FedRAMP
			a.PrivateKey = presence(!claims.AgentPrivateKey.IsZero())
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
		rep.AgentIdentity = a
	}
	return rep
}

func writeStatus(w io.Writer, r *statusReport) {
	// Every value may come from a file, a keyring entry or the environment:
	// oneLine keeps control characters from reaching the terminal.
	line := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k, oneLine(v)) }
	line("codex_home", r.CodexHome)
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
	if r.AuthFile.Keyring != "" {
		line("keyring", r.AuthFile.Keyring)
	}
	switch {
	case r.AuthFile.Error != "":
		line("credentials", "ERROR: "+r.AuthFile.Error)
	case !r.AuthFile.Exists:
		line("credentials", "absent (store: "+r.AuthFile.HeldBy+")")
	case r.AuthFile.HeldBy == string(codexhome.BackendKeyring):
		line("credentials", "in the keyring")
	case r.AuthFile.HeldBy == string(codexhome.BackendEphemeral):
		line("credentials", "in this process's memory (ephemeral: nothing persisted)")
	default:
		line("credentials", "in auth.json")
	}
	switch {
	case r.AuthFile.Error != "":
		line("auth.json", "ERROR: "+r.AuthFile.Error)
	case r.AuthFile.Exists && r.AuthFile.HeldBy != string(codexhome.BackendFile):
		line("auth_mode", orDash(r.AuthFile.AuthMode))
		line("OPENAI_API_KEY", r.AuthFile.OpenAIAPIKey)
	case !r.AuthFile.Exists:
		line("auth.json", "absent")
	default:
		line("auth.json", r.AuthFile.Path+" ("+r.AuthFile.Mode+")")
		line("auth_mode", orDash(r.AuthFile.AuthMode))
		line("OPENAI_API_KEY", r.AuthFile.OpenAIAPIKey)
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
		}
		line("private_key", orDash(a.PrivateKey))
	}
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
