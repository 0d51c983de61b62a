//go:build interop

package interop

// The credential sources of the real Codex 0.171 besides Agent Identity,
// observed through the hosts harness (hosts_test.go): the refresh of an
// expired ChatGPT login before agent registration, personal access tokens
// (CODEX_ACCESS_TOKEN=at-… and `codex login --with-access-token`), workload
// identity federation with a token file, and which source wins when several
// are set. Each row checks what Codex sends against the record in
// testdata/codex-0.171 (the golden files, tokens replaced by placeholders;
// testdata/codex-0.171-credentials.md says what each holds), so that a Codex
// release that changes any of it fails a row.
//
// AGENTID_INTEROP_GOLDEN_DIR=<abs path of interop/testdata/codex-0.171>
// rewrites the golden files from this run instead of comparing;
// AGENTID_INTEROP_DUMP=<folder> writes every Codex command's raw record
// (arguments, output, auth.json, every request with its secrets) there.

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

//go:embed testdata/codex-0.171
var goldenFS embed.FS

const goldenDirEnv = "AGENTID_INTEROP_GOLDEN_DIR"

// Test values: personal access tokens, a workload's assertion, a federation
// rule. They reach only the stand-in.
const (
	testPAT        = "at-interop-personal-access-token-0123456789"
	testPATFedRAMP = "at-interop-personal-access-token-fedramp-0123"
	testPATRefused = "at-interop-refused-token"
	testRuleID     = "fedrule_interop_0123"
	testAssertion  = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFnZW50aWRlbnRpdHkifQ.c2lnbmF0dXJl"
	// Bytes that form encoders disagree on: Codex writes '~' as %7E and
	// keeps '*', as the WHATWG form encoder does (Go's url.Values writes
	// '~' as is and '*' as %2A).
	testRuleIDOdd    = "rule~*.-_x"
	testAssertionOdd = "ab+/=~*.c d"
	testContextOdd   = ` {"a":"~*+/ é&="} `
)

// credHarness runs the credential rows against the stand-in.
type credHarness struct {
	t     *testing.T
	codex string
	tmp   string
	s     *standIn
	dump  string
	n     int
	rd    redactor // every secret of the run and its placeholder

	wifLogins atomic.Int64
}

func TestCredentials(t *testing.T) {
	if err := loopbackOnly(); err != nil {
		addRow("credentials: network namespace", err, "")
		t.Fatal("refusing to run Codex:", err)
	}
	tmp, err := os.MkdirTemp("", "codex-credentials-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	s, err := startStandIn(tmp)
	if err != nil {
		addRow("credentials: stand-in for the compiled-in hosts on 127.0.0.1:443", err, "")
		return
	}
	defer s.close()
	// The run's CA and leaf, checked with this module's side of the
	// harness before Codex is asked to trust them.
	resp, err := s.client().Get("https://" + hostChatGPT + "/backend-api/codex/models")
	if err != nil {
		addRow("credentials: stand-in for the compiled-in hosts on 127.0.0.1:443", err, "")
		return
	}
	_ = resp.Body.Close()
	h := &credHarness{t: t, codex: os.Getenv(codexEnv), tmp: tmp, s: s, dump: os.Getenv("AGENTID_INTEROP_DUMP")}
	h.rd = redactor{testPATFedRAMP, "{{PAT_FEDRAMP}}", testPATRefused, "{{PAT_REFUSED}}", testPAT, "{{PAT}}",
		testAssertion, "{{ASSERTION}}", tmp, "{{TMP}}"}
	fmt.Printf("codex-interop: stand-in for %s on 127.0.0.1:443 (a CA of this run, name-constrained), fake backend %s\n",
		strings.Join(compiledHosts, ", "), s.fake.URL)
	start := time.Now()
	h.rowRefreshBeforeRegister()
	h.rowOursRefreshBeforeRegister() // ours_test.go
	h.rowPATEnv()
	h.rowOursPATEnv()
	h.rowPATFedRAMP()
	h.rowOursPATFedRAMP()
	h.rowPATLogin()
	h.rowOursPATLogin()
	h.rowPATRefused()
	h.rowOursPATRefused()
	h.rowPATAuthAPIBase()
	h.rowWIFExchange()
	h.rowOursWIFExchange()
	h.rowWIFOverLogin()
	h.rowWIFStaging()
	h.rowOursWIFStaging()
	h.rowWIFReread()
	h.rowWIFConfigErrors()
	h.rowOursWIFConfigErrors()
	h.rowWIFAnswers()
	h.rowOursWIFAnswers()
	h.rowPrecedence()
	h.rowOursPATPrecedence()
	h.rowOursWIFPrecedence()
	fmt.Printf("codex-interop: credential rows took %.1fs\n", time.Since(start).Seconds())
	if failedRows() > 0 {
		t.Fail()
	}
}

// ---- helpers ----

// home makes a CODEX_HOME with the quiet config (no base URLs), and with
// login (if not nil) in auth.json.
func (h *credHarness) home(name string, login *identitytest.ChatGPTLogin, optIn bool, extraConfig string) string {
	dir := filepath.Join(h.tmp, name)
	if login != nil {
		if err := h.s.fake.WriteCodexHome(dir, identitytest.CodexHomeOptions{Login: login}); err != nil {
			h.t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(quietConfig(optIn, extraConfig)), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return dir
}

func (h *credHarness) run(name, home string, env []string, stdin string, args ...string) hostsRun {
	r, err := h.s.runCodexHosts(h.codex, h.tmp, home, env, stdin, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.record(name, home, env, r)
	return r
}

func (h *credHarness) exec(name, home string, env ...string) hostsRun {
	return h.run(name, home, env, "", execArgs()...)
}

// record writes a command's raw record into the dump folder, if any.
func (h *credHarness) record(name, home string, env []string, r hostsRun) {
	if h.dump == "" {
		return
	}
	h.n++
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\nargs: %q\nenv: %q\nrc: %d (%.1fs)\n\n## stdout\n%s\n## stderr\n%s\n", name, r.args, env, r.rc, r.wall.Seconds(), r.stdout, r.stderr)
	if data, err := os.ReadFile(filepath.Join(home, "auth.json")); err == nil {
		fmt.Fprintf(&b, "## auth.json\n%s\n<EOF>\n", data)
	}
	for _, c := range r.caps {
		fmt.Fprintf(&b, "## #%d %s %s status %d via %s\n%s\n", c.Seq, c.Proto, c.URL, c.Status, c.Via,
			c.renderAs(nil, false, c.Header.Get("Content-Encoding") == ""))
	}
	if err := os.MkdirAll(h.dump, 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dump, fmt.Sprintf("%02d-%s.txt", h.n, name)), []byte(b.String()), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// golden compares got with the golden file name, or writes it there with
// AGENTID_INTEROP_GOLDEN_DIR. In report mode (the drift run against
// another Codex) a difference is noted on the row, its first differing
// line, and is not an error.
func golden(name, got string) error {
	if dir := os.Getenv(goldenDirEnv); dir != "" {
		return os.WriteFile(filepath.Join(dir, name), []byte(got), 0o644)
	}
	err := goldenDiff(name, got)
	if err != nil && reportMode() {
		noteGolden(oneLine(err.Error(), 400))
		return nil
	}
	return err
}

// goldenDiff says where got first differs from the golden file name.
func goldenDiff(name, got string) error {
	want, err := goldenFS.ReadFile("testdata/codex-0.171/" + name)
	if err != nil {
		return fmt.Errorf("golden %s: %v", name, err)
	}
	if string(want) == got {
		return nil
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Errorf("differs from testdata/codex-0.171/%s at line %d:\n  recorded %q\n  now      %q", name, i+1, tail(w, 300), tail(g, 300))
		}
	}
	return fmt.Errorf("differs from testdata/codex-0.171/%s", name)
}

func isAuthHost(c capture) bool    { return c.Host == hostAuth || c.Host == hostAuthStaging }
func isBackendHost(c capture) bool { return c.Host == hostChatGPT || c.Host == hostChatGPTStaging }

func isWhoami(c capture) bool {
	return isAuthHost(c) && c.Method == http.MethodGet && strings.HasSuffix(c.Path, "/v1/user-auth-credential/whoami")
}

func isExchange(c capture) bool {
	return isAuthHost(c) && c.Path == "/oauth/token" && strings.HasPrefix(c.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

func isRefresh(c capture) bool {
	return isAuthHost(c) && c.Path == "/oauth/token" && strings.HasPrefix(c.Header.Get("Content-Type"), "application/json")
}

func isAgentRegistration(c capture) bool {
	return isAuthHost(c) && c.Method == http.MethodPost && c.Path == "/api/accounts/v1/agent/register"
}

func isTaskRegistration(c capture) bool {
	return isAuthHost(c) && c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/api/accounts/v1/agent/") && strings.HasSuffix(c.Path, "/task/register")
}

func bearerOf(c capture) string {
	tok, _ := strings.CutPrefix(c.Header.Get("Authorization"), "Bearer ")
	return tok
}

// backendAs checks that every ChatGPT backend request of r carries exactly
// Bearer tok, ChatGPT-Account-ID account and X-OpenAI-Fedramp: true only
// when fedRAMP, and that there were some, including inference.
func backendAs(r hostsRun, tok, account string, fedRAMP bool) error {
	n, inference := 0, 0
	for _, c := range r.find(isBackendHost) {
		if strings.HasSuffix(c.Path, "/agent-identities/jwks") {
			continue // fetched without credentials (an Agent Identity JWT's)
		}
		n++
		if got := c.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+tok {
			return fmt.Errorf("%s %s%s: Authorization is not the expected Bearer token", c.Method, c.Host, c.Path)
		}
		if got := c.Header.Get("ChatGPT-Account-ID"); got != account {
			return fmt.Errorf("%s %s%s: ChatGPT-Account-ID %q, want %q", c.Method, c.Host, c.Path, got, account)
		}
		if got := c.Header.Get("X-OpenAI-Fedramp"); (got == "true") != fedRAMP || (!fedRAMP && got != "") {
			return fmt.Errorf("%s %s%s: X-OpenAI-Fedramp %q (FedRAMP account: %v)", c.Method, c.Host, c.Path, got, fedRAMP)
		}
		if c.Method == http.MethodPost && c.Path == "/backend-api/codex/responses" {
			inference++
		}
	}
	if n == 0 || inference == 0 {
		return fmt.Errorf("%d backend requests, %d of them inference", n, inference)
	}
	return nil
}

// noAgentIdentity checks that r registered nothing and signed nothing.
func noAgentIdentity(r hostsRun) error {
	for _, c := range r.caps {
		if isAgentRegistration(c) || isTaskRegistration(c) {
			return fmt.Errorf("Codex registered: %s", c.line())
		}
		if strings.HasPrefix(c.Header.Get("Authorization"), "AgentAssertion ") {
			return fmt.Errorf("Codex signed: %s", c.line())
		}
	}
	return nil
}

func (r hostsRun) turnErr() error {
	if r.turnDone() {
		return nil
	}
	return fmt.Errorf("codex %s: rc=%d, stdout %q, stderr tail %q", strings.Join(r.args, " "), r.rc, tail(r.stdout, 200), tail(r.stderr, 400))
}

// goldenRoutes are the backend routes whose header sets are recorded: the
// ones every mode calls (plugin routes vary in number and are left out).
var goldenRoutes = []struct{ method, path string }{
	{http.MethodGet, "/backend-api/wham/config/bundle"},
	{http.MethodGet, "/backend-api/wham/accounts/check"},
	{http.MethodGet, "/backend-api/codex/models"},
	{http.MethodGet, "/backend-api/wham/settings/user"},
	{http.MethodGet, "/backend-api/codex/responses"},
	{http.MethodPost, "/backend-api/codex/responses"},
}

// routeRecord renders the first request of each golden route (bodies
// summarised) and of the credential requests.
func routeRecord(r hostsRun, rd redactor) string {
	var b strings.Builder
	for _, rt := range goldenRoutes {
		found := r.find(func(c capture) bool { return isBackendHost(c) && c.Method == rt.method && c.Path == rt.path })
		if len(found) == 0 {
			fmt.Fprintf(&b, "# %s %s: not requested\n\n", rt.method, rt.path)
			continue
		}
		fmt.Fprintf(&b, "# %s %s (%s)\n%s\n", rt.method, rt.path, found[0].Proto, found[0].renderAs(rd, true, false))
	}
	return b.String()
}

// stderrError is Codex's error report: stderr from its first "Error" line,
// the temporary folder replaced.
func (h *credHarness) stderrError(r hostsRun) string {
	i := strings.Index(r.stderr, "Error")
	if i < 0 {
		return "(no error on stderr)\n"
	}
	return strings.TrimRight(h.rd.apply(r.stderr[i:]), "\n") + "\n"
}

func (h *credHarness) tokenFile(name, content string) string {
	p := filepath.Join(h.tmp, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// patWhoami answers the metadata lookup of the test tokens.
func patWhoami(tok string) whoamiAnswer {
	switch tok {
	case testPAT:
		return whoamiAnswer{http.StatusOK, []byte(`{"email":"pat@example.com","chatgpt_user_id":"user-pat","chatgpt_account_id":"account-pat","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":false}`)}
	case testPATFedRAMP:
		return whoamiAnswer{http.StatusOK, []byte(`{"email":null,"chatgpt_user_id":"user-patf","chatgpt_account_id":"account-patf","chatgpt_plan_type":"enterprise","chatgpt_account_is_fedramp":true}`)}
	}
	return whoamiAnswer{http.StatusUnauthorized, []byte(`{"error":{"message":"unknown token"}}`)}
}

// wifAnswer is a valid exchange answer: a fresh login of the fake for
// account-wif (its access token is a ChatGPT access JWT whose
// chatgpt_user_id is user-wif), changed by edit.
func (h *credHarness) wifAnswer(edit func(m map[string]any)) (exchangeAnswer, string) {
	h.wifLogins.Add(1)
	l := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{Account: codexhome.Account{AccountID: "account-wif", UserID: "user-wif", PlanType: "enterprise"}})
	m := map[string]any{
		"access_token":            l.AccessToken.Reveal(),
		"issued_token_type":       "urn:ietf:params:oauth:token-type:access_token",
		"token_type":              "Bearer",
		"expires_in":              3600,
		"scope":                   "openid profile email",
		"chatgpt_account_id":      "account-wif",
		"chatgpt_account_user_id": "user-wif__account-wif",
		"user_id":                 "user-wif",
		"chatgpt_plan_type":       "enterprise",
	}
	if edit != nil {
		edit(m)
	}
	body, _ := json.Marshal(m)
	return exchangeAnswer{status: http.StatusOK, body: body}, l.AccessToken.Reveal()
}

// wifCase sets a valid exchange answer and returns a func giving the access
// tokens answered so far.
func (h *credHarness) wifCase(edit func(m map[string]any), after func(form url.Values)) func() []string {
	var (
		mu   sync.Mutex
		toks []string
	)
	h.s.setCase(patWhoami, func(f url.Values) exchangeAnswer {
		a, tok := h.wifAnswer(edit)
		mu.Lock()
		toks = append(toks, tok)
		mu.Unlock()
		if after != nil {
			after(f)
		}
		return a
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), toks...)
	}
}

func (h *credHarness) wifEnv(tokenFile string) []string {
	return []string{"OPENAI_FEDERATION_RULE_ID= " + testRuleID + " ", "OPENAI_IDENTITY_TOKEN_FILE=" + tokenFile}
}

func ev(parts ...string) string { return strings.Join(parts, "; ") }

// ---- (l) refresh before register ----

func (h *credHarness) rowRefreshBeforeRegister() {
	const name = "(l) expired ChatGPT login with the opt-in: POST https://auth.openai.com/oauth/token first, then agent registration with the refreshed token; bodies as recorded"
	login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	home := h.home("l", &login, true, "")
	r := h.exec("l-expired-optin", home)
	var evidence string
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		refresh, agents, tasks := r.find(isRefresh), r.find(isAgentRegistration), r.find(isTaskRegistration)
		if len(refresh) != 1 || len(agents) != 1 || len(tasks) != 1 {
			return fmt.Errorf("%d refreshes, %d agent and %d task registrations, want 1 each", len(refresh), len(agents), len(tasks))
		}
		if r.caps[0].Seq != refresh[0].Seq {
			return fmt.Errorf("the first request was %s, not the refresh", r.caps[0].line())
		}
		data, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil {
			return err
		}
		var f struct {
			Tokens struct {
				AccessToken string `json:"access_token"`
			} `json:"tokens"`
			AgentIdentity struct {
				AgentRuntimeID  string `json:"agent_runtime_id"`
				AgentPrivateKey string `json:"agent_private_key"`
			} `json:"agent_identity"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("auth.json: %v", err)
		}
		fresh := f.Tokens.AccessToken
		if fresh == "" || fresh == login.AccessToken.Reveal() {
			return errors.New("auth.json does not hold a refreshed access token")
		}
		if bearerOf(agents[0]) != fresh {
			return errors.New("agent registration did not carry the refreshed access token")
		}
		for _, c := range r.caps {
			if strings.Contains(c.Header.Get("Authorization"), login.AccessToken.Reveal()) {
				return fmt.Errorf("the expired access token was sent: %s", c.line())
			}
		}
		signer, err := identity.NewSigner(f.AgentIdentity.AgentRuntimeID, codexhome.NewSecret(f.AgentIdentity.AgentPrivateKey))
		if err != nil {
			return err
		}
		var task struct {
			Timestamp string `json:"timestamp"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal(tasks[0].Body, &task); err != nil {
			return fmt.Errorf("task registration body: %v", err)
		}
		rd := append(redactor{login.RefreshToken.Reveal(), "{{REFRESH_TOKEN}}", fresh, "{{ACCESS_TOKEN}}",
			signer.PublicKeySSH(), "{{AGENT_PUBLIC_KEY}}", f.AgentIdentity.AgentRuntimeID, "{{AGENT_RUNTIME_ID}}",
			task.Timestamp, "{{TIMESTAMP}}", task.Signature, "{{SIGNATURE}}"}, h.rd...)
		var b strings.Builder
		for _, c := range []capture{refresh[0], agents[0], tasks[0]} {
			b.WriteString(c.render(rd) + "\n")
		}
		if err := golden("l-refresh-then-register.txt", b.String()); err != nil {
			return err
		}
		evidence = fmt.Sprintf("refresh #1 of %d requests, agent registration #%d with the refreshed token", len(r.caps), agents[0].Seq-r.caps[0].Seq+1)
		return nil
	}()
	addRow(name, err, ev(evidence, r.summary()))
}

// ---- (m)–(p) personal access tokens ----

func (h *credHarness) rowPATEnv() {
	const name = "(m) CODEX_ACCESS_TOKEN=at-…: whoami lookup as recorded, then Bearer at-… and ChatGPT-Account-ID on every backend route, nothing registered or signed even with the opt-in"
	h.s.setCase(patWhoami, nil)
	home := h.home("m", nil, true, "")
	r := h.exec("m-pat-env-optin", home, "CODEX_ACCESS_TOKEN="+testPAT)
	whoamis := r.find(isWhoami)
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		if len(whoamis) == 0 {
			return errors.New("no whoami lookup")
		}
		if err := backendAs(r, testPAT, "account-pat", false); err != nil {
			return err
		}
		if err := noAgentIdentity(r); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(home, "auth.json")); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("auth.json written (%v)", err)
		}
		return golden("m-pat-env.txt", whoamis[0].render(h.rd)+"\n"+routeRecord(r, h.rd))
	}()
	addRow(name, err, ev(fmt.Sprintf("%d whoami lookups", len(whoamis)), r.summary()))
}

func (h *credHarness) rowPATFedRAMP() {
	const name = "(n) a FedRAMP personal access token: X-OpenAI-Fedramp: true on every backend request, not on the lookup"
	r := h.exec("n-pat-env-fedramp", h.home("n", nil, false, ""), "CODEX_ACCESS_TOKEN="+testPATFedRAMP)
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		for _, c := range r.find(isWhoami) {
			if c.Header.Get("X-OpenAI-Fedramp") != "" || c.Header.Get("ChatGPT-Account-ID") != "" {
				return errors.New("the lookup carried an account header")
			}
		}
		return backendAs(r, testPATFedRAMP, "account-patf", true)
	}()
	addRow(name, err, r.summary())
}

func (h *credHarness) rowPATLogin() {
	const name = "(o) codex login --with-access-token: one lookup, auth.json byte for byte as recorded (0600), also over a ChatGPT login; login status; exec uses the stored token"
	home := h.home("o", nil, false, "")
	login := h.run("o-login-with-access-token", home, nil, testPAT+"\n", "login", "--with-access-token")
	status := h.run("o-login-status", home, nil, "", "login", "status")
	r := h.exec("o-pat-file-exec", home)
	err := func() error {
		if login.rc != 0 || !strings.Contains(login.stderr, "Successfully logged in") {
			return fmt.Errorf("codex login: rc=%d, stderr %q", login.rc, tail(login.stderr, 300))
		}
		lookups := login.find(isWhoami)
		if len(lookups) != 1 || len(login.caps) != 1 {
			return fmt.Errorf("codex login made %d requests, %d lookups, want 1", len(login.caps), len(lookups))
		}
		data, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil {
			return err
		}
		fi, err := os.Stat(filepath.Join(home, "auth.json"))
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o600 {
			return fmt.Errorf("auth.json mode %v", fi.Mode().Perm())
		}
		if err := golden("o-login-auth.json", h.rd.apply(string(data))); err != nil {
			return err
		}
		if err := golden("o-login-whoami.txt", lookups[0].render(h.rd)); err != nil {
			return err
		}
		if status.rc != 0 || !strings.Contains(status.stderr+status.stdout, "Logged in using personal access token") {
			return fmt.Errorf("codex login status: rc=%d, %q", status.rc, tail(status.stderr+status.stdout, 300))
		}
		if err := r.turnErr(); err != nil {
			return err
		}
		if err := backendAs(r, testPAT, "account-pat", false); err != nil {
			return err
		}
		after, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil || !bytes.Equal(after, data) {
			return fmt.Errorf("exec changed auth.json (%v)", err)
		}
		// The same login over a home that holds a ChatGPT login with an
		// agent identity: what is left of it.
		cg := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{})
		over := h.home("o-over", &cg, true, "")
		if r := h.exec("o-provision-over", over); r.rc != 0 {
			return fmt.Errorf("provisioning the ChatGPT home: %v", r.turnErr())
		}
		if r := h.run("o-login-over-chatgpt", over, nil, testPAT+"\n", "login", "--with-access-token"); r.rc != 0 {
			return fmt.Errorf("codex login over a ChatGPT login: rc=%d", r.rc)
		}
		overData, err := os.ReadFile(filepath.Join(over, "auth.json"))
		if err != nil {
			return err
		}
		return golden("o-login-over-chatgpt-auth.json", h.rd.apply(string(overData)))
	}()
	addRow(name, err, ev(fmt.Sprintf("login status %q", strings.TrimSpace(lastLine(status.stderr))), r.summary()))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (h *credHarness) rowPATRefused() {
	const name = "(p) a refused personal access token: codex login fails with the recorded message and writes nothing; codex exec goes on with no credential at all"
	home := h.home("p", nil, false, "")
	login := h.run("p-login-refused", home, nil, testPATRefused+"\n", "login", "--with-access-token")
	r := h.exec("p-pat-env-refused", h.home("p2", nil, false, ""), "CODEX_ACCESS_TOKEN="+testPATRefused)
	var evidence string
	err := func() error {
		if login.rc == 0 {
			return errors.New("codex login succeeded with a refused token")
		}
		if _, err := os.Stat(filepath.Join(home, "auth.json")); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("codex login wrote auth.json (%v)", err)
		}
		if r.rc == 0 {
			return errors.New("codex exec succeeded with a refused token")
		}
		api := 0
		for _, c := range r.caps {
			if isWhoami(c) {
				continue
			}
			if c.Header.Get("Authorization") != "" {
				return fmt.Errorf("after the refused lookup a request carried a credential: %s", c.line())
			}
			if c.Host == hostAPI {
				api++
			}
		}
		if api == 0 {
			return errors.New("codex exec sent no model request without credentials")
		}
		evidence = fmt.Sprintf("%d lookups, then %d requests to %s without Authorization", len(r.find(isWhoami)), api, hostAPI)
		return golden("p-refused.txt", "# codex login --with-access-token\n"+h.stderrError(login)+"\n"+
			"# the lookup\n"+login.caps[0].render(h.rd))
	}()
	addRow(name, err, ev(evidence, r.summary()))
}

func (h *credHarness) rowPATAuthAPIBase() {
	const name = "(q) the lookup moves with CODEX_AUTHAPI_BASE_URL (a trailing / stripped), not with CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL"
	moved := h.exec("q-authapi-base", h.home("q1", nil, false, ""), "CODEX_ACCESS_TOKEN="+testPAT,
		"CODEX_AUTHAPI_BASE_URL=https://auth.openai.com/alt/accounts/")
	kept := h.exec("q-agent-authapi-base", h.home("q2", nil, false, ""), "CODEX_ACCESS_TOKEN="+testPAT,
		"CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL=https://auth.openai.com/alt/accounts")
	err := func() error {
		for _, c := range []struct {
			r    hostsRun
			want string
		}{{moved, "/alt/accounts/v1/user-auth-credential/whoami"}, {kept, "/api/accounts/v1/user-auth-credential/whoami"}} {
			if err := c.r.turnErr(); err != nil {
				return err
			}
			w := c.r.find(isWhoami)
			if len(w) == 0 {
				return errors.New("no lookup")
			}
			for _, x := range w {
				if x.Path != c.want || x.URL != "https://"+hostAuth+c.want {
					return fmt.Errorf("lookup at %s, want %s", x.URL, c.want)
				}
			}
		}
		return nil
	}()
	addRow(name, err, ev(moved.summary(), kept.summary()))
}

// ---- (s)–(x) workload identity federation ----

func (h *credHarness) rowWIFExchange() {
	const name = "(s) workload identity with a token file: the exchange request byte for byte as recorded (form order, escaping, trimming, headers), then its token as Bearer with ChatGPT-Account-ID on every backend route; nothing stored"
	tf := h.tokenFile("oidc-token", "  "+testAssertion+"\n")
	tfOdd := h.tokenFile("oidc-token-odd", testAssertionOdd+"\n")
	var evidence []string
	err := func() error {
		var b strings.Builder
		for _, c := range []struct {
			name string
			env  []string
		}{
			{"plain", h.wifEnv(tf)},
			{"odd bytes and a context", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleIDOdd, "OPENAI_IDENTITY_TOKEN_FILE=" + tfOdd,
				"OPENAI_WORKLOAD_IDENTITY_CONTEXT=" + testContextOdd}},
		} {
			answered := h.wifCase(nil, nil)
			home := h.home("s-"+strings.Fields(c.name)[0], nil, false, "")
			r := h.exec("s-wif-"+strings.Fields(c.name)[0], home, c.env...)
			evidence = append(evidence, c.name+": "+r.summary())
			if err := r.turnErr(); err != nil {
				return err
			}
			ex := r.find(isExchange)
			toks := answered()
			if len(ex) != 1 || len(toks) != 1 {
				return fmt.Errorf("%s: %d exchanges, want 1", c.name, len(ex))
			}
			if r.caps[0].Seq != ex[0].Seq {
				return fmt.Errorf("%s: the first request was %s", c.name, r.caps[0].line())
			}
			var names []string
			for k := range ex[0].Header {
				names = append(names, strings.ToLower(k))
			}
			sort.Strings(names)
			if strings.Join(names, ",") != "accept,accept-encoding,content-length,content-type" {
				return fmt.Errorf("%s: exchange headers %v", c.name, names)
			}
			if err := backendAs(r, toks[0], "account-wif", false); err != nil {
				return fmt.Errorf("%s: %v", c.name, err)
			}
			if err := noAgentIdentity(r); err != nil {
				return err
			}
			if entries, _ := os.ReadDir(home); hasName(entries, "auth.json") {
				return fmt.Errorf("%s: auth.json written", c.name)
			}
			rd := append(redactor{toks[0], "{{WIF_ACCESS_TOKEN}}"}, h.rd...)
			fmt.Fprintf(&b, "# %s\n%s\n", c.name, ex[0].render(rd))
			if c.name == "plain" {
				b.WriteString(routeRecord(r, rd))
			}
		}
		return golden("s-wif-exchange.txt", b.String())
	}()
	addRow(name, err, strings.Join(evidence, "; "))
}

func hasName(entries []os.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

func (h *credHarness) rowWIFOverLogin() {
	const name = "(t) a workload identity wins over a ChatGPT login in auth.json with the opt-in: no refresh, no registration, auth.json unchanged"
	answered := h.wifCase(nil, nil)
	login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	home := h.home("t", &login, true, "")
	before, _ := os.ReadFile(filepath.Join(home, "auth.json"))
	r := h.exec("t-wif-over-expired-login-optin", home, h.wifEnv(h.tokenFile("oidc-token-t", testAssertion))...)
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		toks := answered()
		if len(toks) != 1 || len(r.find(isRefresh)) != 0 {
			return fmt.Errorf("%d exchanges and %d refreshes, want 1 and 0", len(toks), len(r.find(isRefresh)))
		}
		if err := noAgentIdentity(r); err != nil {
			return err
		}
		if err := backendAs(r, toks[0], "account-wif", false); err != nil {
			return err
		}
		after, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil || !bytes.Equal(before, after) {
			return fmt.Errorf("auth.json changed (%v)", err)
		}
		return nil
	}()
	addRow(name, err, r.summary())
}

func (h *credHarness) rowWIFStaging() {
	const name = "(u) workload identity with the staging base URL: the exchange at https://auth.api.openai.org/oauth/token; a custom base URL is refused before any request"
	answered := h.wifCase(nil, nil)
	tf := h.tokenFile("oidc-token-u", testAssertion)
	r := h.exec("u-wif-staging", h.home("u1", nil, false, `chatgpt_base_url = "https://chatgpt-staging.com/backend-api"`+"\n"), h.wifEnv(tf)...)
	custom := h.exec("u-wif-custom", h.home("u2", nil, false, `chatgpt_base_url = "https://chatgpt.com/custom/backend-api"`+"\n"), h.wifEnv(tf)...)
	var evidence string
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		ex := r.find(isExchange)
		if len(ex) != 1 || ex[0].URL != "https://"+hostAuthStaging+"/oauth/token" {
			return fmt.Errorf("%d exchanges, first at %v", len(ex), ex)
		}
		toks := answered()
		var hosts []string
		seen := map[string]bool{}
		for _, c := range r.find(isBackendHost) {
			if bearerOf(c) != toks[len(toks)-1] {
				return fmt.Errorf("%s: not the exchanged token", c.line())
			}
			k := c.Host + " " + c.Path
			if !seen[k] && !strings.Contains(c.Path, "/ps/") {
				seen[k] = true
				hosts = append(hosts, k)
			}
		}
		sort.Strings(hosts)
		evidence = "backend routes: " + strings.Join(hosts, ", ")
		if custom.rc == 0 || len(custom.caps) != 0 {
			return fmt.Errorf("custom base URL: rc=%d, %d requests", custom.rc, len(custom.caps))
		}
		rd := append(redactor{toks[len(toks)-1], "{{WIF_ACCESS_TOKEN}}"}, h.rd...)
		return golden("u-wif-staging.txt", ex[0].render(rd)+"\n# routes (host path) of the staging run\n"+strings.Join(hosts, "\n")+
			"\n\n# chatgpt_base_url = \"https://chatgpt.com/custom/backend-api\"\n"+h.stderrError(custom))
	}()
	addRow(name, err, ev(evidence, r.summary()))
}

func (h *credHarness) rowWIFReread() {
	const name = "(v) workload identity: a token that lapsed is exchanged again, the token file read again for it, and inference uses a new token"
	tf := h.tokenFile("oidc-token-v", "assertion-1")
	var n atomic.Int64
	answered := h.wifCase(func(m map[string]any) { m["expires_in"] = 1 }, func(url.Values) {
		_ = os.WriteFile(tf, []byte(fmt.Sprintf("assertion-%d", n.Add(1)+1)), 0o600)
	})
	// Routing discovery answers 2.5 s late, so that the 1 s token has
	// lapsed before inference: the expiry is what is under test.
	h.s.checkDelay.Store(int64(2500 * time.Millisecond))
	r := h.exec("v-wif-reread", h.home("v", nil, false, ""), "OPENAI_FEDERATION_RULE_ID="+testRuleID, "OPENAI_IDENTITY_TOKEN_FILE="+tf)
	h.s.checkDelay.Store(0)
	err := func() error {
		if err := r.turnErr(); err != nil {
			return err
		}
		ex := r.find(isExchange)
		toks := answered()
		if len(ex) < 2 {
			return fmt.Errorf("%d exchanges, want a second one after the token lapsed", len(ex))
		}
		// The file holds assertion-1, then assertion-<n+1> once the n-th
		// exchange was answered: exchange i must send one the file held
		// by then, the first assertion-1, and a later one a newer one.
		reread := false
		for i, c := range ex {
			form, _ := url.ParseQuery(string(c.Body))
			var k int
			if _, err := fmt.Sscanf(form.Get("assertion"), "assertion-%d", &k); err != nil || k < 1 || k > i+1 || (i == 0 && k != 1) {
				return fmt.Errorf("exchange %d sent assertion %q", i+1, form.Get("assertion"))
			}
			reread = reread || k > 1
		}
		if !reread {
			return errors.New("every exchange sent the first assertion: the token file was not read again")
		}
		last := r.find(func(c capture) bool { return c.Method == http.MethodPost && c.Path == "/backend-api/codex/responses" })
		if len(last) == 0 || len(toks) < 2 || bearerOf(last[len(last)-1]) == toks[0] {
			return errors.New("inference after the lapse used the first token, not a new one")
		}
		return nil
	}()
	addRow(name, err, ev(fmt.Sprintf("%d exchanges", len(r.find(isExchange))), r.summary()))
}

// wifConfig is a partial or broken workload identity configuration.
type wifConfig struct {
	name string
	env  []string
}

// wifConfigCases are the configurations of row (w) (and (w-ours)).
func (h *credHarness) wifConfigCases() []wifConfig {
	tf := h.tokenFile("oidc-token-w", testAssertion)
	return []wifConfig{
		{"rule only", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID}},
		{"file only", []string{"OPENAI_IDENTITY_TOKEN_FILE=" + tf}},
		{"relative file", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE=oidc-token"}},
		{"empty file variable", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE="}},
		{"blank rule", []string{"OPENAI_FEDERATION_RULE_ID=   ", "OPENAI_IDENTITY_TOKEN_FILE=" + tf}},
		{"empty rule", []string{"OPENAI_FEDERATION_RULE_ID=", "OPENAI_IDENTITY_TOKEN_FILE=" + tf}},
		{"missing file", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE=" + filepath.Join(h.tmp, "no-such-token")}},
		{"a directory", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE=" + h.tmp}},
		{"blank token", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE=" + h.tokenFile("blank-token", " \n")}},
		{"token of 16 KiB + 1", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_FILE=" + h.tokenFile("huge-token", strings.Repeat("a", 16<<10+1))}},
		{"unknown source", append([]string{"OPENAI_IDENTITY_TOKEN_SOURCE=vault"}, h.wifEnv(tf)...)},
		{"spiffe without socket", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleID, "OPENAI_IDENTITY_TOKEN_SOURCE=spiffe"}},
	}
}

func (h *credHarness) rowWIFConfigErrors() {
	const name = "(w) partial or broken workload configurations: Codex's errors verbatim as recorded, no request made"
	var b strings.Builder
	err := func() error {
		for _, c := range h.wifConfigCases() {
			r := h.exec("w-"+strings.ReplaceAll(c.name, " ", "-"), h.home("w", nil, false, ""), c.env...)
			if r.rc == 0 || len(r.caps) != 0 {
				return fmt.Errorf("%s: rc=%d, %d requests", c.name, r.rc, len(r.caps))
			}
			fmt.Fprintf(&b, "# %s: %s\n%s\n", c.name, h.rd.apply(strings.Join(c.env, " ")), h.stderrError(r))
		}
		return golden("w-wif-config-errors.txt", b.String())
	}()
	addRow(name, err, "12 configurations")
}

// wifAnswerCase is an answer of the token exchange: a valid one changed by
// edit, or raw.
type wifAnswerCase struct {
	name string
	edit func(m map[string]any)
	raw  *exchangeAnswer
}

// wifAnswerCases are the exchange answers of row (x) (and (x-ours)).
func wifAnswerCases() []wifAnswerCase {
	return []wifAnswerCase{
		{"valid", nil, nil},
		{"token_type bearer (lower case)", func(m map[string]any) { m["token_type"] = "bearer" }, nil},
		{"unknown member", func(m map[string]any) { m["x_extra"] = true }, nil},
		{"no chatgpt_plan_type", func(m map[string]any) { delete(m, "chatgpt_plan_type") }, nil},
		{"no scope", func(m map[string]any) { delete(m, "scope") }, nil},
		{"no chatgpt_account_user_id", func(m map[string]any) { delete(m, "chatgpt_account_user_id") }, nil},
		{"no user_id", func(m map[string]any) { delete(m, "user_id") }, nil},
		{"user_id not the token's", func(m map[string]any) { m["user_id"] = "user-other" }, nil},
		{"no chatgpt_account_id", func(m map[string]any) { delete(m, "chatgpt_account_id") }, nil},
		{"chatgpt_account_id not the token's", func(m map[string]any) { m["chatgpt_account_id"] = "account-other" }, nil},
		{"issued_token_type id_token", func(m map[string]any) { m["issued_token_type"] = "urn:ietf:params:oauth:token-type:id_token" }, nil},
		{"token_type mac", func(m map[string]any) { m["token_type"] = "mac" }, nil},
		{"expires_in 0", func(m map[string]any) { m["expires_in"] = 0 }, nil},
		{"expires_in 3601", func(m map[string]any) { m["expires_in"] = 3601 }, nil},
		{"expires_in \"3600\"", func(m map[string]any) { m["expires_in"] = "3600" }, nil},
		{"expires_in 3600.5", func(m map[string]any) { m["expires_in"] = 3600.5 }, nil},
		{"access_token not a JWT", func(m map[string]any) { m["access_token"] = "opaque-token" }, nil},
		{"HTTP 401", nil, &exchangeAnswer{status: http.StatusUnauthorized, body: []byte(`{"error":"invalid_grant","error_description":"a detail Codex must not echo"}`)}},
		{"HTTP 429", nil, &exchangeAnswer{status: http.StatusTooManyRequests, body: []byte(`{"error":"slow_down"}`)}},
		{"HTTP 503", nil, &exchangeAnswer{status: http.StatusServiceUnavailable, body: []byte(`{}`)}},
		{"HTTP 307 to another path", nil, &exchangeAnswer{status: http.StatusTemporaryRedirect, location: "https://auth.openai.com/oauth/token-moved"}},
		{"not JSON", nil, &exchangeAnswer{status: http.StatusOK, body: []byte(`<html>`)}},
		{"hang up", nil, &exchangeAnswer{hangUp: true}},
	}
}

// setAnswer makes the stand-in answer the exchange with c; the tokens
// answered, for a valid one.
func (h *credHarness) setAnswer(c wifAnswerCase) func() []string {
	if c.raw != nil {
		raw := *c.raw
		h.s.setCase(patWhoami, func(url.Values) exchangeAnswer { return raw })
		return func() []string { return nil }
	}
	return h.wifCase(c.edit, nil)
}

func (h *credHarness) rowWIFAnswers() {
	const name = "(x) exchange answers: which ones Codex 0.171 accepts, and its errors for the others, as recorded"
	tf := h.tokenFile("oidc-token-x", testAssertion)
	var b strings.Builder
	err := func() error {
		for _, c := range wifAnswerCases() {
			h.setAnswer(c)
			r := h.exec("x-"+strings.Fields(c.name)[0], h.home("x", nil, false, ""), "OPENAI_FEDERATION_RULE_ID="+testRuleID, "OPENAI_IDENTITY_TOKEN_FILE="+tf)
			verdict := "accepted: the turn completed"
			if !r.turnDone() {
				verdict = "refused, rc " + fmt.Sprint(r.rc) + ":\n" + h.stderrError(r)
			}
			fmt.Fprintf(&b, "# %s: %d exchange(s)\n%s\n", c.name, len(r.find(isExchange)), strings.TrimRight(verdict, "\n"))
			b.WriteString("\n")
		}
		return golden("x-wif-exchange-answers.txt", b.String())
	}()
	addRow(name, err, "23 answers")
}

// ---- (y) precedence ----

func (h *credHarness) rowPrecedence() {
	tf := h.tokenFile("oidc-token-y", testAssertion)
	wif := h.wifEnv(tf)
	jwtSecret, jwtErr := h.s.fake.MintAgentJWT(identitytest.JWTOptions{TTL: time.Hour})
	jwt := jwtSecret.Reveal()
	patHome := h.home("y-pat-file", nil, false, "")
	h.s.setCase(patWhoami, nil)
	if r := h.run("y-login-pat", patHome, nil, testPAT+"\n", "login", "--with-access-token"); r.rc != 0 {
		addRow("(y) precedence", fmt.Errorf("codex login --with-access-token: rc=%d", r.rc), "")
		return
	}
	type outcome struct {
		r    hostsRun
		toks []string
	}
	wifRun := func(name, home string, env ...string) outcome {
		answered := h.wifCase(nil, nil)
		r := h.exec(name, home, env...)
		return outcome{r, answered()}
	}
	rows := []struct {
		name  string
		check func() (string, error)
	}{
		{"(y1) workload identity and CODEX_ACCESS_TOKEN=at-… both set: the workload identity wins (Codex looks the token up once, then uses only the exchanged token)", func() (string, error) {
			o := wifRun("y1-wif-and-pat-env", h.home("y1", nil, false, ""), append(wif, "CODEX_ACCESS_TOKEN="+testPAT)...)
			if err := o.r.turnErr(); err != nil {
				return "", err
			}
			if len(o.toks) != 1 {
				return "", fmt.Errorf("%d exchanges", len(o.toks))
			}
			if err := backendAs(o.r, o.toks[0], "account-wif", false); err != nil {
				return "", err
			}
			return fmt.Sprintf("%d lookups of the token, 1 exchange; %s", len(o.r.find(isWhoami)), o.r.summary()), noAgentIdentity(o.r)
		}},
		{"(y2) workload identity and an Agent Identity JWT in CODEX_ACCESS_TOKEN: the workload identity wins (Codex still fetches the JWKS and registers a task first), nothing signed", func() (string, error) {
			if jwtErr != nil {
				return "", jwtErr
			}
			o := wifRun("y2-wif-and-jwt-env", h.home("y2", nil, false, ""), append(wif, "CODEX_ACCESS_TOKEN="+jwt)...)
			if err := o.r.turnErr(); err != nil {
				return "", err
			}
			if len(o.toks) != 1 {
				return "", fmt.Errorf("%d exchanges", len(o.toks))
			}
			for _, c := range o.r.caps {
				if strings.HasPrefix(c.Header.Get("Authorization"), "AgentAssertion ") {
					return "", fmt.Errorf("signed: %s", c.line())
				}
			}
			if err := backendAs(o.r, o.toks[0], "account-wif", false); err != nil {
				return "", err
			}
			jwks := o.r.find(func(c capture) bool { return strings.HasSuffix(c.Path, "/agent-identities/jwks") })
			return fmt.Sprintf("%d JWKS fetches and %d task registrations before the exchange; %s", len(jwks), len(o.r.find(isTaskRegistration)), o.r.summary()), nil
		}},
		{"(y3) workload identity and a personal access token in auth.json: the workload identity wins", func() (string, error) {
			o := wifRun("y3-wif-and-pat-file", patHome, wif...)
			if err := o.r.turnErr(); err != nil {
				return "", err
			}
			if len(o.toks) != 1 {
				return "", fmt.Errorf("%d exchanges", len(o.toks))
			}
			return fmt.Sprintf("%d lookups of the stored token; %s", len(o.r.find(isWhoami)), o.r.summary()), backendAs(o.r, o.toks[0], "account-wif", false)
		}},
		{"(y4) CODEX_ACCESS_TOKEN=at-… and a ChatGPT login in auth.json (opt-in on and off): the token wins; no refresh, no registration, auth.json unchanged", func() (string, error) {
			var sums []string
			for _, optIn := range []bool{false, true} {
				login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
				home := h.home(fmt.Sprintf("y4-%v", optIn), &login, optIn, "")
				before, _ := os.ReadFile(filepath.Join(home, "auth.json"))
				r := h.exec(fmt.Sprintf("y4-pat-env-over-login-optin-%v", optIn), home, "CODEX_ACCESS_TOKEN="+testPAT)
				if err := r.turnErr(); err != nil {
					return "", err
				}
				if err := backendAs(r, testPAT, "account-pat", false); err != nil {
					return "", err
				}
				if err := noAgentIdentity(r); err != nil {
					return "", err
				}
				if n := len(r.find(isRefresh)); n != 0 {
					return "", fmt.Errorf("%d refreshes", n)
				}
				after, _ := os.ReadFile(filepath.Join(home, "auth.json"))
				if !bytes.Equal(before, after) {
					return "", errors.New("auth.json changed")
				}
				sums = append(sums, fmt.Sprintf("opt-in %v: %s", optIn, r.summary()))
			}
			return strings.Join(sums, "; "), nil
		}},
		{"(y5) CODEX_ACCESS_TOKEN (another at-…, or an Agent Identity JWT) and a personal access token in auth.json: the environment wins", func() (string, error) {
			r := h.exec("y5-pat-env-over-pat-file", patHome, "CODEX_ACCESS_TOKEN="+testPATFedRAMP)
			if err := r.turnErr(); err != nil {
				return "", err
			}
			if err := backendAs(r, testPATFedRAMP, "account-patf", true); err != nil {
				return "", err
			}
			for _, c := range r.caps {
				if strings.Contains(c.Header.Get("Authorization"), testPAT) {
					return "", fmt.Errorf("the stored token was sent: %s", c.line())
				}
			}
			if jwtErr != nil {
				return "", jwtErr
			}
			j := h.exec("y5-jwt-env-over-pat-file", patHome, "CODEX_ACCESS_TOKEN="+jwt)
			if err := j.turnErr(); err != nil {
				return "", err
			}
			for _, c := range j.find(isBackendHost) {
				if !strings.HasSuffix(c.Path, "/agent-identities/jwks") && !strings.HasPrefix(c.Header.Get("Authorization"), "AgentAssertion ") {
					return "", fmt.Errorf("JWT over a stored token: not signed: %s", c.line())
				}
			}
			if n := len(j.find(isWhoami)); n != 0 {
				return "", fmt.Errorf("JWT over a stored token: %d lookups of the stored token", n)
			}
			return ev(r.summary(), j.summary()), nil
		}},
		{"(y6) a selected workload identity that fails never falls back to CODEX_ACCESS_TOKEN; a refused token does not stop a workload identity", func() (string, error) {
			h.s.setCase(patWhoami, func(url.Values) exchangeAnswer {
				return exchangeAnswer{status: http.StatusUnauthorized, body: []byte(`{"error":"invalid_grant"}`)}
			})
			rejected := h.exec("y6-rejected-wif-and-pat", h.home("y6a", nil, false, ""), append(wif, "CODEX_ACCESS_TOKEN="+testPAT)...)
			partial := h.exec("y6-partial-wif-and-pat", h.home("y6b", nil, false, ""), "OPENAI_FEDERATION_RULE_ID="+testRuleID, "CODEX_ACCESS_TOKEN="+testPAT)
			if rejected.rc == 0 || partial.rc == 0 {
				return "", fmt.Errorf("rejected exchange rc=%d, partial rc=%d", rejected.rc, partial.rc)
			}
			for _, c := range append(rejected.caps, partial.caps...) {
				if isBackendHost(c) {
					return "", fmt.Errorf("a backend request after a failed workload identity: %s", c.line())
				}
			}
			o := wifRun("y6-wif-and-refused-pat", h.home("y6c", nil, false, ""), append(wif, "CODEX_ACCESS_TOKEN="+testPATRefused)...)
			if err := o.r.turnErr(); err != nil {
				return "", err
			}
			if err := backendAs(o.r, o.toks[0], "account-wif", false); err != nil {
				return "", err
			}
			return fmt.Sprintf("rejected: %q; partial: %q", lastLine(h.stderrError(rejected)), strings.TrimSpace(h.stderrError(partial))), nil
		}},
	}
	for _, row := range rows {
		evidence, err := row.check()
		addRow(row.name, err, evidence)
	}
}
