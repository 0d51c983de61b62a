package routes

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		base, path string
		want       Class
	}{
		{"/backend-api", "/backend-api/codex/responses", Inference},
		{"/backend-api/", "/backend-api/codex/responses", Inference},
		{"/backend-api", "/backend-api/codex/responses/compact", Inference},
		{"/backend-api", "/backend-api/wham/agent-identities/jwks", NoCredential},
		{"/backend-api", "/backend-api/ps/mcp", NoCredential},
		{"/backend-api", "/backend-api/codex/models", Other},
		{"/backend-api", "/backend-api/wham/accounts/check", Other},
		{"/backend-api", "/backend-api", Other},
		{"/backend-api", "/backend-apix/codex/responses", Outside},
		{"/backend-api", "/codex/responses", Outside},
		{"", "/codex/responses", Inference},
		{"/", "/ps/mcp", NoCredential},
		{"/backend-api", "/backend-api/codex/responses/", Other},
		{"/backend-api", "/backend-api/CODEX/responses", Other},
	} {
		if got := Classify(tc.base, tc.path); got != tc.want {
			t.Errorf("Classify(%q, %q) = %v, want %v", tc.base, tc.path, got, tc.want)
		}
	}
}

func TestClassifyFold(t *testing.T) {
	for _, tc := range []struct {
		name, base, path string
		want             Class
	}{
		{"exact", "/backend-api", "/backend-api/codex/responses", Inference},
		{"upper segment", "/backend-api", "/backend-api/CODEX/responses", Inference},
		{"upper last segment", "/backend-api", "/backend-api/codex/Responses", Inference},
		{"upper base", "/backend-api", "/Backend-Api/codex/responses", Inference},
		{"all upper", "/backend-api", "/BACKEND-API/CODEX/RESPONSES", Inference},
		{"compaction folded", "/backend-api", "/backend-api/codex/responses/COMPACT", Inference},
		{"base with trailing slash", "/backend-api/", "/BACKEND-API/codex/responses", Inference},
		{"root base", "", "/Codex/Responses", Inference},
		{"jwks folded stays other", "/backend-api", "/backend-api/WHAM/agent-identities/jwks", Other},
		{"other stays other", "/backend-api", "/backend-api/codex/models", Other},
		{"folded base, other route", "/backend-api", "/Backend-Api/codex/models", Outside},
		{"longer path", "/backend-api", "/backend-api/CODEX/responsesx", Other},
		{"short path", "/backend-api", "/b", Outside},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassifyFold(tc.base, tc.path); got != tc.want {
				t.Errorf("ClassifyFold(%q, %q) = %v, want %v", tc.base, tc.path, got, tc.want)
			}
			if tc.path == "/backend-api/CODEX/responses" && Classify(tc.base, tc.path) != Other {
				t.Errorf("Classify (the client's) must stay exact")
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/a": true, "/codex/responses": true, "/a.b/c~d": true,
		"": false, "a": false, "/a/": false, "//a": false, "/a//b": false, "/./a": false,
		"/a/..": false, "/a/../b": false, "/a;b": false, "/a\\b": false, "/a%2f": false, "/a\x00": false, "/a\x7f": false,
		"/codex/re\u017fponses": false, "/codex/\u212aelvin": false, "/\xff": false,
	} {
		if got := Canonical(p); got != want {
			t.Errorf("Canonical(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table {
		if !Canonical(r.Path) || seen[r.Path] || r.Name == "" || len(r.Methods) == 0 {
			t.Errorf("bad row %+v", r)
		}
		seen[r.Path] = true
		if Classify("", r.Path) != r.Class {
			t.Errorf("row %s does not classify as itself", r.Name)
		}
	}
}
