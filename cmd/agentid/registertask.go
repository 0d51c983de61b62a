package main

import (
	"flag"
	"fmt"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
)

func runRegisterTask(c *cli, args []string) error {
	fs := newFlagSet(c, "register-task", "[--authapi-base-url URL] --runtime-id ID (--key-file FILE | --ssh-agent-key 'ssh-ed25519 …') | [--codex-home DIR]", `
Register a new backend-owned task and print its id. The task is not saved.

With --runtime-id, the agent is ID and the AuthAPI is --authapi-base-url, or
else the one --chatgpt-base-url resolves to (with the override variables).
`+keySourceHelp+`

Without --runtime-id, the agent is the one $CODEX_HOME (or --codex-home) holds,
found as Load finds it (a $`+identity.EnvAccessToken+` JWT, a stored JWT, or with
[features] use_agent_identity = true a stored or newly provisioned record), and
the AuthAPI is that of its configured environment.`)
	authAPI := fs.String("authapi-base-url", "", "AuthAPI base `URL` (default: resolved from --chatgpt-base-url)")
	base := fs.String("chatgpt-base-url", agentidentity.DefaultChatGPTBaseURL, "ChatGPT base `URL` the AuthAPI is resolved from")
	runtimeID := fs.String("runtime-id", "", "agent runtime `ID`")
	keys := addKeyFlags(fs)
	home := fs.String("codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	timeout := fs.Duration("timeout", defaultNetTimeout, "give up after this long")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	ctx, cancel := c.signalContext(*timeout)
	defer cancel()

	var (
		signer *identity.Signer
		client *identity.Client
	)
	if *runtimeID != "" {
		if set["codex-home"] {
			return usagef("register-task: --codex-home and --runtime-id exclude each other")
		}
		s, closeKey, err := readSigner(c, *runtimeID, keys)
		if err != nil {
			return err
		}
		defer closeKey()
		api := *authAPI
		if api == "" {
			env, err := agentidentity.ResolveWithOverrides(*base, agentidentity.OverridesFromEnv(c.getenv))
			if err != nil {
				return fmt.Errorf("--chatgpt-base-url: %w", err)
			}
			api = env.AuthAPIBaseURL
		}
		signer, client = s, &identity.Client{AuthAPIBaseURL: api, HTTPClient: c.httpClient()}
	} else {
		if keys.given() || set["authapi-base-url"] || set["chatgpt-base-url"] {
			return usagef("register-task: --key-file, --ssh-agent-key, --authapi-base-url and --chatgpt-base-url need --runtime-id")
		}
		dir, err := c.codexHome(*home)
		if err != nil {
			return err
		}
		// Tasks stay in memory: a fresh identity is provisioned without a
		// run task, so the task printed below is the only one registered.
		auth, err := identity.Load(ctx, identity.LoadOptions{
			CodexHome: dir, Getenv: c.getenv, HTTPClient: c.httpClient(), TaskInMemoryOnly: true,
		})
		if err != nil {
			return err
		}
		signer, client = auth.Signer(), auth.RegistrationClient()
	}
	taskID, err := client.RegisterTask(ctx, signer)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, taskID)
	return err
}
