package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
)

func newRegisterTaskCmd(c *cli) *cobra.Command {
	var authAPI, base, runtimeID, home string
	var timeout = defaultNetTimeout
	var keys *keyFlags
	cmd := &cobra.Command{
		Use:   "register-task (--runtime-id ID (--key-file FILE | --ssh-agent-key LINE) [--authapi-base-url URL | --chatgpt-base-url URL] | [--codex-home DIR]) [flags]",
		Short: "Register a backend-owned task and print its id",
		Long: `Register a new backend-owned task and print its id. The task is not saved.

With --runtime-id, the agent is ID and the AuthAPI is --authapi-base-url, or
else the one --chatgpt-base-url resolves to (with the override variables).
` + keySourceHelp + `

Without --runtime-id, the agent is the one $CODEX_HOME (or --codex-home) holds,
found as Load finds it (a $` + identity.EnvAccessToken + ` JWT, a stored JWT, or with
[features] use_agent_identity = true a stored or newly provisioned record), and
the AuthAPI is that of its configured environment.

Each request is printed on standard error as it is sent (scheme, host and
path only).

JSON (--json): {"task_id", "agent_runtime_id"}.`,
		Example: examples(
			"agentid register-task --codex-home ~/.codex",
			"agentid register-task --runtime-id agent-1 --key-file agent.key --authapi-base-url http://127.0.0.1:8080/api/accounts --json"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set := func(name string) bool { return cmd.Flags().Changed(name) }
			ctx, cancel := c.signalContext(timeout)
			defer cancel()
			httpc, _, err := c.httpClient()
			if err != nil {
				return err
			}
			printTask := func(taskID, runtimeID string) error {
				if c.json {
					return c.writeJSON(struct {
						TaskID         string `json:"task_id"`
						AgentRuntimeID string `json:"agent_runtime_id"`
					}{taskID, runtimeID})
				}
				_, err := fmt.Fprintln(c.stdout, taskID)
				return err
			}
			var (
				signer *identity.Signer
				client *identity.Client
			)
			if runtimeID != "" {
				s, closeKey, err := readSigner(c, cmd, runtimeID, keys)
				if err != nil {
					return err
				}
				defer closeKey()
				api := authAPI
				if api == "" {
					env, err := agentidentity.ResolveWithOverrides(base, agentidentity.OverridesFromEnv(c.getenv))
					if err != nil {
						return withHint(fmt.Errorf("--chatgpt-base-url: %w", err), "give --authapi-base-url, or a base URL \"agentid endpoints\" lists")
					}
					api = env.AuthAPIBaseURL
				}
				signer, client = s, &identity.Client{AuthAPIBaseURL: api, HTTPClient: httpc}
			} else {
				if keys.given() || set("authapi-base-url") || set("chatgpt-base-url") {
					return usagef(cmd, "--key-file, --ssh-agent-key, --authapi-base-url and --chatgpt-base-url need --runtime-id")
				}
				dir, err := c.codexHome(home)
				if err != nil {
					return err
				}
				// Tasks stay in memory: a fresh identity is provisioned
				// without a run task, so the task printed below is the only
				// one registered.
				auth, err := identity.Load(ctx, identity.LoadOptions{
					CodexHome: dir, LookupEnv: c.lookup, HTTPClient: httpc, TaskInMemoryOnly: true,
				})
				if err != nil {
					return err
				}
				// A session of its own registers a new task, never saved.
				taskID, err := auth.ForSession("agentid register-task").TaskID(ctx)
				if err != nil {
					return err
				}
				return printTask(taskID, auth.AgentRuntimeID())
			}
			taskID, err := client.RegisterTask(ctx, signer)
			if err != nil {
				return err
			}
			return printTask(taskID, signer.AgentRuntimeID())
		},
	}
	f := cmd.Flags()
	f.StringVar(&authAPI, "authapi-base-url", "", "AuthAPI base `URL` (default: resolved from --chatgpt-base-url)")
	f.StringVar(&base, "chatgpt-base-url", agentidentity.DefaultChatGPTBaseURL, "ChatGPT base `URL` the AuthAPI is resolved from")
	f.StringVar(&runtimeID, "runtime-id", "", "agent runtime `ID`")
	keys = addKeyFlags(cmd)
	f.StringVar(&home, "codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	f.DurationVar(&timeout, "timeout", defaultNetTimeout, "give up after this long")
	_ = cmd.MarkFlagDirname("codex-home")
	exclusive(cmd, "runtime-id", "codex-home")
	exclusive(cmd, "authapi-base-url", "chatgpt-base-url")
	c.addJSONFlag(cmd)
	return cmd
}
