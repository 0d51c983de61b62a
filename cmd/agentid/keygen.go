package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/agentidentity/agentidentity/identity"
)

func runKeygen(c *cli, args []string) error {
	fset := newFlagSet(c, "keygen", "[--out FILE] [--force]", `
Generate a new agent key as the Codex CLI does. With --out, the private key
(PKCS#8 DER in standard base64, one line) is written to FILE with mode 0600,
and the public key ("ssh-ed25519 …") is printed on standard output. An existing
FILE is refused unless --force is given.

Without --out, both lines are printed on standard output (the private key
first) and a warning goes to standard error: this is the only command that
ever prints a secret.`)
	out := fset.String("out", "", "write the private key to `FILE` (mode 0600)")
	force := fset.Bool("force", false, "replace an existing --out file")
	if err := c.parse(fset, args, 0); err != nil {
		return err
	}
	if *force && *out == "" {
		return usagef("--force needs --out")
	}
	km, err := identity.GenerateKeyMaterial()
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(c.stderr, "agentid: warning: printing a new PRIVATE key on standard output; use --out FILE to keep it out of terminals and logs")
		_, err := fmt.Fprintf(c.stdout, "%s\n%s\n", km.PrivateKeyPKCS8Base64.Reveal(), km.PublicKeySSH)
		return err
	}
	if err := writeSecretFile(*out, []byte(km.PrivateKeyPKCS8Base64.Reveal()+"\n"), *force); err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, km.PublicKeySSH)
	return err
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
			return fmt.Errorf("%s already exists; use --force to replace it", path)
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
