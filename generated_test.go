package agentidentity

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentidentity/agentidentity/gen"
)

// thirdEnvironmentTOML is a table like endpoints.toml with one more
// environment and a login issuer of its own.
const thirdEnvironmentTOML = `
login_issuer = "https://login.sandbox.example.com:8443"

[environments.production]
chatgpt_base_url = "https://chatgpt.com/backend-api"
accepted_base_urls = ["https://chatgpt.com", "https://chatgpt.com/backend-api"]
authapi_base_url = "https://auth.openai.com/api/accounts"
jwks_url = "https://chatgpt.com/backend-api/wham/agent-identities/jwks"
issuer = "https://chatgpt.com/codex-backend/agent-identity"
audience = "codex-app-server"

[environments.sandbox]
chatgpt_base_url = "https://sandbox.example.com:8443/api"
accepted_base_urls = [
    "https://sandbox.example.com:8443/api",
    "https://sandbox.example.com:8443",
]
authapi_base_url = "https://auth.sandbox.example.com/api/accounts"
jwks_url = "https://sandbox.example.com:8443/api/agent-identities/jwks"
issuer = "https://sandbox.example.com/agent-identity"
audience = "sandbox-app-server"

[environments.staging]
chatgpt_base_url = "https://chatgpt-staging.com/backend-api"
accepted_base_urls = ["https://chatgpt-staging.com/backend-api"]
authapi_base_url = "https://auth.api.openai.org/api/accounts"
jwks_url = "https://chatgpt-staging.com/backend-api/wham/agent-identities/jwks"
issuer = "https://chatgpt.com/codex-backend/agent-identity"
audience = "codex-app-server"
`

// thirdEnvironmentTest runs inside the temporary module, against the lookup
// generated from thirdEnvironmentTOML and this package's real sources.
const thirdEnvironmentTest = `package agentidentity

import "testing"

func TestThirdEnvironment(t *testing.T) {
	for _, in := range []string{
		"https://sandbox.example.com:8443/api",
		"HTTPS://SANDBOX.example.com:8443/api/",
		"https://sandbox.example.com:8443",
		"https://sandbox.example.com:8443/",
	} {
		env, err := Resolve(in)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", in, err)
		}
		want := Environment{
			Name:           "sandbox",
			ChatGPTBaseURL: "https://sandbox.example.com:8443/api",
			AuthAPIBaseURL: "https://auth.sandbox.example.com/api/accounts",
			JWKSURL:        "https://sandbox.example.com:8443/api/agent-identities/jwks",
			Issuer:         "https://sandbox.example.com/agent-identity",
			Audience:       "sandbox-app-server",
		}
		if env != want {
			t.Fatalf("Resolve(%q) = %+v, want %+v", in, env, want)
		}
	}
	for _, in := range []string{
		"https://sandbox.example.com",
		"https://sandbox.example.com:443/api",
		"https://sandbox.example.com:08443/api",
		"https://chatgpt-staging.com",
	} {
		if _, err := Resolve(in); err == nil {
			t.Fatalf("Resolve(%q) accepted", in)
		}
	}
	if env, err := Resolve("https://chatgpt.com"); err != nil || env.Name != "production" {
		t.Fatalf("production: %+v %v", env, err)
	}
	if env, err := Resolve("https://chatgpt-staging.com/backend-api"); err != nil || env.Name != "staging" {
		t.Fatalf("staging: %+v %v", env, err)
	}
	var names []string
	for _, e := range Environments() {
		names = append(names, e.Name)
	}
	if len(names) != 3 || names[0] != "production" || names[1] != "sandbox" || names[2] != "staging" {
		t.Fatalf("Environments names = %v", names)
	}
	if ChatGPTLoginIssuer != "https://login.sandbox.example.com:8443" || ProductionIssuer != "https://chatgpt.com/codex-backend/agent-identity" {
		t.Fatalf("constants: %q %q", ChatGPTLoginIssuer, ProductionIssuer)
	}
	custom, err := ResolveWithOverrides("http://localhost:1/x", Overrides{AuthAPIBaseURL: "http://localhost:2", JWKSBaseURL: "http://localhost:1/x"})
	if err != nil || custom.Issuer != "https://chatgpt.com/codex-backend/agent-identity" {
		t.Fatalf("custom deployment: %+v %v", custom, err)
	}
}
`

// TestThirdEnvironmentGeneratesWorkingLookup generates the lookup for a
// table with a third environment (with a port) and compiles it, with the
// package's own non-test sources and those of internal/endpointrule and internal/netrule, into a
// temporary module whose test exercises the generated code.
func TestThirdEnvironmentGeneratesWorkingLookup(t *testing.T) {
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to compile the generated lookup")

	table, err := gen.Parse("third.toml", []byte(thirdEnvironmentTOML))
	require.NoError(t, err)
	src, err := gen.Generate(table)
	require.NoError(t, err)
	require.Contains(t, string(src), `"sandbox.example.com:8443/api"`)

	// The temporary module has this module's path, so that the package's
	// import of internal/endpointrule resolves to a copy of it there.
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module github.com/agentidentity/agentidentity\n\ngo 1.26\n")
	write("urlmap_gen.go", string(src))
	write("third_test.go", thirdEnvironmentTest)
	copied := 0
	for _, pattern := range []string{"*.go", filepath.Join("internal", "endpointrule", "*.go"), filepath.Join("internal", "netrule", "*.go")} {
		sources, err := filepath.Glob(pattern)
		require.NoError(t, err)
		for _, name := range sources {
			if strings.HasSuffix(name, "_test.go") || name == "urlmap_gen.go" {
				continue
			}
			data, err := os.ReadFile(name)
			require.NoError(t, err)
			write(name, string(data))
			copied++
		}
	}
	require.NotZero(t, copied)

	cmd := exec.Command(goTool, "test", "-count=1", "-run=^TestThirdEnvironment$", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test in the generated module failed:\n%s", out)
}
