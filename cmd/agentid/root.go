package main

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitCodeHelp is the exit-code rule, as "agentid help" and the README show
// it.
const exitCodeHelp = `Exit codes (every command):
  0  success.
  2  the command line cannot be parsed into a request: an unknown command or
     flag, a missing required argument or flag, conflicting flags, or a flag
     value of the wrong form for its type (not a duration, not an RFC 3339
     time, not host:port, not one of the listed choices).
  1  everything else that fails, including a value of the right form that the
     operation refuses (a non-loopback listen address, an http upstream, a
     runtime id outside the allowlist, a base URL endpoints refuses), a
     verification refused, a backend error, or no usable identity.

Every error is one line on standard error:

  agentid: COMMAND: what happened; what to do

With --json, a command prints one JSON object on standard output, also when
it exits 1: then the object has "error" (what happened) and "hint" (what to
do, when there is something to do).`

const rootLong = `agentid acts as, inspects and tests a Codex Agent Identity: it resolves
endpoints, makes and verifies AgentAssertion headers, registers tasks, decodes
and verifies Agent Identity JWTs, provisions the identity of a $CODEX_HOME,
runs a fake backend and a verifying gateway, and runs an end-to-end demo.
Start with "agentid demo": it needs no network, no account and no
configuration.

Secrets (keys, JWTs, tokens) are read only from files, standard input or
environment variables, never from flags (other users see flags in the process
list), and never printed, except the private key by "keygen" without --out
and the header "assert" makes, on purpose.

` + exitCodeHelp

// newRootCmd builds the command tree for one run with c's streams and
// environment.
func newRootCmd(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:     "agentid",
		Short:   "Act as, inspect and test a Codex Agent Identity",
		Long:    rootLong,
		Example: examples("agentid demo", "agentid help jwt decode", "agentid status --json", "source <(agentid completion bash)"),
		Version: versionLine(),
		Args:    unknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			// "agentid" alone: the list, on standard error, as a usage
			// mistake.
			cmd.SetOut(c.stderr)
			_ = cmd.Help()
			return &exitError{code: exitUsage}
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return checkRequiredFlags(cmd)
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetIn(c.stdin)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newDemoCmd(c),
		newEndpointsCmd(c),
		newKeygenCmd(c),
		newAssertCmd(c),
		newVerifyCmd(c),
		newRegisterTaskCmd(c),
		newJWTCmd(c),
		newProvisionCmd(c),
		newStatusCmd(c),
		newServeCmd(c),
		newGatewayCmd(c),
		newVersionCmd(c),
	)
	root.SetHelpCommand(newHelpCmd(root))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	fixCompletionCmd(root)
	return root
}

// examples formats command lines as an Example block.
func examples(lines ...string) string {
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// newHelpCmd replaces cobra's help command, which exits 0 for an unknown
// topic.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:     "help [COMMAND]...",
		Short:   "Show the command list, or the help of a command",
		Long:    "Show the command list and the exit-code rule, or the help of a command\n(the same as \"agentid COMMAND --help\"), on standard output.",
		Example: examples("agentid help", "agentid help jwt decode"),
		Args:    cobra.ArbitraryArgs,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			target, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				return &usageError{msg: fmt.Sprintf("unknown help topic %q", topic), hint: suggestHint(target, rest)}
			}
			return target.Help()
		},
	}
}

// fixCompletionCmd gives cobra's completion commands the examples every
// command has, and makes a missing or unknown shell a usage error (cobra
// prints the help and exits 0).
func fixCompletionCmd(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		if cmd.Name() != "completion" {
			continue
		}
		cmd.Example = examples("source <(agentid completion bash)", "agentid completion zsh > \"${fpath[1]}/_agentid\"", "agentid completion fish > ~/.config/fish/completions/agentid.fish")
		cmd.Args = unknownSubcommand
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			return &usageError{msg: "missing shell: bash, zsh, fish or powershell", hint: seeHelp(cmd)}
		}
		for _, sh := range cmd.Commands() {
			switch sh.Name() {
			case "bash":
				sh.Example = examples("source <(agentid completion bash)", "agentid completion bash > /etc/bash_completion.d/agentid")
			case "zsh":
				sh.Example = examples("agentid completion zsh > \"${fpath[1]}/_agentid\"", "source <(agentid completion zsh)")
			case "fish":
				sh.Example = examples("agentid completion fish | source", "agentid completion fish > ~/.config/fish/completions/agentid.fish")
			case "powershell":
				sh.Example = examples("agentid completion powershell | Out-String | Invoke-Expression")
			}
		}
	}
}

// unknownSubcommand is the Args of a command with subcommands: any argument
// is an unknown subcommand (a known one was dispatched to).
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), hint: suggestHint(cmd, args)}
}

// suggestHint is "did you mean …?" for the first of rest under cmd, and
// where the list is.
func suggestHint(cmd *cobra.Command, rest []string) string {
	list := fmt.Sprintf("run %q for the list", strings.TrimSpace("agentid help "+commandName(cmd)))
	if cmd == nil || len(rest) == 0 {
		return list
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(rest[0]); len(s) > 0 {
		return fmt.Sprintf("did you mean %q? (%s)", strings.TrimSpace(commandName(cmd)+" "+s[0]), list)
	}
	return list
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error { return maxArgs(0)(cmd, args) }

// maxArgs refuses more than n positional arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return &usageError{msg: fmt.Sprintf("unexpected argument %q", args[n]), hint: seeHelp(cmd)}
		}
		return nil
	}
}

// seeHelp is the hint of a usage error.
func seeHelp(cmd *cobra.Command) string {
	return fmt.Sprintf("see %q", cmd.CommandPath()+" --help")
}

// flagError turns pflag's parse errors into usage errors.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	hint := seeHelp(cmd)
	if name, ok := strings.CutPrefix(msg, "unknown shorthand flag: "); ok {
		// "-json" is read as -j -s -o -n: say that long flags take two
		// dashes.
		if _, word, ok := strings.Cut(name, " in -"); ok && len(word) > 1 && !strings.HasPrefix(word, "-") {
			w, _, _ := strings.Cut(word, "=")
			if cmd.Flags().Lookup(w) != nil {
				hint = fmt.Sprintf("long flags take two dashes: --%s", w)
			}
		}
	}
	return &usageError{msg: msg, hint: hint}
}

// checkRequiredFlags checks the flags marked required and the flag groups
// before cobra does, so that a missing or conflicting flag is a usage error
// with a message of the usual form.
func checkRequiredFlags(cmd *cobra.Command) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if v, ok := f.Annotations[cobra.BashCompOneRequiredFlag]; ok && len(v) > 0 && v[0] == "true" && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	switch len(missing) {
	case 0:
	case 1:
		return &usageError{msg: missing[0] + " is required", hint: seeHelp(cmd)}
	default:
		return &usageError{msg: strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1] + " are required", hint: seeHelp(cmd)}
	}
	for _, g := range strings.Split(cmd.Annotations[annExclusive], ";") {
		if a, b, ok := strings.Cut(g, " "); ok && cmd.Flags().Changed(a) && cmd.Flags().Changed(b) {
			return &usageError{msg: fmt.Sprintf("--%s and --%s exclude each other", a, b), hint: "give one of them"}
		}
	}
	for _, g := range strings.Split(cmd.Annotations[annTogether], ";") {
		if a, b, ok := strings.Cut(g, " "); ok && cmd.Flags().Changed(a) != cmd.Flags().Changed(b) {
			return &usageError{msg: fmt.Sprintf("--%s and --%s go together", a, b), hint: "give both, or neither"}
		}
	}
	return nil
}

// Annotations of flag pairs that exclude each other, or go together
// ("a b;c d"). cobra has flag groups, but their messages list Go slices.
const (
	annExclusive = "agentid/exclusive"
	annTogether  = "agentid/together"
)

// exclusive says flags a and b exclude each other.
func exclusive(cmd *cobra.Command, a, b string) { addFlagPair(cmd, annExclusive, a, b) }

// together says flags a and b are given both or neither.
func together(cmd *cobra.Command, a, b string) { addFlagPair(cmd, annTogether, a, b) }

func addFlagPair(cmd *cobra.Command, ann, a, b string) {
	if cmd.Flags().Lookup(a) == nil || cmd.Flags().Lookup(b) == nil {
		panic("agentid: flag pair " + a + " " + b + " not defined") // a programming error
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	if cmd.Annotations[ann] != "" {
		cmd.Annotations[ann] += ";"
	}
	cmd.Annotations[ann] += a + " " + b
}

// markRequired marks flags required (for the check above, completion and
// the help).
func markRequired(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(err) // a programming error: the flag is not defined
		}
	}
}

// enumValue is a string flag that takes one of a few values: another value
// is a usage error.
type enumValue struct {
	value   string
	choices []string
}

func newEnum(def string, choices ...string) *enumValue {
	return &enumValue{value: def, choices: choices}
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return strings.Join(e.choices, "|") }
func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.choices, s) {
		return fmt.Errorf("want one of %s", strings.Join(e.choices, ", "))
	}
	e.value = s
	return nil
}

// completeChoices completes an enum flag.
func completeChoices(cmd *cobra.Command, name string, e *enumValue) {
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(e.choices, cobra.ShellCompDirectiveNoFileComp))
}

// timeValue is an RFC 3339 time flag: another form is a usage error.
type timeValue struct {
	t   time.Time
	set bool
}

func (v *timeValue) String() string {
	if !v.set {
		return ""
	}
	return v.t.Format(time.RFC3339)
}
func (v *timeValue) Type() string { return "RFC3339" }
func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time (like 2026-01-02T03:04:05Z)")
	}
	v.t, v.set = t, true
	return nil
}

// or returns the time, or now when the flag is not set.
func (v *timeValue) or(now time.Time) time.Time {
	if v.set {
		return v.t
	}
	return now
}

// hostPortValue is a listen address flag: host:port with a numeric port.
// Whether the host is allowed is the command's decision (exit 1).
type hostPortValue struct{ value string }

func (v *hostPortValue) String() string { return v.value }
func (v *hostPortValue) Type() string   { return "host:port" }
func (v *hostPortValue) Set(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("not host:port (like 127.0.0.1:8080)")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return fmt.Errorf("the port is not a number from 0 to 65535")
	}
	v.value = s
	return nil
}

// commandName is the command path without "agentid": "jwt decode".
func commandName(cmd *cobra.Command) string {
	if cmd == nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), "agentid"))
}
