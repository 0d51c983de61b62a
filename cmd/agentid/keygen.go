package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity"
)

func newKeygenCmd(c *cli) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE [--force]] [flags]",
		Short: "Generate a new agent key",
		Long: `Generate a new agent key as the Codex CLI does. With --out, the private key
(PKCS#8 DER in standard base64, one line) is written to FILE with mode 0600,
and the public key ("ssh-ed25519 …") is printed on standard output. An existing
FILE is refused unless --force is given; a symbolic link is never followed.

Without --out, both lines are printed on standard output (the private key
first) and a warning goes to standard error: with "assert", the only command
that prints a secret, on purpose.

JSON (--json, needs --out): {"public_key_ssh", "private_key_file"}; the
private key is never in it.`,
		Example: examples("agentid keygen --out agent.key", "agentid keygen --out agent.key --force --json"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if force && out == "" {
				return usagef(cmd, "--force needs --out")
			}
			if c.json && out == "" {
				return usagef(cmd, "--json needs --out: the JSON object never holds the private key")
			}
			km, err := identity.GenerateKeyMaterial()
			if err != nil {
				return err
			}
			if out == "" {
				fmt.Fprintln(c.stderr, "agentid: keygen: warning: printing a new PRIVATE key on standard output; use --out FILE to keep it out of terminals and logs")
				_, err := fmt.Fprintf(c.stdout, "%s\n%s\n", km.PrivateKeyPKCS8Base64.Reveal(), km.PublicKeySSH)
				return err
			}
			if err := writeSecretFile(out, []byte(km.PrivateKeyPKCS8Base64.Reveal()+"\n"), force); err != nil {
				return err
			}
			if c.json {
				abs, err := filepath.Abs(out)
				if err != nil {
					return err
				}
				return c.writeJSON(struct {
					PublicKeySSH   string `json:"public_key_ssh"`
					PrivateKeyFile string `json:"private_key_file"`
				}{km.PublicKeySSH, abs})
			}
			_, err = fmt.Fprintln(c.stdout, km.PublicKeySSH)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the private key to `FILE` (mode 0600)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing --out file")
	_ = cmd.MarkFlagFilename("out")
	c.addJSONFlag(cmd)
	return cmd
}

// writeSecretFile creates path with mode 0600 and writes data. An existing
// path is refused unless force; with force a regular file is replaced (never
// written through a symbolic link).
func writeSecretFile(path string, data []byte, force bool) error {
	if force {
		st, err := os.Lstat(path)
		switch {
		case err == nil && !st.Mode().IsRegular():
			return fmt.Errorf("%s exists and is not a regular file; not replacing it", path)
		case err == nil:
			if err := os.Remove(path); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return withHint(fmt.Errorf("%s already exists", path), "use --force to replace it")
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
