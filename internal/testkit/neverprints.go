package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Holder is one value that holds a secret, under the subtest name it gets
// in AssertNeverPrints.
type Holder struct {
	Name string
	Val  any
}

// printVerbs are the fmt verbs AssertNeverPrints formats each holder with.
var printVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%e", "%t", "%p", "%T", "%10.3s"}

// AssertNeverPrints checks that secret, its hex form and its bytes' fmt form
// appear in none of holders' renderings: every fmt verb, log/slog's text and
// JSON handlers, and encoding/json (when it marshals at all: a holder that
// refuses to be encoded leaks nothing). Each check is a subtest of t.
func AssertNeverPrints(t *testing.T, secret string, holders []Holder) {
	t.Helper()
	for _, h := range holders {
		for _, verb := range printVerbs {
			t.Run(h.Name+" "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, h.Val)
				assert.NotContains(t, out, secret)
				assert.NotContains(t, out, fmt.Sprintf("%x", secret))
				assert.NotContains(t, out, fmt.Sprint([]byte(secret)))
			})
		}
		t.Run(h.Name+" slog", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", h.Val)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", h.Val)
			assert.NotContains(t, buf.String(), secret)
		})
		t.Run(h.Name+" json", func(t *testing.T) {
			out, err := json.Marshal(h.Val)
			if err == nil {
				assert.NotContains(t, string(out), secret)
			}
		})
	}
}
