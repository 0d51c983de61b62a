package agentidentity_test

import (
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity"
)

func ExampleResolve() {
	env, err := agentidentity.Resolve("HTTPS://chat.openai.com:443/codex/")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Name)
	fmt.Println(env.ChatGPTBaseURL)
	fmt.Println(env.AuthAPIBaseURL)
	fmt.Println(env.JWKSURL)
	fmt.Println(env.Origin())

	_, err = agentidentity.Resolve("https://chatgpt.com.evil.com/backend-api")
	fmt.Println(errors.Is(err, agentidentity.ErrUnknownEnvironment))
	fmt.Println(err)
	// Output:
	// production
	// https://chatgpt.com/backend-api
	// https://auth.openai.com/api/accounts
	// https://chatgpt.com/backend-api/wham/agent-identities/jwks
	// https://chatgpt.com
	// true
	// agentidentity: base URL "https://chatgpt.com.evil.com/backend-api": Agent Identity only supports production and staging ChatGPT environments
}

func ExampleResolveWithOverrides() {
	// A local development server: both overrides set, the JWKS override
	// equal to the configured base URL.
	env, err := agentidentity.ResolveWithOverrides("http://localhost:8080/api/codex", agentidentity.Overrides{
		AuthAPIBaseURL: "http://localhost:8081/api/accounts",
		JWKSBaseURL:    "http://localhost:8080/api/codex/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Name)
	fmt.Println(env.AuthAPIBaseURL)
	fmt.Println(env.JWKSURL)
	fmt.Println(env.Issuer)

	// Plain http is refused on any host other than loopback.
	_, err = agentidentity.ResolveWithOverrides("https://chatgpt.com", agentidentity.Overrides{
		AuthAPIBaseURL: "http://auth.example.com",
	})
	fmt.Println(err)
	// Output:
	// custom
	// http://localhost:8081/api/accounts
	// http://localhost:8080/api/codex/agent-identities/jwks
	// https://chatgpt.com/codex-backend/agent-identity
	// agentidentity: invalid base URL: override CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL must use https (plain http only to a loopback host: localhost, 127.0.0.0/8 or [::1])
}

func ExampleEnvironments() {
	for _, env := range agentidentity.Environments() {
		fmt.Println(env.Name, env.ChatGPTBaseURL, env.AuthAPIBaseURL)
	}
	// Output:
	// production https://chatgpt.com/backend-api https://auth.openai.com/api/accounts
	// staging https://chatgpt-staging.com/backend-api https://auth.api.openai.org/api/accounts
}

func ExampleJWKSURL() {
	for _, base := range []string{
		"https://chatgpt.com/backend-api/",
		"http://localhost:8080/api/codex",
	} {
		u, err := agentidentity.JWKSURL(base)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(u)
	}
	_, err := agentidentity.JWKSURL("https://chatgpt.com/backend-api?x=1")
	fmt.Println(err)
	// Output:
	// https://chatgpt.com/backend-api/wham/agent-identities/jwks
	// http://localhost:8080/api/codex/agent-identities/jwks
	// agentidentity: invalid base URL: the JWKS base must not have a query
}

func ExampleResolveFromEnv() {
	// With CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL and
	// CODEX_AGENT_IDENTITY_JWKS_BASE_URL unset, this is Resolve.
	env, err := agentidentity.ResolveFromEnv(agentidentity.DefaultChatGPTBaseURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Name)
	// Output: production
}
