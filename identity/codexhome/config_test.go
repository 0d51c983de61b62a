package codexhome

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name string
		toml *string // nil: no file
		want Config
	}{
		{"missing file", nil, Config{}},
		{"empty file", ptr(""), Config{}},
		{"both keys", ptr("chatgpt_base_url = \"https://chatgpt.com/backend-api\"\n[features]\nuse_agent_identity = true\n"),
			Config{ChatGPTBaseURL: "https://chatgpt.com/backend-api", UseAgentIdentity: true}},
		{"flag off", ptr("[features]\nuse_agent_identity = false\n"), Config{}},
		{"other Codex keys ignored", ptr(`model = "gpt-5-codex"
approval_policy = "on-request"
chatgpt_base_url = "https://chatgpt-staging.com"
[features]
web_search_request = true
other_flag = "x"
[profiles.fast]
model = "o4-mini"
[mcp_servers.docs]
command = "npx"
args = ["-y", "docs"]
`), Config{ChatGPTBaseURL: "https://chatgpt-staging.com"}},
		{"dotted feature key", ptr("features.use_agent_identity = true\n"), Config{UseAgentIdentity: true}},
		{"openai_base_url", ptr("openai_base_url = \"https://chatgpt.com/backend-api/codex\"\n"),
			Config{OpenAIBaseURL: "https://chatgpt.com/backend-api/codex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if tt.toml != nil {
				require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(*tt.toml), 0o600))
			}
			got, err := LoadConfig(home)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func ptr(s string) *string { return &s }

func TestLoadConfigRefuses(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		wants []string
	}{
		{"base url a number", "model = 'x'\nchatgpt_base_url = 3\n", []string{"chatgpt_base_url", "line 2"}},
		{"base url a table", "[chatgpt_base_url]\nx = 1\n", []string{"chatgpt_base_url"}},
		{"openai_base_url a number", "openai_base_url = 3\n", []string{"openai_base_url"}},
		{"flag a string", "[features]\nuse_agent_identity = \"yes\"\n", []string{"features.use_agent_identity", "line 2"}},
		{"flag a number", "[features]\n\nuse_agent_identity = 1\n", []string{"use_agent_identity", "line 3"}},
		{"features not a table", "features = 3\n", []string{"features"}},
		{"not toml", "chatgpt_base_url = \n", []string{"line 1"}},
		{"duplicate key", "chatgpt_base_url = 'a'\nchatgpt_base_url = 'b'\n", []string{"chatgpt_base_url"}},
		{"too large", "# " + strings.Repeat("x", maxConfigSize) + "\n", []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(home, configFileName), []byte(tt.toml), 0o600))
			_, err := LoadConfig(home)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.True(t, strings.HasPrefix(err.Error(), "codexhome: "), err.Error())
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		home := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(home, configFileName), 0o700))
		_, err := LoadConfig(home)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
	t.Run("empty home", func(t *testing.T) {
		_, err := LoadConfig("")
		require.Error(t, err)
	})
	t.Run("symlink to a file is followed", func(t *testing.T) {
		home := t.TempDir()
		target := filepath.Join(t.TempDir(), "real.toml")
		require.NoError(t, os.WriteFile(target, []byte("[features]\nuse_agent_identity = true\n"), 0o600))
		require.NoError(t, os.Symlink(target, filepath.Join(home, configFileName)))
		got, err := LoadConfig(home)
		require.NoError(t, err)
		assert.True(t, got.UseAgentIdentity)
	})
}
