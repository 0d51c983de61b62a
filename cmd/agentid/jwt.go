package main

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity"
	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
)

const redacted = "<redacted>"

// claimsJSON is how jwt decode and jwt verify print claims: the agent
// private key is never shown, only whether it is present.
type claimsJSON struct {
	Issuer          string           `json:"iss,omitempty"`
	Subject         string           `json:"sub,omitempty"`
	Audience        any              `json:"aud,omitempty"`
	ExpiresAt       *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore       *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt        *jwt.NumericDate `json:"iat,omitempty"`
	ID              string           `json:"jti,omitempty"`
	AgentRuntimeID  string           `json:"agent_runtime_id"`
	AgentPrivateKey string           `json:"agent_private_key"`
	codexhome.Account
}

func redactClaims(c *identity.Claims) claimsJSON {
	out := claimsJSON{
		Issuer: c.Issuer, Subject: c.Subject, ExpiresAt: c.ExpiresAt, NotBefore: c.NotBefore,
		IssuedAt: c.IssuedAt, ID: c.ID, AgentRuntimeID: c.AgentRuntimeID, Account: c.Account,
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		out.Audience = c.Audience[0]
	default:
		out.Audience = []string(c.Audience)
	}
	if !c.AgentPrivateKey.IsZero() {
		out.AgentPrivateKey = redacted
	}
	return out
}

const jwtTokenHelp = `The token is read from --token-file FILE ("-" for standard input), from
standard input with --token-stdin, or else from $` + envAccessToken + ` or
$` + envCodexAccessToken + ` (in that order). One trailing newline is allowed.
The agent_private_key claim is always shown as "<redacted>".`

func newJWTCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwt (decode --insecure | verify) [flags]",
		Short: "Decode (unverified) or verify an Agent Identity JWT",
		Long: `Decode or verify an Agent Identity JWT.

  agentid jwt decode --insecure   prints the claims WITHOUT verifying anything
                                  (signature, issuer, audience and lifetime
                                  unchecked); --insecure says you know that
  agentid jwt verify              verifies the token against the JWKS of the
                                  resolved environment (or --jwks-url) and
                                  prints its claims

` + jwtTokenHelp,
		Example: examples("agentid jwt verify --token-file token.jwt", "agentid jwt decode --insecure --token-stdin < token.jwt"),
		Args:    unknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &usageError{msg: "missing subcommand: decode or verify", hint: seeHelp(cmd)}
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.AddCommand(newJWTDecodeCmd(c), newJWTVerifyCmd(c))
	return cmd
}

// tokenFlags defines --token-file and --token-stdin.
func tokenFlags(cmd *cobra.Command) (file *string, stdin *bool) {
	file = cmd.Flags().String("token-file", "", "read the token from `FILE` (\"-\": standard input)")
	stdin = cmd.Flags().Bool("token-stdin", false, "read the token from standard input")
	_ = cmd.MarkFlagFilename("token-file")
	exclusive(cmd, "token-file", "token-stdin")
	return file, stdin
}

func readToken(c *cli, cmd *cobra.Command, file string, stdin bool) (string, error) {
	tok, _, err := secretSource{
		cmd: cmd, what: "token", fileFlag: "--token-file", file: file, stdin: stdin,
		envNames: []string{envAccessToken, envCodexAccessToken},
	}.read(c)
	return tok, err
}

// claimsText writes claims as "name value" lines.
func claimsText(c claimsJSON) [][2]string {
	rows := [][2]string{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"aud", fmt.Sprint(c.Audience)},
	}
	for _, d := range []struct {
		name string
		t    *jwt.NumericDate
	}{{"iat", c.IssuedAt}, {"nbf", c.NotBefore}, {"exp", c.ExpiresAt}} {
		if d.t != nil {
			rows = append(rows, [2]string{d.name, d.t.UTC().Format(time.RFC3339)})
		}
	}
	rows = append(rows, [][2]string{
		{"agent_runtime_id", c.AgentRuntimeID}, {"account_id", c.AccountID}, {"chatgpt_user_id", c.UserID},
		{"email", orDash(c.Email)}, {"plan_type", c.PlanType}, {"chatgpt_account_is_fedramp", fmt.Sprint(c.FedRAMP)},
		{"agent_private_key", orDash(c.AgentPrivateKey)},
	}...)
	return rows
}

const notVerifiedWarning = "NOT VERIFIED: signature, issuer, audience and expiry were not checked"

func newJWTDecodeCmd(c *cli) *cobra.Command {
	var insecure bool
	var file *string
	var stdin *bool
	cmd := &cobra.Command{
		Use:   "decode --insecure [--token-file FILE | --token-stdin] [flags]",
		Short: "Print the claims of an Agent Identity JWT WITHOUT verifying it",
		Long: `Decode the claims of an Agent Identity JWT WITHOUT verifying it: the
signature, issuer, audience and lifetime are NOT checked, so the output proves
nothing about who made the token. The form is still checked strictly (canonical
base64url, no duplicate JSON members, claim types). --insecure is required (as
step-cli's "jwt inspect" asks), since nothing is verified; use "agentid jwt
verify" to check a token. A warning goes to standard error.

` + jwtTokenHelp + `

JSON (--json): {"verified" (false), "warning", "claims": {"iss", "sub", "aud",
"exp", "nbf", "iat", "jti", "agent_runtime_id", "agent_private_key"
("<redacted>"), "account_id", "chatgpt_user_id", "email", "plan_type",
"chatgpt_account_is_fedramp"}}.`,
		Example: examples("agentid jwt decode --insecure --token-file token.jwt", "agentid jwt decode --insecure --token-stdin --json < token.jwt"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.failWith("verified", false)
			if !insecure {
				return &usageError{msg: "--insecure is required: the token is decoded WITHOUT verification", hint: "add --insecure, or use \"agentid jwt verify\" to check it"}
			}
			tok, err := readToken(c, cmd, *file, *stdin)
			if err != nil {
				return err
			}
			claims, err := identity.DecodeJWTUnverified(codexhome.NewSecret(tok))
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stderr, "agentid: jwt decode: warning: the token was decoded but NOT verified (signature, issuer, audience and expiry unchecked)")
			rc := redactClaims(claims)
			if c.json {
				return c.writeJSON(struct {
					Verified bool       `json:"verified"`
					Warning  string     `json:"warning"`
					Claims   claimsJSON `json:"claims"`
				}{false, notVerifiedWarning, rc})
			}
			return writeKeyValues(c.stdout, append([][2]string{{"verified", "false (" + notVerifiedWarning + ")"}}, claimsText(rc)...))
		},
	}
	cmd.Flags().BoolVar(&insecure, "insecure", false, "required: decode without verifying the signature, issuer, audience or lifetime")
	file, stdin = tokenFlags(cmd)
	c.addJSONFlag(cmd)
	return cmd
}

func newJWTVerifyCmd(c *cli) *cobra.Command {
	var base, jwksURL, issuer, audience string
	var timeout time.Duration
	var file *string
	var stdin *bool
	cmd := &cobra.Command{
		Use:   "verify [--token-file FILE | --token-stdin] [--chatgpt-base-url URL | --jwks-url URL --issuer ISS --audience AUD] [flags]",
		Short: "Verify an Agent Identity JWT against its environment's JWKS",
		Long: `Verify an Agent Identity JWT as the Codex CLI does: RS256 only, a key of the
JWKS, the exact issuer and audience, and its lifetime. The JWKS URL, issuer and
audience are those of the environment --chatgpt-base-url resolves to (with the
override variables), unless given. A refused token exits 1 with the reason.
The JWKS fetch is printed on standard error as it is sent.

` + jwtTokenHelp + `

JSON (--json): {"verified" (true), "claims": {the claims, as "jwt decode"
prints them}}; when refused, {"verified": false, "error", "hint"}.`,
		Example: examples(
			"agentid jwt verify --token-file token.jwt",
			"CODEX_ACCESS_TOKEN=\"$(cat token.jwt)\" agentid jwt verify --chatgpt-base-url http://127.0.0.1:8080/backend-api --json"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.failWith("verified", false)
			tok, err := readToken(c, cmd, *file, *stdin)
			if err != nil {
				return err
			}
			httpc, _, err := c.httpClient()
			if err != nil {
				return err
			}
			v := &identity.JWTVerifier{JWKSURL: jwksURL, Issuer: issuer, Audience: audience, HTTPClient: httpc}
			if v.JWKSURL == "" || v.Issuer == "" || v.Audience == "" {
				env, err := agentidentity.ResolveWithOverrides(base, agentidentity.OverridesFromEnv(c.getenv))
				if err != nil {
					return withHint(fmt.Errorf("--chatgpt-base-url: %w", err), "give --jwks-url, --issuer and --audience, or a base URL \"agentid endpoints\" lists")
				}
				v.JWKSURL = orDefault(v.JWKSURL, env.JWKSURL)
				v.Issuer = orDefault(v.Issuer, env.Issuer)
				v.Audience = orDefault(v.Audience, env.Audience)
			}
			ctx, cancel := c.signalContext(timeout)
			defer cancel()
			claims, err := v.Verify(ctx, codexhome.NewSecret(tok))
			if err != nil {
				return err
			}
			rc := redactClaims(claims)
			if c.json {
				return c.writeJSON(struct {
					Verified bool       `json:"verified"`
					Claims   claimsJSON `json:"claims"`
				}{true, rc})
			}
			return writeKeyValues(c.stdout, append([][2]string{{"verified", "true"}}, claimsText(rc)...))
		},
	}
	file, stdin = tokenFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&base, "chatgpt-base-url", agentidentity.DefaultChatGPTBaseURL, "ChatGPT base `URL` whose environment gives the defaults")
	f.StringVar(&jwksURL, "jwks-url", "", "JWKS `URL` (https, or http on loopback)")
	f.StringVar(&issuer, "issuer", "", "required \"iss\" (default: the environment's)")
	f.StringVar(&audience, "audience", "", "required \"aud\" (default: the environment's)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	c.addJSONFlag(cmd)
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
