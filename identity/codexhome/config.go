package codexhome

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/agentidentity/agentidentity/internal/limitio"
)

// configFileName is the name of the Codex configuration file in $CODEX_HOME.
const configFileName = "config.toml"

// maxConfigSize bounds config.toml.
const maxConfigSize = 1 << 20

// Config is the part of the Codex CLI's config.toml that agent identity
// depends on. The zero value is the default configuration.
type Config struct {
	// ChatGPTBaseURL is chatgpt_base_url; empty means the default
	// https://chatgpt.com/backend-api.
	ChatGPTBaseURL string
	// UseAgentIdentity is [features] use_agent_identity (default false): the
	// opt-in that lets a ChatGPT login register an agent identity.
	UseAgentIdentity bool
	// CredentialsStore is cli_auth_credentials_store: where the Codex CLI
	// keeps auth.json's content. Empty means CredentialsStoreFile.
	CredentialsStore CredentialsStore
	// OpenAIBaseURL is openai_base_url, the model provider's base (the
	// Codex CLI sends models and responses to it); empty means unset.
	OpenAIBaseURL string
}

// tomlConfig mirrors the keys read; pointers tell absent from zero, and
// every other key of the Codex config is ignored.
type tomlConfig struct {
	ChatGPTBaseURL   *string `toml:"chatgpt_base_url"`
	OpenAIBaseURL    *string `toml:"openai_base_url"`
	CredentialsStore *string `toml:"cli_auth_credentials_store"`
	Features         *struct {
		UseAgentIdentity *bool `toml:"use_agent_identity"`
	} `toml:"features"`
}

// LoadConfig reads config.toml in codexHome. A missing file gives the
// default Config and no error. The file is read whole (at most 1 MiB) and
// must be valid TOML; chatgpt_base_url and openai_base_url must be strings and
// [features] use_agent_identity a boolean and cli_auth_credentials_store
// one of "file", "keyring", "auto" or "ephemeral" (lower case, as the Codex
// CLI spells them), else the error (wrapping
// ErrInvalidConfig) names the key and line. A symbolic link to a regular
// file is followed, as the Codex CLI does.
func LoadConfig(codexHome string) (Config, error) {
	if codexHome == "" {
		return Config{}, errors.New("codexhome: no CODEX_HOME folder given for config.toml")
	}
	path := filepath.Join(codexHome, configFileName)
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, err
	}
	return parseConfig(path, data)
}

func readConfigFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("codexhome: %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidConfig, path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("codexhome: %s: %w", path, err)
	}
	defer func() { _ = fh.Close() }()
	if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidConfig, path)
	}
	data, err := limitio.ReadAll(fh, maxConfigSize)
	if errors.Is(err, limitio.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidConfig, path, maxConfigSize)
	}
	if err != nil {
		return nil, fmt.Errorf("codexhome: read %s: %w", path, err)
	}
	return data, nil
}

func parseConfig(path string, data []byte) (Config, error) {
	var raw tomlConfig
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, path, err)
	}
	var c Config
	if raw.ChatGPTBaseURL != nil {
		c.ChatGPTBaseURL = *raw.ChatGPTBaseURL
	}
	if raw.OpenAIBaseURL != nil {
		c.OpenAIBaseURL = *raw.OpenAIBaseURL
	}
	if raw.Features != nil && raw.Features.UseAgentIdentity != nil {
		c.UseAgentIdentity = *raw.Features.UseAgentIdentity
	}
	if raw.CredentialsStore != nil {
		m := CredentialsStore(*raw.CredentialsStore)
		if !m.valid() {
			return Config{}, fmt.Errorf("%w: %s: cli_auth_credentials_store must be \"file\", \"keyring\", \"auto\" or \"ephemeral\"", ErrInvalidConfig, path)
		}
		c.CredentialsStore = m
	}
	return c, nil
}
