package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/agentidentity/agentidentity/identity"
)

// Exit codes of every command (see exitCodeHelp).
const (
	exitOK      = 0 // success, or --help
	exitInvalid = 1 // everything else that fails
	exitUsage   = 2 // the command line cannot be parsed into a request
)

// usageError is a command line that cannot be parsed into a request: exit
// 2. hint says what to do.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

// usagef is a usage error whose hint points at the command's help.
func usagef(cmd *cobra.Command, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), hint: seeHelp(cmd)}
}

// hintedError is a failure (exit 1) with what to do about it.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

// withHint adds what to do to err.
func withHint(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return &hintedError{err: err, hint: fmt.Sprintf(format, a...)}
}

// exitError ends the command with code and no message (it has been
// printed).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// libraryPrefix matches the package prefix of a library error ("identity: ",
// "gateway: ", …) at the start of the text or of a clause.
var libraryPrefix = regexp.MustCompile(`(^|[\s(\["':])(?:agentidentity|identity|identitytest|gateway|codexhome): `)

// stripLibraryPrefixes removes the package prefixes of library errors: they
// say where an error was made, which a command-line user cannot act on.
// The library's texts are not changed; only what agentid prints.
func stripLibraryPrefixes(s string) string {
	for {
		t := libraryPrefix.ReplaceAllString(s, "$1")
		if t == s {
			return t
		}
		s = t
	}
}

// describeError returns the exit code of err and, for a message to print,
// what happened and what to do ("" when nothing).
func describeError(err error) (code int, what, hint string) {
	var ue *usageError
	var xe *exitError
	var he *hintedError
	switch {
	case errors.As(err, &xe):
		return xe.code, "", ""
	case errors.As(err, &ue):
		return exitUsage, oneLine(ue.msg), ue.hint
	case errors.As(err, &he):
		hint = he.hint
	default:
		hint = autoHint(err)
	}
	return exitInvalid, oneLine(stripLibraryPrefixes(err.Error())), hint
}

// autoHint says what to do about a few errors whose cure is always the same.
func autoHint(err error) string {
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ua):
		return "give this command CODEX_CA_CERTIFICATE=FILE, a PEM file with the server's CA certificate (\"agentid serve --tls\" prints the line to use)"
	case errors.Is(err, identity.ErrNoAgentIdentity):
		return "run \"agentid status\" to see what the Codex home holds"
	case errors.Is(err, context.DeadlineExceeded):
		return "raise --timeout, or check that the server answers"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "check that the server runs at that address"
	}
	return ""
}

// errorLine is the one line an error gets on standard error.
func errorLine(cmd *cobra.Command, what, hint string) string {
	var b strings.Builder
	b.WriteString("agentid: ")
	if name := commandName(cmd); name != "" {
		b.WriteString(name + ": ")
	}
	b.WriteString(what)
	if hint != "" {
		b.WriteString("; " + oneLine(hint))
	}
	return b.String()
}
