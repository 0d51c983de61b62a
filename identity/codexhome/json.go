package codexhome

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// checkUTF8 refuses a string that is not valid UTF-8, naming the member.
func checkUTF8(name, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("codexhome: %s is not valid UTF-8", name)
	}
	return nil
}

// writeRedacted is the Format body shared by types that hold secrets: every
// verb prints the redacted form, %#v the Go-syntax redacted form.
func writeRedacted(s fmt.State, verb rune, str, gostr string) {
	if verb == 'v' && s.Flag('#') {
		_, _ = io.WriteString(s, gostr)
		return
	}
	_, _ = io.WriteString(s, str)
}
