package codexhome

import (
	"fmt"
	"unicode/utf8"
)

// checkUTF8 refuses a string that is not valid UTF-8, naming the member.
func checkUTF8(name, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("codexhome: %s is not valid UTF-8", name)
	}
	return nil
}
