package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/gateway"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

func runAssert(c *cli, args []string) error {
	fs := newFlagSet(c, "assert", "--runtime-id ID (--key-file FILE | --ssh-agent-key 'ssh-ed25519 …') --task-id ID [--timestamp RFC3339]", `
Print the value of the Authorization header ("AgentAssertion …") that signs a
first-party request of the agent ID under the task ID, at the given time
(default now, truncated to whole seconds).

`+keySourceHelp)
	runtimeID := fs.String("runtime-id", "", "agent runtime `ID` (required)")
	keys := addKeyFlags(fs)
	taskID := fs.String("task-id", "", "backend-owned task `ID` (required)")
	ts := fs.String("timestamp", "", "signing time, `RFC3339` (default now)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *runtimeID == "" {
		return usagef("assert: --runtime-id is required")
	}
	if *taskID == "" {
		return usagef("assert: --task-id is required")
	}
	at := time.Now()
	if *ts != "" {
		t, err := time.Parse(time.RFC3339, *ts)
		if err != nil {
			return fmt.Errorf("--timestamp: not an RFC 3339 time (like 2026-01-02T03:04:05Z)")
		}
		at = t
	}
	signer, closeKey, err := readSigner(c, *runtimeID, keys)
	if err != nil {
		return err
	}
	defer closeKey()
	h, err := signer.AuthorizationHeader(*taskID, at)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, h)
	return err
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
func readSigner(c *cli, runtimeID string, k keyFlags) (*identity.Signer, func(), error) {
	// The runtime id is checked first, so that its error is not blamed on
	// the key.
	if err := identity.ValidateRuntimeID(runtimeID); err != nil {
		return nil, nil, fmt.Errorf("--runtime-id: %w", err)
	}
	if line := *k.sshAgentKey; line != "" {
		if *k.file != "" || c.getenv(envPrivateKey) != "" {
			return nil, nil, usagef("--ssh-agent-key excludes --key-file and $%s: give one source of the agent key", envPrivateKey)
		}
		sock := c.getenv(envSSHAuthSock)
		if sock == "" {
			return nil, nil, fmt.Errorf("--ssh-agent-key: $%s is not set: start an ssh-agent holding the key and export its socket", envSSHAuthSock)
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
	key, from, err := secretSource{what: "agent private key", fileFlag: "--key-file", file: *k.file, envNames: []string{envPrivateKey}}.read(c)
	if err != nil {
		return nil, nil, err
	}
	s, err := identity.NewSigner(runtimeID, key)
	if err != nil {
		return nil, nil, fmt.Errorf("agent private key from %s: %w", from, err)
	}
	return s, func() {}, nil
}

// assertionJSON is what verify prints.
type assertionJSON struct {
	AgentRuntimeID string `json:"agent_runtime_id"`
	TaskID         string `json:"task_id"`
	Timestamp      string `json:"timestamp"`
}

func runVerify(c *cli, args []string) error {
	fs := newFlagSet(c, "verify", "--public-key 'ssh-ed25519 …' [--max-skew 5m] [--now RFC3339] < header", `
Verify an AgentAssertion header value read from standard input (the value
only, "AgentAssertion …", one trailing newline allowed) as the ChatGPT backend
does, and print {"agent_runtime_id":…,"task_id":…,"timestamp":…}. A refused
header exits 1 with the reason.`)
	pubLine := fs.String("public-key", "", "the agent's public key, an OpenSSH line 'ssh-ed25519 AAAA…' (required)")
	maxSkew := fs.Duration("max-skew", 5*time.Minute, "accepted clock skew of the signed timestamp")
	nowFlag := fs.String("now", "", "verify as of this `RFC3339` time (default now)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *pubLine == "" {
		return usagef("verify: --public-key is required")
	}
	if *maxSkew < 0 {
		return usagef("verify: --max-skew must not be negative")
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return fmt.Errorf("--now: not an RFC 3339 time (like 2026-01-02T03:04:05Z)")
		}
		now = t
	}
	pub, err := gateway.ParsePublicKeySSH(*pubLine)
	if err != nil {
		return fmt.Errorf("--public-key: %w", err)
	}
	data, err := limitio.ReadAll(bufio.NewReader(c.stdin), gateway.MaxAuthorizationHeaderLen+2)
	if err != nil {
		if errors.Is(err, limitio.ErrTooLarge) {
			return fmt.Errorf("header on standard input: longer than %d bytes", gateway.MaxAuthorizationHeaderLen)
		}
		return fmt.Errorf("reading standard input: %w", err)
	}
	header := stripOneNewline(string(data))
	a, err := gateway.VerifyAuthorizationHeader(header, pub, now, *maxSkew)
	if err != nil {
		return err
	}
	return writeCompactJSON(c.stdout, assertionJSON{a.AgentRuntimeID, a.TaskID, a.Timestamp.UTC().Format(time.RFC3339)})
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

// writeCompactJSON writes v as one line of JSON.
func writeCompactJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
