package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

// codexHome returns --codex-home, else $CODEX_HOME, else ~/.codex.
func (c *cli) codexHome(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return codexhome.DefaultDir(c.getenv)
}

const defaultNetTimeout = 2 * time.Minute

// provisionJSON is what provision --json prints.
type provisionJSON struct {
	AgentRuntimeID string `json:"agent_runtime_id"`
	TaskID         string `json:"task_id"`
	AccountID      string `json:"account_id"`
	FedRAMP        bool   `json:"fedramp"`
	// Identity is "registered" (a new agent, saved to auth.json) or
	// "reused"; Source says what was used.
	Identity string `json:"identity"`
	Source   string `json:"source"`
	// Task is "registered" or "reused".
	Task string `json:"task"`
}

func newProvisionCmd(c *cli) *cobra.Command {
	var home string
	timeout := defaultNetTimeout
	cmd := &cobra.Command{
		Use:   "provision [--codex-home DIR] [flags]",
		Short: "Provision (or reuse) the identity of $CODEX_HOME and its run task",
		Long: `Load the identity of $CODEX_HOME (or --codex-home) with the ChatGPT-auth
policy, as the Codex CLI does with [features] use_agent_identity = true:
a $` + identity.EnvAccessToken + ` JWT or a JWT stored in auth.json wins; else a
stored identity record of the current ChatGPT login is reused; else a new agent
is registered with the login's access token and saved to auth.json (mode 0600,
under its lock). Then the run task is obtained (the stored one, or a new
registration). Prints the runtime id, the task id, the account, and whether
the identity and the task were reused or registered. Secrets stay in
auth.json; none is printed. Each request is printed on standard error as it is
sent; on a terminal, a wait of more than a second (for the lock of auth.json
another process holds, or for an answer) is named.

JSON (--json): {"agent_runtime_id", "task_id", "account_id", "fedramp",
"identity" ("registered" or "reused"), "source" ("$CODEX_ACCESS_TOKEN",
"auth.json JWT", "auth.json record" or "new registration"), "task"
("registered" or "reused")}.`,
		Example: examples("agentid provision", "agentid provision --codex-home /tmp/codex-fake --json"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := c.codexHome(home)
			if err != nil {
				return err
			}
			ctx, cancel := c.signalContext(timeout)
			defer cancel()
			httpc, steps, err := c.httpClient()
			if err != nil {
				return err
			}
			before := storedForm(dir)
			stop := c.waitNotice(cmd, func() string { return provisionWait(dir, steps) })
			auth, err := identity.Load(ctx, identity.LoadOptions{
				CodexHome: dir, Policy: identity.PolicyChatGPTAuth, LookupEnv: c.lookup, HTTPClient: httpc,
			})
			stop()
			if err != nil {
				return err
			}
			stop = c.waitNotice(cmd, func() string { return provisionWait(dir, steps) })
			taskID, err := auth.TaskID(ctx)
			stop()
			if err != nil {
				return err
			}
			out := provisionJSON{
				AgentRuntimeID: auth.AgentRuntimeID(), TaskID: taskID, AccountID: auth.Account().AccountID, FedRAMP: auth.Account().FedRAMP,
				Identity: "reused", Task: "reused",
			}
			switch {
			case strings.TrimSpace(c.getenv(identity.EnvAccessToken)) != "":
				out.Source = "$" + identity.EnvAccessToken
			case steps.agents.Load() > 0:
				out.Identity, out.Source = "registered", "new registration"
			case before == "jwt":
				out.Source = "auth.json JWT"
			default:
				out.Source = "auth.json record"
			}
			if steps.tasks.Load() > 0 {
				out.Task = "registered"
			}
			if c.json {
				return c.writeJSON(out)
			}
			identityLine := "reused (" + out.Source + ")"
			if out.Identity == "registered" {
				identityLine = "registered (saved to " + filepath.Join(dir, "auth.json") + ")"
			}
			return writeKeyValues(c.stdout, [][2]string{
				{"agent_runtime_id", out.AgentRuntimeID},
				{"task_id", out.TaskID},
				{"account_id", out.AccountID},
				{"identity", identityLine},
				{"task", out.Task},
			})
		},
	}
	cmd.Flags().StringVar(&home, "codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	cmd.Flags().DurationVar(&timeout, "timeout", defaultNetTimeout, "give up after this long")
	_ = cmd.MarkFlagDirname("codex-home")
	c.addJSONFlag(cmd)
	return cmd
}

// storedForm is the form of the agent identity auth.json holds: "jwt",
// "record" or "" (none, or unreadable: Load reports that).
func storedForm(dir string) string {
	af, err := codexhome.OpenStore(dir).Read()
	switch {
	case err != nil:
		return ""
	case !af.AgentIdentityJWT().IsZero():
		return "jwt"
	case af.AgentIdentityRecord() != nil:
		return "record"
	}
	return ""
}

// provisionWait says what provisioning waits for: the answer to the request
// in flight, else the lock another process holds.
func provisionWait(dir string, steps *stepTransport) string {
	if r := steps.inFlight(); r != "" {
		return "the answer: " + r
	}
	for _, l := range []struct{ name, who string }{
		{authLockFileName, "another program (a Codex CLI?) is writing auth.json"},
		{moduleLockFileName, "another agentid or program of this module is provisioning this home"},
	} {
		p := filepath.Join(dir, l.name)
		if lockHeld(p) {
			return fmt.Sprintf("the lock %s (%s)", p, l.who)
		}
	}
	return "the credentials of " + dir
}
