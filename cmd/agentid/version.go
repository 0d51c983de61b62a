package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newVersionCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Long: `Print the version of this binary, from the build information the Go toolchain
embeds: the module version of an installed binary, or "(devel)" and the VCS
revision of a build from a clone. "agentid --version" prints the same line.

JSON (--json): {"version", "module", "go", "revision" (omitted when
unknown), "modified" (true for a build with uncommitted changes)}.`,
		Example: examples("agentid version", "agentid version --json", "agentid --version"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.json {
				return c.writeJSON(readBuildVersion())
			}
			_, err := fmt.Fprintln(c.stdout, versionLine())
			return err
		},
	}
	c.addJSONFlag(cmd)
	return cmd
}
