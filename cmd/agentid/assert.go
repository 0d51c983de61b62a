package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

func newAssertCmd(c *cli) *cobra.Command {
	var runtimeID, taskID string
	var ts timeValue
	var keys *keyFlags
	cmd := &cobra.Command{
		Use:   "assert --runtime-id ID --task-id ID (--key-file FILE | --ssh-agent-key LINE) [--timestamp RFC3339] [flags]",
		Short: "Print an AgentAssertion header value",
		Long: `Print the value of the Authorization header ("AgentAssertion …") that signs a
first-party request of the agent ID under the task ID, at the given time
(default now, truncated to whole seconds). The header is a credential until
its time window closes: hand it only to the backend it is for.

` + keySourceHelp + `

JSON (--json): {"authorization" (the header value), "agent_runtime_id",
"task_id", "timestamp"}.`,
		Example: examples(
			"agentid assert --runtime-id agent-1 --task-id task-1 --key-file agent.key",
			"AGENTID_PRIVATE_KEY=\"$(cat agent.key)\" agentid assert --runtime-id agent-1 --task-id task-1 --json"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			at := ts.or(time.Now())
			signer, closeKey, err := readSigner(c, cmd, runtimeID, keys)
			if err != nil {
				return err
			}
			defer closeKey()
			h, err := signer.AuthorizationHeader(taskID, at)
			if err != nil {
				return err
			}
			if c.json {
				return c.writeJSON(struct {
					Authorization  string `json:"authorization"`
					AgentRuntimeID string `json:"agent_runtime_id"`
					TaskID         string `json:"task_id"`
					Timestamp      string `json:"timestamp"`
				}{h, runtimeID, taskID, at.UTC().Truncate(time.Second).Format(time.RFC3339)})
			}
			_, err = fmt.Fprintln(c.stdout, h)
			return err
		},
	}
	cmd.Flags().StringVar(&runtimeID, "runtime-id", "", "agent runtime `ID` (required)")
	keys = addKeyFlags(cmd)
	cmd.Flags().StringVar(&taskID, "task-id", "", "backend-owned task `ID` (required)")
	cmd.Flags().Var(&ts, "timestamp", "signing time (default now)")
	markRequired(cmd, "runtime-id", "task-id")
	c.addJSONFlag(cmd)
	return cmd
}

// keySourceHelp is the help text on where the agent key comes from.
const keySourceHelp = `The private key (PKCS#8 base64, one line, one trailing newline allowed) is read
from --key-file FILE ("-" for standard input) or else from $` + envPrivateKey + `.
With --ssh-agent-key 'ssh-ed25519 …' the key stays in the ssh-agent at
$` + envSSHAuthSock + ` instead, which signs for it (use an agent that holds only
this key: whoever reaches its socket can sign with every key it holds). Such a
key cannot open sealed task ids: only plaintext task_id and taskId answers work.`

// readSigner makes a Signer for runtimeID from the key the flags name: the
// private key from a file or $AGENTID_PRIVATE_KEY, or a key in the ssh-agent
// at $SSH_AUTH_SOCK. The caller calls the returned func when done.
func readSigner(c *cli, cmd *cobra.Command, runtimeID string, k *keyFlags) (*identity.Signer, func(), error) {
	// The runtime id is checked first, so that its error is not blamed on
	// the key.
	if err := identity.ValidateRuntimeID(runtimeID); err != nil {
		return nil, nil, fmt.Errorf("--runtime-id: %w", err)
	}
	if line := k.sshAgentKey; line != "" {
		if k.file != "" || c.getenv(envPrivateKey) != "" {
			return nil, nil, &usageError{msg: fmt.Sprintf("--ssh-agent-key excludes --key-file and $%s", envPrivateKey), hint: "give one source of the agent key"}
		}
		sock := c.getenv(envSSHAuthSock)
		if sock == "" {
			return nil, nil, withHint(fmt.Errorf("--ssh-agent-key: $%s is not set", envSSHAuthSock), "start an ssh-agent holding the key and export its socket")
		}
		key, err := identity.NewSSHAgentKey(sock, line, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("--ssh-agent-key: %w", err)
		}
		s, err := identity.NewSignerFromCrypto(runtimeID, key)
		if err != nil {
			key.Close()
			return nil, nil, fmt.Errorf("--ssh-agent-key: %w", err)
		}
		return s, func() { key.Close() }, nil
	}
	key, from, err := secretSource{cmd: cmd, what: "agent private key", fileFlag: "--key-file", file: k.file, envNames: []string{envPrivateKey}}.read(c)
	if err != nil {
		return nil, nil, err
	}
	s, err := identity.NewSigner(runtimeID, codexhome.NewSecret(key))
	if err != nil {
		return nil, nil, fmt.Errorf("agent private key from %s: %w", from, err)
	}
	return s, func() {}, nil
}

// assertionJSON is what verify prints.
type assertionJSON struct {
	Verified       bool   `json:"verified"`
	AgentRuntimeID string `json:"agent_runtime_id"`
	TaskID         string `json:"task_id"`
	Timestamp      string `json:"timestamp"`
}

func newVerifyCmd(c *cli) *cobra.Command {
	var pubLine string
	var maxSkew time.Duration
	var now timeValue
	cmd := &cobra.Command{
		Use:   "verify --public-key LINE [--max-skew 5m] [--now RFC3339] < HEADER [flags]",
		Short: "Verify an AgentAssertion header value read from standard input",
		Long: `Verify an AgentAssertion header value read from standard input (the value
only, "AgentAssertion …", one trailing newline allowed) as the ChatGPT backend
does, against the agent's public key. A refused header exits 1 with the
reason. Prints the agent runtime id, task id and signing time.

JSON (--json): {"verified" (true), "agent_runtime_id", "task_id",
"timestamp"}; when refused, {"verified": false, "error", "hint"}.`,
		Example: examples(
			"agentid assert --runtime-id agent-1 --task-id t1 --key-file agent.key | agentid verify --public-key \"$(cat agent.pub)\"",
			"agentid verify --public-key 'ssh-ed25519 AAAA…' --now 2026-01-02T03:04:05Z --json < header.txt"),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.failWith("verified", false)
			if maxSkew < 0 {
				return withHint(fmt.Errorf("--max-skew %v is negative", maxSkew), "give a duration of 0 or more, like 5m")
			}
			pub, err := gateway.ParsePublicKeySSH(pubLine)
			if err != nil {
				return withHint(fmt.Errorf("--public-key: %w", err), "give the agent's OpenSSH public key line, 'ssh-ed25519 AAAA…'")
			}
			c.stdinNotice(cmd, "the AgentAssertion header value")
			data, err := limitio.ReadAll(bufio.NewReader(c.stdin), gateway.MaxAuthorizationHeaderLen+2)
			if err != nil {
				if errors.Is(err, limitio.ErrTooLarge) {
					return fmt.Errorf("header on standard input: longer than %d bytes", gateway.MaxAuthorizationHeaderLen)
				}
				return fmt.Errorf("reading standard input: %w", err)
			}
			header := stripOneNewline(string(data))
			a, err := gateway.VerifyAuthorizationHeader(header, pub, now.or(time.Now()), maxSkew)
			if err != nil {
				return err
			}
			out := assertionJSON{true, a.AgentRuntimeID, a.TaskID, a.Timestamp.UTC().Format(time.RFC3339)}
			if c.json {
				return c.writeJSON(out)
			}
			return writeKeyValues(c.stdout, [][2]string{
				{"verified", "true"}, {"agent_runtime_id", out.AgentRuntimeID}, {"task_id", out.TaskID}, {"timestamp", out.Timestamp},
			})
		},
	}
	cmd.Flags().StringVar(&pubLine, "public-key", "", "the agent's public key, an OpenSSH `LINE` 'ssh-ed25519 AAAA…' (required)")
	cmd.Flags().DurationVar(&maxSkew, "max-skew", 5*time.Minute, "accepted clock skew of the signed timestamp")
	cmd.Flags().Var(&now, "now", "verify as of this time (default now)")
	markRequired(cmd, "public-key")
	c.addJSONFlag(cmd)
	return cmd
}

func stripOneNewline(s string) string {
	if len(s) >= 2 && s[len(s)-2:] == "\r\n" {
		return s[:len(s)-2]
	}
	if len(s) >= 1 && s[len(s)-1] == '\n' {
		return s[:len(s)-1]
	}
	return s
}

// writeKeyValues writes "key value" lines, values made safe for a terminal.
func writeKeyValues(w io.Writer, rows [][2]string) error {
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s %s\n", r[0], oneLine(r[1])); err != nil {
			return err
		}
	}
	return nil
}
