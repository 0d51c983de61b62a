package identity

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/internal/netrule"
)

// FuzzParseRouting feeds accounts/check answers to the parser: it never
// panics, and an origin it returns is always an https origin that may get
// credentials (netrule.CheckOrigin), with no path, user info, query or
// fragment.
func FuzzParseRouting(f *testing.F) {
	f.Add([]byte(`{"accounts":[{"id":"acct-1","plan_type":"plus","structure":"personal","workspace_backend_origin":"https://routed.example","account_routing_override":"NO_CONSTRAINT"}],"account_ordering":["acct-1"],"default_account_id":"acct-1"}`), "acct-1")
	f.Add([]byte(`{"accounts":{"acct-1":{"account":{"id":"acct-1","workspace_backend_origin":"https://r.example:8443","account_routing_override":"us"}}}}`), "acct-1")
	f.Add([]byte(`{"accounts":[{"id":"acct-1","workspace_backend_origin":"http://evil.example"}]}`), "acct-1")
	f.Add([]byte(`{"accounts":[{"id":"acct-1","workspace_backend_origin":"https://u:p@evil.example/x?y#z"}]}`), "acct-1")
	f.Add([]byte(`{"accounts":[{"id":"a","id":"b"}]}`), "a")
	f.Add([]byte(`[]`), "")
	f.Add([]byte(`{"accounts":{"a":null,"b":{"account":5}}}`), "a")
	f.Add([]byte(`{"accounts":[null,{"id":"a","account_id":null,"workspace_backend_origin":null}],"x":[1,}`), "a")
	f.Fuzz(func(t *testing.T, body []byte, account string) {
		origin, override, err := parseRouting(body, account, "https://chatgpt.com")
		// The one walk agrees with the former two-pass parser (whose map
		// form reported one of several problems at random: only the
		// verdict is compared).
		if !foldedName(body, routingNames...) {
			o, v, werr := twoPassRouting(body, account, "https://chatgpt.com")
			if (err == nil) != (werr == nil) || o != origin || fmt.Sprint(v) != fmt.Sprint(override) {
				t.Fatalf("parseRouting = %q %q %v, the two-pass parser %q %q %v", origin, override, err, o, v, werr)
			}
		}
		if err != nil {
			if origin != "" || override != nil {
				t.Fatalf("error %v with a result %q %q", err, origin, override)
			}
			return
		}
		if origin == "" {
			return
		}
		if !strings.HasPrefix(origin, "https://") {
			t.Fatalf("non-https origin %q accepted", origin)
		}
		canon, cerr := netrule.CheckOrigin(origin)
		if cerr != nil || canon != origin {
			t.Fatalf("origin %q is not a canonical credential origin: %v", origin, cerr)
		}
	})
}

// FuzzParseRefreshAnswer feeds token refresh answers and error bodies to
// their parsers: no panic, a value read is exactly the JSON string, and an
// error code is a short plain word (it goes into messages) or "".
func FuzzParseRefreshAnswer(f *testing.F) {
	f.Add([]byte(`{"id_token":"a.b.c","access_token":"at","refresh_token":"rt","expires_in":3600}`))
	f.Add([]byte(`{"access_token":null}`))
	f.Add([]byte(`{"access_token":1}`))
	f.Add([]byte(`{"error":{"code":"refresh_token_reused","message":"x"}}`))
	f.Add([]byte(`{"error":"refresh_token_expired"}`))
	f.Add([]byte(`{"code":"refresh_token_invalidated"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"error":null,"code":"x"}`))
	f.Add([]byte(`{"error":{"code":1},"code":"x"}`))
	f.Add([]byte(`{"error":"e"} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if out, err := parseRefreshAnswer(data); err == nil {
			if out == nil {
				t.Fatal("nil answer without an error")
			}
		} else if strings.Contains(err.Error(), string(data)) && len(data) > 8 {
			t.Fatalf("the error quotes the answer: %v", err)
		}
		code := refreshErrorCode(data)
		if !foldedName(data, "error", "code") && code != twoPassRefreshErrorCode(data) {
			t.Fatalf("refreshErrorCode = %q, the two-pass parser %q", code, twoPassRefreshErrorCode(data))
		}
		if len(code) > 64 || strings.ContainsAny(code, " \t\r\n\"'") {
			t.Fatalf("error code %q is not a short plain word", code)
		}
	})
}
