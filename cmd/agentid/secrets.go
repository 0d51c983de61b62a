package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/internal/limitio"
)

// Environment variables that may carry secrets.
const (
	envPrivateKey       = "AGENTID_PRIVATE_KEY"  // agent private key (PKCS#8 base64)
	envAccessToken      = "AGENTID_ACCESS_TOKEN" // Agent Identity JWT, tried first
	envCodexAccessToken = "CODEX_ACCESS_TOKEN"   // Agent Identity JWT, as the Codex CLI reads it
	envSSHAuthSock      = "SSH_AUTH_SOCK"        // the ssh-agent socket of --ssh-agent-key
)

// keyFlags are the flags that say where the agent private key is: a file
// (or standard input, or $AGENTID_PRIVATE_KEY), or an ssh-agent.
type keyFlags struct {
	file        string
	sshAgentKey string
}

// addKeyFlags defines --key-file and --ssh-agent-key on cmd; they exclude
// each other.
func addKeyFlags(cmd *cobra.Command) *keyFlags {
	k := &keyFlags{}
	cmd.Flags().StringVar(&k.file, "key-file", "", "read the private key from `FILE` (\"-\": standard input)")
	cmd.Flags().StringVar(&k.sshAgentKey, "ssh-agent-key", "", "sign with the key of this OpenSSH public `LINE` ('ssh-ed25519 AAAA…'), "+
		"held by the ssh-agent at $"+envSSHAuthSock+" (excludes --key-file and $"+envPrivateKey+")")
	_ = cmd.MarkFlagFilename("key-file")
	exclusive(cmd, "key-file", "ssh-agent-key")
	return k
}

// given reports whether a key flag is set.
func (k *keyFlags) given() bool { return k.file != "" || k.sshAgentKey != "" }

// maxSecretSize bounds a secret read from a file, standard input or the
// environment (an Agent Identity JWT may have 64 KiB, plus a newline).
const maxSecretSize = 64<<10 + 2

// secretSource says where a secret may come from.
type secretSource struct {
	cmd      *cobra.Command
	what     string   // "agent private key"
	fileFlag string   // "--key-file"
	file     string   // the flag's value; "-" means standard input
	stdin    bool     // --token-stdin
	envNames []string // tried in order when neither file nor stdin is given
}

// read returns the secret and a description of where it came from (never the
// secret). A missing source is a usage error; a bad value an input error.
func (s secretSource) read(c *cli) (string, string, error) {
	var (
		data []byte
		from string
		err  error
	)
	switch {
	case s.file != "" && s.stdin:
		return "", "", usagef(s.cmd, "give either %s or --token-stdin, not both", s.fileFlag)
	case s.file == "-" || s.stdin:
		from = "standard input"
		c.stdinNotice(s.cmd, "the "+s.what)
		data, err = limitio.ReadAll(c.stdin, maxSecretSize)
	case s.file != "":
		from = "file " + s.file
		data, err = readFileLimited(s.file, maxSecretSize)
	default:
		for _, name := range s.envNames {
			if v := c.getenv(name); v != "" {
				from = "$" + name
				data = []byte(v)
				break
			}
		}
		if from == "" {
			envs := make([]string, len(s.envNames))
			for i, n := range s.envNames {
				envs[i] = "$" + n
			}
			return "", "", &usageError{msg: "no " + s.what, hint: fmt.Sprintf("give %s FILE (\"-\" for standard input) or set %s", s.fileFlag, strings.Join(envs, " or "))}
		}
	}
	if err != nil {
		if errors.Is(err, limitio.ErrTooLarge) {
			return "", "", fmt.Errorf("%s from %s: larger than %d bytes", s.what, from, maxSecretSize)
		}
		return "", "", fmt.Errorf("%s: reading %s: %w", s.what, from, err)
	}
	v, err := cleanSecret(string(data))
	if err != nil {
		return "", "", fmt.Errorf("%s from %s: %w", s.what, from, err)
	}
	return v, from, nil
}

// cleanSecret strips exactly one trailing "\n" or "\r\n" and refuses an empty
// value and any other white space or control character. The message never
// quotes the value.
func cleanSecret(s string) (string, error) {
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		s = t
	} else if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = t
	}
	if s == "" {
		return "", errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == 0x7f {
			return "", fmt.Errorf("white space or a control character at byte %d (only one trailing newline is allowed)", i)
		}
	}
	return s, nil
}

// readFileLimited reads a regular file of at most max bytes.
func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() && st.Mode()&os.ModeNamedPipe == 0 && st.Mode()&os.ModeCharDevice == 0 {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return limitio.ReadAll(io.Reader(f), max)
}
