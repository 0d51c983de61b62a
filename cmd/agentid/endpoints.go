package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

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

func runEndpoints(c *cli, args []string) error {
	fs := newFlagSet(c, "endpoints", "[--json] [BASE_URL]", `
Show the environment a ChatGPT base URL resolves to: its canonical ChatGPT
base, AuthAPI base, JWKS URL, and the issuer and audience of its Agent Identity
JWTs. Without BASE_URL, every environment of the table is listed. The override
variables `+endpointrule.EnvAuthAPIBaseURL+` and
`+endpointrule.EnvJWKSBaseURL+` are honoured; an invalid override is an
error, and a base URL outside the table is accepted only as a custom
deployment (both overrides set, the JWKS one equal to BASE_URL).`)
	asJSON := fs.Bool("json", false, "print JSON: an object for BASE_URL, an array without")
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	o := agentidentity.OverridesFromEnv(c.getenv)
	if fs.NArg() == 1 {
		env, err := agentidentity.ResolveWithOverrides(fs.Arg(0), o)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, toEndpointsJSON(env))
		}
		return writeEnvironments(c.stdout, []agentidentity.Environment{env})
	}
	var envs []agentidentity.Environment
	for _, e := range agentidentity.Environments() {
		env, err := agentidentity.ResolveWithOverrides(e.ChatGPTBaseURL, o)
		if err != nil {
			return fmt.Errorf("environment %s: %w", e.Name, err)
		}
		envs = append(envs, env)
	}
	if *asJSON {
		out := make([]endpointsJSON, len(envs))
		for i, e := range envs {
			out[i] = toEndpointsJSON(e)
		}
		return writeJSON(c.stdout, out)
	}
	return writeEnvironments(c.stdout, envs)
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

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
