package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

const jwtSynopsis = "decode --insecure|verify [--token-file FILE | --token-stdin] [flags]"

const jwtHelp = `
Decode or verify an Agent Identity JWT. The token is read from --token-file
FILE ("-" for standard input), from standard input with --token-stdin, or else
from $` + envAccessToken + ` or $` + envCodexAccessToken + ` (in that order). One trailing newline
is allowed. The agent_private_key claim is always printed as "<redacted>".

  agentid jwt decode --insecure
                       prints the claims WITHOUT verifying anything
                       (signature, issuer, audience and lifetime unchecked);
                       --insecure is required to say you know that
  agentid jwt verify   verifies the token against the JWKS of the resolved
                       environment (or --jwks-url) and prints its claims

Run "agentid jwt decode -h" or "agentid jwt verify -h" for their flags.`

func runJWT(c *cli, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(c.stderr, "Usage: agentid jwt %s\n%s\n", jwtSynopsis, jwtHelp)
		return usagef("jwt: missing subcommand decode or verify")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(c.stdout, "Usage: agentid jwt %s\n%s\n", jwtSynopsis, jwtHelp)
		return nil
	case "decode":
		return runJWTDecode(c, args[1:])
	case "verify":
		return runJWTVerify(c, args[1:])
	}
	return usagef("jwt: unknown subcommand %q (want decode or verify)", args[0])
}

func tokenFlags(c *cli, name, help string) (*flag.FlagSet, *string, *bool) {
	fs := newFlagSet(c, "jwt "+name, "[--token-file FILE | --token-stdin]", help)
	file := fs.String("token-file", "", "read the token from `FILE` (\"-\": standard input)")
	stdin := fs.Bool("token-stdin", false, "read the token from standard input")
	return fs, file, stdin
}

func readToken(c *cli, file string, stdin bool) (string, error) {
	tok, _, err := secretSource{
		what: "token", fileFlag: "--token-file", file: file, stdin: stdin,
		envNames: []string{envAccessToken, envCodexAccessToken},
	}.read(c)
	return tok, err
}

func runJWTDecode(c *cli, args []string) error {
	fs, file, stdin := tokenFlags(c, "decode", `
Decode the claims of an Agent Identity JWT WITHOUT verifying it: the
signature, issuer, audience and lifetime are NOT checked, so the output proves
nothing about who made the token. The form is still checked strictly (canonical
base64url, no duplicate JSON members, claim types). Prints
{"verified":false,"warning":…,"claims":{…}}; agent_private_key is redacted.
--insecure is required (as step-cli's "jwt inspect" asks), since nothing is
verified; use "agentid jwt verify" to check a token.`)
	insecure := fs.Bool("insecure", false, "required: decode without verifying the signature, issuer, audience or lifetime")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if !*insecure {
		return usagef("jwt decode: --insecure is required: the token is decoded WITHOUT verification (use \"agentid jwt verify\" to check it)")
	}
	tok, err := readToken(c, *file, *stdin)
	if err != nil {
		return err
	}
	claims, err := identity.DecodeJWTUnverified(tok)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stderr, "agentid: warning: the token was decoded but NOT verified (signature, issuer, audience and expiry unchecked)")
	return writeJSON(c.stdout, struct {
		Verified bool       `json:"verified"`
		Warning  string     `json:"warning"`
		Claims   claimsJSON `json:"claims"`
	}{false, "NOT VERIFIED: signature, issuer, audience and expiry were not checked", redactClaims(claims)})
}

func runJWTVerify(c *cli, args []string) error {
	fs, file, stdin := tokenFlags(c, "verify", `
Verify an Agent Identity JWT as the Codex CLI does: RS256 only, a key of the
JWKS, the exact issuer and audience, and its lifetime. The JWKS URL, issuer and
audience are those of the environment --chatgpt-base-url resolves to (with the
override variables), unless given. Prints {"verified":true,"claims":{…}} with
agent_private_key redacted; a refused token exits 1 with the reason.`)
	base := fs.String("chatgpt-base-url", agentidentity.DefaultChatGPTBaseURL, "ChatGPT base `URL` whose environment gives the defaults")
	jwksURL := fs.String("jwks-url", "", "JWKS `URL` (https, or http on loopback)")
	issuer := fs.String("issuer", "", "required \"iss\"")
	audience := fs.String("audience", "", "required \"aud\"")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	tok, err := readToken(c, *file, *stdin)
	if err != nil {
		return err
	}
	v := &identity.JWTVerifier{JWKSURL: *jwksURL, Issuer: *issuer, Audience: *audience, HTTPClient: c.httpClient()}
	if v.JWKSURL == "" || v.Issuer == "" || v.Audience == "" {
		env, err := agentidentity.ResolveWithOverrides(*base, agentidentity.OverridesFromEnv(c.getenv))
		if err != nil {
			return fmt.Errorf("--chatgpt-base-url: %w", err)
		}
		v.JWKSURL = orDefault(v.JWKSURL, env.JWKSURL)
		v.Issuer = orDefault(v.Issuer, env.Issuer)
		v.Audience = orDefault(v.Audience, env.Audience)
	}
	ctx, cancel := c.signalContext(*timeout)
	defer cancel()
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		return err
	}
	return writeJSON(c.stdout, struct {
		Verified bool       `json:"verified"`
		Claims   claimsJSON `json:"claims"`
	}{true, redactClaims(claims)})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
