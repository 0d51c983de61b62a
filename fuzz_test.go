package agentidentity

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// addSeeds adds every accepted spelling from endpoints.toml, their near
// misses, and the lines of testdata/resolve_seeds.txt.
func addSeeds(f *testing.F) {
	for _, te := range loadTable(f).Environments {
		for _, raw := range te.AcceptedBaseURLs {
			for _, in := range acceptedVariants(raw)[:4] {
				f.Add(in)
			}
			for _, in := range refusedVariants(raw) {
				f.Add(in)
			}
		}
	}
	file, err := os.Open("testdata/resolve_seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			f.Add(line)
		}
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
}

// FuzzResolve checks that Resolve never panics, that whatever it accepts is
// one of Environments() and is what the naive reference resolves, and that
// it refuses whatever the reference refuses.
func FuzzResolve(f *testing.F) {
	addSeeds(f)
	table := loadTable(f)
	envs := Environments()
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Resolve(in)
		want, ok := naiveResolve(table, in)
		if err != nil {
			if ok {
				t.Fatalf("Resolve(%q) refused, reference accepts it as %s", in, want.Name)
			}
			if got != (Environment{}) {
				t.Fatalf("Resolve(%q) returned %+v with an error", in, got)
			}
			return
		}
		if !ok || got != want {
			t.Fatalf("Resolve(%q) = %+v, reference = %+v, %v", in, got, want, ok)
		}
		found := false
		for _, e := range envs {
			found = found || e == got
		}
		if !found {
			t.Fatalf("Resolve(%q) = %+v, not one of Environments()", in, got)
		}
	})
}

// FuzzResolveWithOverrides checks that no base URL or override panics, that
// errors never hold a user-info password, and that every accepted result has
// endpoints that are https or loopback http.
func FuzzResolveWithOverrides(f *testing.F) {
	f.Add("https://chatgpt.com", "", "")
	f.Add("https://chatgpt.com", "https://auth.example.com/api", "https://keys.example.com/backend-api")
	f.Add("http://localhost:8080/api/codex", "http://localhost:8081", "http://localhost:8080/api/codex/")
	f.Add("http://localhost@evil.com", "https://auth.example.com", "http://localhost@evil.com")
	f.Add("http://[::1]:1/a", "http://127.0.0.1:2", "http://[::1]:1/a")
	f.Add("https://u:secretpw@x.example", "https://u:secretpw@auth.example", "https://u:secretpw@x.example")
	f.Fuzz(func(t *testing.T, base, auth, jwks string) {
		env, err := ResolveWithOverrides(base, Overrides{AuthAPIBaseURL: auth, JWKSBaseURL: jwks})
		if err != nil {
			if strings.Contains(err.Error(), "secretpw") {
				t.Fatalf("error shows a password: %v", err)
			}
			return
		}
		for _, u := range []string{env.ChatGPTBaseURL, env.AuthAPIBaseURL, env.JWKSURL} {
			if _, err := parseBaseURL(strings.TrimRight(u, "/")); err != nil {
				t.Fatalf("accepted %+v with an unusable URL %q: %v", env, u, err)
			}
		}
		if env.Origin() == "" {
			t.Fatalf("accepted %+v without an origin", env)
		}
		if env.Issuer == "" || env.Audience == "" {
			t.Fatalf("accepted %+v without issuer or audience", env)
		}
	})
}

// FuzzJWKSURL checks that JWKSURL never panics and that what it returns is
// itself a usable base URL ending in the JWKS path.
func FuzzJWKSURL(f *testing.F) {
	for _, s := range []string{"https://chatgpt.com/backend-api", "http://localhost:8080/api/codex", "https://a/b/", "https://a?#", "http://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, base string) {
		got, err := JWKSURL(base)
		if err != nil {
			return
		}
		if !strings.HasSuffix(got, "/agent-identities/jwks") {
			t.Fatalf("JWKSURL(%q) = %q", base, got)
		}
		if _, err := parseBaseURL(got); err != nil {
			t.Fatalf("JWKSURL(%q) = %q, not a usable URL: %v", base, got, err)
		}
	})
}
