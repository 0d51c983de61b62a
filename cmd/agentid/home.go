package main

import (
	"time"

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

func runProvision(c *cli, args []string) error {
	fs := newFlagSet(c, "provision", "[--codex-home DIR] [--json]", `
Load the identity of $CODEX_HOME (or --codex-home) with the ChatGPT-auth
policy, as the Codex CLI does with [features] use_agent_identity = true:
a $`+identity.EnvAccessToken+` JWT or a JWT stored in auth.json wins; else a
stored identity record of the current ChatGPT login is reused; else a new agent
is registered with the login's access token and saved to auth.json (mode 0600,
under its lock). Then the run task is obtained (the stored one, or a new
registration), and the runtime id and task id are printed. Secrets stay in
auth.json; none is printed.`)
	home := fs.String("codex-home", "", "the Codex home `DIR` (default $CODEX_HOME, else ~/.codex)")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", defaultNetTimeout, "give up after this long")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	dir, err := c.codexHome(*home)
	if err != nil {
		return err
	}
	ctx, cancel := c.signalContext(*timeout)
	defer cancel()
	auth, err := identity.Load(ctx, identity.LoadOptions{
		CodexHome: dir, Policy: identity.PolicyChatGPTAuth, Getenv: c.getenv, HTTPClient: c.httpClient(),
	})
	if err != nil {
		return err
	}
	taskID, err := auth.TaskID(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, struct {
			AgentRuntimeID string `json:"agent_runtime_id"`
			TaskID         string `json:"task_id"`
			AccountID      string `json:"account_id"`
			FedRAMP        bool   `json:"fedramp"`
		}{auth.AgentRuntimeID(), taskID, auth.AccountID(), auth.FedRAMP()})
	}
	return writeEnvironmentLines(c, [][2]string{
		{"agent_runtime_id", auth.AgentRuntimeID()},
		{"task_id", taskID},
		{"account_id", auth.AccountID()},
	})
}

func writeEnvironmentLines(c *cli, rows [][2]string) error {
	for _, r := range rows {
		if _, err := c.stdout.Write([]byte(r[0] + " " + r[1] + "\n")); err != nil {
			return err
		}
	}
	return nil
}
