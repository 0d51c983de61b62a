package identity

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/agentidentity/agentidentity/internal/b64"
	"github.com/agentidentity/agentidentity/internal/jwttest"
	"github.com/agentidentity/agentidentity/internal/netrule"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// This file holds the former two-pass parsers (strictjson.CheckObject, then
// encoding/json or a second strictjson walk) that the one-walk parsers
// replaced: the fuzz targets hold the new ones to them, and
// BenchmarkOneWalk measures both in the same run.

// twoPassRouting is the former parseRouting.
func twoPassRouting(body []byte, account, configured string) (string, []string, error) {
	type entry struct {
		ID                     *string `json:"id"`
		AccountID              *string `json:"account_id"`
		WorkspaceBackendOrigin *string `json:"workspace_backend_origin"`
		AccountRoutingOverride *string `json:"account_routing_override"`
	}
	bad := func(why string) (string, []string, error) {
		return "", nil, fmt.Errorf("%w: malformed accounts/check answer: %s", ErrRoutingUnavailable, why)
	}
	if err := strictjson.CheckObject(body); err != nil {
		return bad(err.Error())
	}
	var doc struct {
		Accounts json.RawMessage `json:"accounts"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return bad("not an object")
	}
	var entries []accountEntry
	switch strictjson.Kind(doc.Accounts) {
	case "an array":
		var list []entry
		if err := json.Unmarshal(doc.Accounts, &list); err != nil {
			return bad("accounts is not a list of objects")
		}
		for _, e := range list {
			entries = append(entries, accountEntry(e))
		}
	case "an object":
		var m map[string]struct {
			Account *entry `json:"account"`
		}
		if err := json.Unmarshal(doc.Accounts, &m); err != nil {
			return bad("accounts is not a map of objects")
		}
		for k, v := range m {
			if v.Account == nil {
				return bad("an accounts map value has no account")
			}
			e := accountEntry(*v.Account)
			if id, ok := e.id(); !ok || id != k {
				return bad("an accounts map key is not its account's id")
			}
			entries = append(entries, e)
		}
	default:
		return bad("accounts is missing or neither a list nor a map")
	}
	var match *accountEntry
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		id, ok := entries[i].id()
		if !ok || strings.TrimSpace(id) == "" {
			return bad("an entry has no id")
		}
		if seen[id] {
			return bad("duplicate account id")
		}
		seen[id] = true
		if id == account {
			match = &entries[i]
		}
	}
	if match == nil || match.WorkspaceBackendOrigin == nil {
		return "", nil, nil
	}
	var override []string
	if o := match.AccountRoutingOverride; o != nil {
		switch *o {
		case noConstraint:
		case "us", "us_cr":
			override = []string{*o}
		default:
			return bad("invalid account_routing_override")
		}
	}
	raw := *match.WorkspaceBackendOrigin
	if raw == noConstraint {
		return "", override, nil
	}
	origin, err := checkWorkspaceOrigin(raw, configured)
	if err != nil {
		return "", nil, err
	}
	return origin, override, nil
}

// twoPassRefreshErrorCode is the former refreshErrorCode.
func twoPassRefreshErrorCode(data []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
		Code  json.RawMessage `json:"code"`
	}
	if strictjson.CheckObject(data) != nil || json.Unmarshal(data, &v) != nil {
		return ""
	}
	var code string
	if len(v.Error) > 0 && v.Error[0] == '{' {
		var inner struct {
			Code json.RawMessage `json:"code"`
		}
		if json.Unmarshal(v.Error, &inner) == nil {
			code, _ = strictjson.String(inner.Code)
		}
	} else if s, ok := strictjson.String(v.Error); ok {
		code = s
	} else {
		code, _ = strictjson.String(v.Code)
	}
	code = netrule.ASCIILower(code)
	if len(code) > 64 || strings.ContainsFunc(code, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
	}) {
		return ""
	}
	return code
}

// twoPassResponseObject is the former responseObject of the registration
// answers.
func twoPassResponseObject(body []byte) (map[string]json.RawMessage, error) {
	if err := strictjson.CheckObject(body); err != nil {
		if errors.Is(err, strictjson.ErrDuplicateMember) {
			return nil, fmt.Errorf("%w: a member appears twice", errInvalidRegistrationResponse)
		}
		return nil, fmt.Errorf("%w: the body is not one JSON object", errInvalidRegistrationResponse)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, fmt.Errorf("%w: the body is not one JSON object", errInvalidRegistrationResponse)
	}
	return members, nil
}

// twoPassTaskRegistrationResponse is the former
// parseTaskRegistrationResponse.
func twoPassTaskRegistrationResponse(body []byte) (plain, encrypted string, err error) {
	members, err := twoPassResponseObject(body)
	if err != nil {
		return "", "", err
	}
	for i, name := range taskIDMembers {
		raw, ok := members[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", "", fmt.Errorf("%w: %q is not a string", errInvalidRegistrationResponse, name)
		}
		if s == "" {
			return "", "", fmt.Errorf("%w: %q is empty", errInvalidRegistrationResponse, name)
		}
		if i < 2 {
			return s, "", nil
		}
		return "", s, nil
	}
	return "", "", fmt.Errorf("%w: no task_id, taskId, encrypted_task_id or encryptedTaskId", errInvalidRegistrationResponse)
}

// twoPassJWKS is the former parseJWKS (four walks: CheckObject, Object,
// encoding/json of the keys, Object of each key).
func twoPassJWKS(data []byte) (map[string]jwk, error) {
	if err := strictjson.CheckObject(data); err != nil {
		return nil, fmt.Errorf("JWKS is not a strict JSON object: %w", err)
	}
	doc, err := strictjson.Object(data)
	if err != nil {
		return nil, errors.New("JWKS is not a JSON object")
	}
	raw, ok := doc["keys"]
	if !ok || len(raw) == 0 || raw[0] != '[' {
		return nil, errors.New("JWKS has no \"keys\" array")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("JWKS has no \"keys\" array")
	}
	keys := make(map[string]jwk, len(list))
	for _, r := range list {
		if len(r) == 0 || r[0] != '{' {
			return nil, errors.New("JWKS \"keys\" holds a value that is not an object")
		}
		m, err := strictjson.Object(r)
		if err != nil {
			return nil, errors.New("JWKS \"keys\" holds a value that is not an object")
		}
		kid, present, err := twoPassJSONString(m["kid"])
		if err != nil {
			return nil, errors.New("JWKS key has a \"kid\" that is not a string")
		}
		if !present || kid == "" {
			continue
		}
		if _, dup := keys[kid]; dup {
			keys[kid] = jwk{problem: "the JWKS has several keys with this kid"}
			continue
		}
		keys[kid] = twoPassJWK(m)
	}
	return keys, nil
}

func twoPassJSONString(raw json.RawMessage) (s string, present bool, err error) {
	if raw == nil || strictjson.IsNull(raw) {
		return "", false, nil
	}
	s, ok := strictjson.String(raw)
	if !ok {
		return "", true, errors.New("not a string")
	}
	return s, true, nil
}

func twoPassJWK(m map[string]json.RawMessage) jwk {
	bad := func(format string, args ...any) jwk { return jwk{problem: fmt.Sprintf(format, args...)} }
	kty, _, err := twoPassJSONString(m["kty"])
	if err != nil || kty != "RSA" {
		return bad("kty %q is not RSA", shortQuote(kty))
	}
	if alg, present, err := twoPassJSONString(m["alg"]); err != nil || (present && alg != "RS256") {
		return bad("alg %q is not RS256", shortQuote(alg))
	}
	if use, present, err := twoPassJSONString(m["use"]); err != nil || (present && use != "sig") {
		return bad("use %q is not sig", shortQuote(use))
	}
	if raw, ok := m["key_ops"]; ok {
		var ops []string
		if err := json.Unmarshal(raw, &ops); err != nil || raw[0] != '[' {
			return bad("key_ops is not an array of strings")
		}
		verify := false
		for _, op := range ops {
			verify = verify || op == "verify"
		}
		if !verify {
			return bad("key_ops does not allow verify")
		}
	}
	for _, name := range privateJWKMembers {
		if _, ok := m[name]; ok {
			return bad("it holds private key material")
		}
	}
	uint := func(raw json.RawMessage) (*big.Int, error) {
		s, present, err := twoPassJSONString(raw)
		if err != nil || !present {
			return nil, errors.New("is missing or not a string")
		}
		b, err := b64.DecodeRawURL(s)
		if err != nil || len(b) == 0 {
			return nil, errors.New("is not canonical base64url")
		}
		if b[0] == 0 {
			return nil, errors.New("has a leading zero octet")
		}
		return new(big.Int).SetBytes(b), nil
	}
	n, err := uint(m["n"])
	if err != nil {
		return bad("n %v", err)
	}
	e, err := uint(m["e"])
	if err != nil {
		return bad("e %v", err)
	}
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return bad("the RSA modulus has %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
	}
	if n.Bit(0) == 0 {
		return bad("the RSA modulus is even")
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > maxRSAExp || e.Bit(0) == 0 {
		return bad("the RSA exponent is not an odd number from 3 to 2^31-1")
	}
	return jwk{key: &rsa.PublicKey{N: n, E: int(e.Int64())}}
}

// foldedName reports whether data holds a string equal to one of names
// under encoding/json's case-insensitive matching but not exactly: there
// the former parsers (encoding/json) and the one-walk parsers (exact names,
// as the Codex CLI's serde) differ by design.
func foldedName(data []byte, names ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok {
			for _, n := range names {
				if s != n && strings.EqualFold(s, n) {
					return true
				}
			}
		}
	}
}

var routingNames = []string{"accounts", "account", "id", "account_id", "workspace_backend_origin", "account_routing_override"}

// onewalkJWKS is a JWKS of two keys with the usual members.
func onewalkJWKS(t testing.TB) []byte {
	return jwttest.JWKS(mustIssuer(t, "k1", jwttest.KeyA).JWK(), mustIssuer(t, "k2", jwttest.KeyB).JWK())
}

var (
	onewalkRouting = []byte(`{"accounts":[{"id":"acct-0","plan_type":"plus","structure":"personal","workspace_backend_origin":"https://routed0.example","account_routing_override":"NO_CONSTRAINT"},` +
		`{"id":"acct-1","plan_type":"team","structure":"workspace","workspace_backend_origin":"https://routed1.example","account_routing_override":"us"}],` +
		`"account_ordering":["acct-0","acct-1"],"default_account_id":"acct-0"}`)
	onewalkRefreshError = []byte(`{"error":{"code":"refresh_token_reused","message":"Your refresh token has already been used to generate a new access token. Please try signing in again.","type":"invalid_request_error","param":null}}`)
	onewalkTaskAnswer   = []byte(`{"task_id":"task-0123456789abcdef","created_at":"2026-01-02T03:04:05Z","meta":{"region":"us"}}`)
)

// TestOneWalkAgreesWithTwoPasses: on the benchmark documents the one-walk
// parsers give what the two-pass parsers gave.
func TestOneWalkAgreesWithTwoPasses(t *testing.T) {
	o1, v1, e1 := parseRouting(onewalkRouting, "acct-1", "https://chatgpt.com")
	o2, v2, e2 := twoPassRouting(onewalkRouting, "acct-1", "https://chatgpt.com")
	if o1 != "https://routed1.example" || o1 != o2 || fmt.Sprint(v1) != fmt.Sprint(v2) || e1 != nil || e2 != nil {
		t.Fatalf("routing: %q %q %v / %q %q %v", o1, v1, e1, o2, v2, e2)
	}
	if c := refreshErrorCode(onewalkRefreshError); c != "refresh_token_reused" || c != twoPassRefreshErrorCode(onewalkRefreshError) {
		t.Fatalf("refresh error code %q", c)
	}
	p1, _, _ := parseTaskRegistrationResponse(onewalkTaskAnswer)
	p2, _, _ := twoPassTaskRegistrationResponse(onewalkTaskAnswer)
	if p1 == "" || p1 != p2 {
		t.Fatalf("task id %q / %q", p1, p2)
	}
	doc := onewalkJWKS(t)
	k1, err1 := parseJWKS(doc)
	k2, err2 := twoPassJWKS(doc)
	if err1 != nil || err2 != nil || !sameJWKS(k1, k2) || len(k1) != 2 {
		t.Fatalf("JWKS: %v %v", err1, err2)
	}
}

func sameJWKS(a, b map[string]jwk) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, x := range a {
		y, ok := b[kid]
		if !ok || x.problem != y.problem || (x.key == nil) != (y.key == nil) {
			return false
		}
		if x.key != nil && (x.key.N.Cmp(y.key.N) != 0 || x.key.E != y.key.E) {
			return false
		}
	}
	return true
}

// FuzzParseJWKS holds parseJWKS (one walk) to the former four-pass parser:
// the same error, or the same keys with the same problems.
func FuzzParseJWKS(f *testing.F) {
	f.Add(onewalkJWKS(f))
	for _, s := range []string{
		`{"keys":[]}`, `{"keys":null}`, `{"keys":{}}`, `{}`, `{"keys":[1]}`, `{"keys":[{"kid":1}]}`, `{"keys":[{"kid":"a"},{"kid":"a"}]}`,
		`{"keys":[{"kid":"a","kty":"RSA","key_ops":null}]}`, `{"keys":[{"kid":"a","kty":"RSA","key_ops":["sign",null]}]}`,
		`{"keys":[{"kid":"a","kty":"RSA","key_ops":["verify",1]}]}`, `{"keys":[{"kid":"a","kty":"RSA","d":null}]}`,
		`{"keys":[{"kid":"a","kty":"RSA","alg":null,"use":"enc"}]}`, `{"keys":[{"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kid":"a","kid":"b"}]}`, `{"keys":[{"kid":"\u0061"}],"x":[1,}`, `{"keys":[{"kid":"a"}]} x`,
	} {
		f.Add([]byte(s))
	}
	jwkNames := []string{"keys", "kid", "kty", "alg", "use", "key_ops", "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth"}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseJWKS(data)
		if foldedName(data, jwkNames...) {
			return
		}
		want, werr := twoPassJWKS(data)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("parseJWKS says %v, the two-pass parser %v", err, werr)
		}
		if err == nil && !sameJWKS(got, want) {
			t.Fatalf("parseJWKS gives %v, the two-pass parser %v", got, want)
		}
	})
}

// BenchmarkOneWalk measures each one-walk parser ("one") beside the
// two-pass parser it replaced ("two") on the same document, in the same
// run: compare the ns/op of the pairs.
func BenchmarkOneWalk(b *testing.B) {
	jwks := onewalkJWKS(b)
	pairs := []struct {
		name     string
		one, two func() error
	}{
		{"routing", func() error {
			_, _, err := parseRouting(onewalkRouting, "acct-1", "https://chatgpt.com")
			return err
		}, func() error {
			_, _, err := twoPassRouting(onewalkRouting, "acct-1", "https://chatgpt.com")
			return err
		}},
		{"refresh-error", func() error {
			return nilIf(refreshErrorCode(onewalkRefreshError) != "")
		}, func() error {
			return nilIf(twoPassRefreshErrorCode(onewalkRefreshError) != "")
		}},
		{"task-answer", func() error {
			_, _, err := parseTaskRegistrationResponse(onewalkTaskAnswer)
			return err
		}, func() error {
			_, _, err := twoPassTaskRegistrationResponse(onewalkTaskAnswer)
			return err
		}},
		{"jwks", func() error {
			_, err := parseJWKS(jwks)
			return err
		}, func() error {
			_, err := twoPassJWKS(jwks)
			return err
		}},
	}
	for _, p := range pairs {
		for _, v := range []struct {
			name string
			fn   func() error
		}{{"one", p.one}, {"two", p.two}} {
			b.Run(p.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := v.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func nilIf(ok bool) error {
	if ok {
		return nil
	}
	return errors.New("failed")
}
