package identitytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/internal/atomicfile"
)

// CodexHomeOptions says what [Server.WriteCodexHome] puts into a $CODEX_HOME.
type CodexHomeOptions struct {
	// Login, if not nil, is written as the ChatGPT login under "tokens".
	Login *ChatGPTLogin
	// AgentJWT, if not empty, is written as a standalone Agent Identity JWT
	// ("agent_identity" with "auth_mode": "agentIdentity").
	AgentJWT codexhome.Secret
	// PersonalAccessToken, if not empty, is written as
	// "personal_access_token". Alone it gives the file exactly as
	// `codex login --with-access-token` writes it:
	// {"OPENAI_API_KEY": null, "personal_access_token": "at-…"}, two-space
	// indent, no trailing newline.
	PersonalAccessToken codexhome.Secret
	// UseAgentIdentity writes [features] use_agent_identity = true.
	UseAgentIdentity bool
}

// WriteCodexHome makes dir (mode 0700) a $CODEX_HOME pointed at this server,
// one that the Codex CLI 0.171 accepts with --strict-config. config.toml
// sets chatgpt_base_url to s.ChatGPTBaseURL and openai_base_url to
// s.ChatGPTBaseURL + "/codex" (without it Codex asks chatgpt.com for its
// models), turns update checks, analytics, feedback and telemetry off, and
// sets [features] use_agent_identity = true when asked. auth.json (mode
// 0600) holds what o gives, in the shape the Codex CLI writes, with
// last_refresh set to the server's clock (so that Codex, which refreshes
// logins older than 8 days or whose access token expired, does not refresh
// during a turn). Point the library at it with the variables of [Server.Env]
// (or [Server.Getenv]) and the Codex CLI with [Server.CodexEnv].
func (s *Server) WriteCodexHome(dir string, o CodexHomeOptions) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfg := "# written by identitytest: a fake backend, test values only\n" +
		"chatgpt_base_url = " + strconv.Quote(s.ChatGPTBaseURL) + "\n" +
		"openai_base_url = " + strconv.Quote(s.ChatGPTBaseURL+"/codex") + "\n" +
		"check_for_update_on_startup = false\n" +
		"\n[analytics]\nenabled = false\n" +
		"\n[feedback]\nenabled = false\n" +
		"\n[otel]\nexporter = \"none\"\n"
	if o.UseAgentIdentity {
		cfg += "\n[features]\nuse_agent_identity = true\n"
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), &atomicfile.Options{Perm: 0o600}); err != nil {
		return err
	}
	type tokens struct {
		IDToken      string `json:"id_token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		AccountID    string `json:"account_id"`
	}
	type authFile struct {
		AuthMode      string  `json:"auth_mode,omitempty"`
		OpenAIAPIKey  *string `json:"OPENAI_API_KEY"`
		Tokens        *tokens `json:"tokens,omitempty"`
		LastRefresh   string  `json:"last_refresh,omitempty"`
		AgentIdentity string  `json:"agent_identity,omitempty"`
		PAT           string  `json:"personal_access_token,omitempty"`
	}
	var f authFile
	if o.Login != nil {
		f.AuthMode = "chatgpt"
		f.Tokens = &tokens{o.Login.IDToken.Reveal(), o.Login.AccessToken.Reveal(), o.Login.RefreshToken.Reveal(), o.Login.AccountID}
		f.LastRefresh = s.now().UTC().Format(time.RFC3339Nano)
	}
	if !o.AgentJWT.IsZero() {
		f.AuthMode = "agentIdentity"
		f.AgentIdentity = o.AgentJWT.Reveal()
	}
	f.PAT = o.PersonalAccessToken.Reveal()
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("identitytest: %w", err)
	}
	if f.PAT == "" || o.Login != nil || !o.AgentJWT.IsZero() {
		data = append(data, '\n') // codex login --with-access-token writes none
	}
	// atomicfile, not os.WriteFile: a symbolic link at auth.json is refused,
	// not followed, and an existing file ends with mode 0600, not its own.
	return atomicfile.WriteFile(filepath.Join(dir, "auth.json"), data, &atomicfile.Options{Perm: 0o600})
}
