package identitytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CodexHomeOptions says what [Server.WriteCodexHome] puts into a $CODEX_HOME.
type CodexHomeOptions struct {
	// Login, if not nil, is written as the ChatGPT login under "tokens".
	Login *ChatGPTLogin
	// AgentJWT, if not empty, is written as a standalone Agent Identity JWT
	// ("agent_identity" with "auth_mode": "agentIdentity").
	AgentJWT string
	// UseAgentIdentity writes [features] use_agent_identity = true.
	UseAgentIdentity bool
}

// WriteCodexHome makes dir (mode 0700) a $CODEX_HOME pointed at this server:
// config.toml sets chatgpt_base_url to s.ChatGPTBaseURL (and the opt-in when
// asked), and auth.json (mode 0600) holds what o gives, in the shape the Codex
// CLI writes. Point the library at it with the variables of [Server.Env]
// (or [Server.Getenv]), which a non-production base URL needs.
func (s *Server) WriteCodexHome(dir string, o CodexHomeOptions) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfg := "# written by identitytest\nchatgpt_base_url = " + strconv.Quote(s.ChatGPTBaseURL) + "\n"
	if o.UseAgentIdentity {
		cfg += "\n[features]\nuse_agent_identity = true\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
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
	}
	var f authFile
	if o.Login != nil {
		f.AuthMode = "chatgpt"
		f.Tokens = &tokens{o.Login.IDToken, o.Login.AccessToken, o.Login.RefreshToken, o.Login.AccountID}
		f.LastRefresh = time.Now().UTC().Format(time.RFC3339Nano)
	}
	if o.AgentJWT != "" {
		f.AuthMode = "agentIdentity"
		f.AgentIdentity = o.AgentJWT
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("identitytest: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "auth.json"), append(data, '\n'), 0o600)
}
