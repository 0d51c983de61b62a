package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// addJSONFlag defines --json on cmd.
func (c *cli) addJSONFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&c.json, "json", false, "print one JSON object on standard output (fields above), also when the command fails")
}

// writeJSON writes the command's JSON object to standard output.
func (c *cli) writeJSON(v any) error {
	c.wroteJSON = true
	return writeJSON(c.stdout, v)
}

// failWith sets members of the JSON object written when the command fails
// (next to "error" and "hint").
func (c *cli) failWith(k string, v any) {
	if c.jsonFailure == nil {
		c.jsonFailure = map[string]any{}
	}
	c.jsonFailure[k] = v
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
