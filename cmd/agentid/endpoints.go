package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

// endpointsJSON is the --json form of one environment.
type endpointsJSON struct {
	Name           string `json:"name"`
	ChatGPTBaseURL string `json:"chatgpt_base_url"`
	AuthAPIBaseURL string `json:"authapi_base_url"`
	JWKSURL        string `json:"jwks_url"`
	Issuer         string `json:"issuer"`
	Audience       string `json:"audience"`
}

func toEndpointsJSON(e agentidentity.Environment) endpointsJSON {
	return endpointsJSON{e.Name, e.ChatGPTBaseURL, e.AuthAPIBaseURL, e.JWKSURL, e.Issuer, e.Audience}
}

func newEndpointsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "endpoints [BASE_URL] [flags]",
		Short: "Show the environment a ChatGPT base URL resolves to (all without BASE_URL)",
		Long: `Show the environment a ChatGPT base URL resolves to: its canonical ChatGPT
base, AuthAPI base, JWKS URL, and the issuer and audience of its Agent Identity
JWTs. Without BASE_URL, every environment of the table is listed. The override
variables ` + endpointrule.EnvAuthAPIBaseURL + ` and
` + endpointrule.EnvJWKSBaseURL + ` are honoured; an invalid override is an
error, and a base URL outside the table is accepted only as a custom
deployment (both overrides set, the JWKS one equal to BASE_URL). A base URL
that is refused exits 1.

JSON (--json): for BASE_URL, {"name", "chatgpt_base_url", "authapi_base_url",
"jwks_url", "issuer", "audience"}; without it, {"environments": [those
objects]}.`,
		Example: examples("agentid endpoints", "agentid endpoints "+agentidentity.DefaultChatGPTBaseURL+" --json"),
		Args:    maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := agentidentity.OverridesFromEnv(c.getenv)
			if len(args) == 1 {
				env, err := agentidentity.ResolveWithOverrides(args[0], o)
				if err != nil {
					return withHint(err, "run \"agentid endpoints\" for the known environments")
				}
				if c.json {
					return c.writeJSON(toEndpointsJSON(env))
				}
				return writeEnvironments(c.stdout, []agentidentity.Environment{env})
			}
			var envs []agentidentity.Environment
			for _, e := range agentidentity.Environments() {
				env, err := agentidentity.ResolveWithOverrides(e.ChatGPTBaseURL, o)
				if err != nil {
					return withHint(fmt.Errorf("environment %s: %w", e.Name, err), "fix or unset the override variables")
				}
				envs = append(envs, env)
			}
			if c.json {
				out := struct {
					Environments []endpointsJSON `json:"environments"`
				}{make([]endpointsJSON, len(envs))}
				for i, e := range envs {
					out.Environments[i] = toEndpointsJSON(e)
				}
				return c.writeJSON(out)
			}
			return writeEnvironments(c.stdout, envs)
		},
	}
	c.addJSONFlag(cmd)
	return cmd
}

func writeEnvironments(w io.Writer, envs []agentidentity.Environment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, e := range envs {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "name\t%s\nchatgpt_base_url\t%s\nauthapi_base_url\t%s\njwks_url\t%s\nissuer\t%s\naudience\t%s\n",
			e.Name, e.ChatGPTBaseURL, e.AuthAPIBaseURL, e.JWKSURL, e.Issuer, e.Audience)
	}
	return tw.Flush()
}
