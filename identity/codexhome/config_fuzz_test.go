package codexhome

import (
	"errors"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("chatgpt_base_url = \"https://chatgpt.com/backend-api\"\n[features]\nuse_agent_identity = true\n"))
	f.Add([]byte("model = 'x'\n[features]\nuse_agent_identity = 1\n"))
	f.Add([]byte("features = 3\n"))
	f.Add([]byte("[profiles.a]\nmodel = \"o3\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("config.toml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error does not wrap ErrInvalidConfig: %v", err)
			}
			if c != (Config{}) {
				t.Fatal("config returned with an error")
			}
		}
	})
}
