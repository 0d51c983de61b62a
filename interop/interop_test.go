//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/wire"
)

const (
	// insideEnv marks the copy of this test that runs inside the namespace.
	insideEnv = "AGENTID_INTEROP_INSIDE"
	codexEnv  = "AGENTID_INTEROP_CODEX"
	// rowsEnv names the file the copy inside the namespace appends each
	// row to, one JSON object a line (rowResult), for the drift report.
	rowsEnv = "AGENTID_INTEROP_ROWS"
	// reportEnv set to 1 makes a run a report (the drift run against
	// latest): a golden file that differs is noted on its row, not failed.
	reportEnv = "AGENTID_INTEROP_REPORT"
	// boundEnv is the number of seconds the run inside the namespace is
	// bounded to: the daemons it starts are bounded by it too.
	boundEnv = "AGENTID_INTEROP_BOUND"

	namespaceTimeout = 8 * time.Minute // the whole run inside the namespace
	codexTimeout     = 60              // seconds, one codex command

	// interopResponseText is the assistant message of the fake backend's
	// model answers, which a Codex turn prints.
	interopResponseText = "Hello from the identitytest fake backend."
)

// TestMain is the outer half outside the namespace: it gets the Codex
// binary, checks its version and re-runs this binary inside a new
// loopback-only network namespace; then, as a report, the same against npm's
// latest Codex (drift_run_test.go). Inside, it runs the rows and prints the
// summary last.
func TestMain(m *testing.M) {
	if os.Getenv(insideEnv) == "1" {
		code := m.Run()
		printRows()
		if code == 0 && failedRows() > 0 {
			code = 1
		}
		os.Exit(code)
	}
	os.Exit(outer())
}

// ---- rows ----

var (
	rowsMu sync.Mutex
	rows   []rowResult
	// goldenNotes are the golden differences a report-mode run noted
	// since the last row: they belong to the next row added.
	goldenNotes []string
)

func reportMode() bool { return os.Getenv(reportEnv) == "1" }

// noteGolden keeps a golden difference for the row being checked.
func noteGolden(note string) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	goldenNotes = append(goldenNotes, note)
}

func addRow(name string, err error, evidence string) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	r := rowResult{Name: name, Pass: err == nil, Evidence: evidence, Golden: goldenNotes}
	goldenNotes = nil
	if err != nil {
		r.Evidence = err.Error()
		if evidence != "" {
			r.Evidence += " (" + evidence + ")"
		}
	}
	rows = append(rows, r)
	printed := r.Evidence
	for _, g := range r.Golden {
		printed += " [report: " + g + "]"
	}
	fmt.Printf("%s %s: %s\n", r.verdict(), r.Name, printed)
	if path := os.Getenv(rowsEnv); path != "" {
		if err := appendRowResult(path, r); err != nil {
			fmt.Printf("codex-interop: recording the row for the drift report: %v\n", err)
		}
	}
}

// appendRowResult appends r to the rows file as one JSON line, at once, so
// that a run ended early leaves every row it finished.
func appendRowResult(path string, r rowResult) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func failedRows() int {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	n := 0
	for _, r := range rows {
		if !r.Pass {
			n++
		}
	}
	return n
}

func printRows() {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	pass := 0
	for _, r := range rows {
		if r.Pass {
			pass++
		}
	}
	fmt.Printf("codex-interop: %d/%d rows pass\n", pass, len(rows))
}

// ---- the run inside the namespace ----

type harness struct {
	t     *testing.T
	codex string
	tmp   string
	srv   *identitytest.Server
	ca    string

	mu  sync.Mutex
	ex  []identitytest.Exchange
	key map[string]string // agent runtime id -> PKCS#8 base64 private key

	// Kept for the route-credential row: Codex's runs in both modes.
	optInRun, jwtRun   codexRun
	optInHome, jwtHome string
	jwtToken           string
}

// codexRun is one codex exec.
type codexRun struct {
	rc             int
	stdout, stderr string
	ex             []identitytest.Exchange
	wall           time.Duration
}

func TestInterop(t *testing.T) {
	if err := loopbackOnly(); err != nil {
		addRow("network namespace", err, "")
		t.Fatal("refusing to run Codex:", err)
	}
	h := &harness{t: t, codex: os.Getenv(codexEnv), key: map[string]string{}}
	tmp, err := os.MkdirTemp("", "codex-interop-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	h.tmp = tmp
	h.srv = identitytest.NewUnstartedServer(identitytest.Options{ResponseText: interopResponseText, OnRequest: func(e identitytest.Exchange) {
		h.mu.Lock()
		h.ex = append(h.ex, e)
		h.mu.Unlock()
	}})
	if err := h.srv.StartTLS(); err != nil {
		t.Fatal(err)
	}
	defer h.srv.Close()
	h.ca = filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(h.ca, h.srv.CACertificatePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("codex-interop: fake backend %s inside a loopback-only namespace\n", h.srv.URL)

	start := time.Now()
	homeA := h.rowOptIn()
	h.rowRestart(homeA)
	h.rowLoadCodexFile(homeA)
	h.rowProvisioned()
	h.rowJWT()
	h.rowFedRAMP()
	h.rowTaskSpellings()
	h.rowRefresh()
	h.rowsKeyring() // (j), (k): keyring_test.go
	h.rowRouteCredentials()
	h.rowAssertionsByteEqual() // last: covers every run above
	fmt.Printf("codex-interop: rows took %.1fs\n", time.Since(start).Seconds())
	if failedRows() > 0 {
		t.Fail()
	}
}

// loopbackOnly refuses any interface but an up lo.
func loopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		return fmt.Errorf("want only an up lo interface, have %v", names)
	}
	return nil
}

// newHome makes a Codex home with a fresh ChatGPT login and the opt-in.
func (h *harness) newHome(name string, o identitytest.LoginOptions) (string, identitytest.ChatGPTLogin) {
	dir := filepath.Join(h.tmp, name)
	if o.TTL == 0 {
		o.TTL = 24 * time.Hour
	}
	login := h.srv.MintChatGPTLogin(o)
	if err := h.srv.WriteCodexHome(dir, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}); err != nil {
		h.t.Fatal(err)
	}
	return dir, login
}

// runCodex runs `codex exec` with home as CODEX_HOME, under timeout, in its
// own process group (killed afterwards), with an environment of only what
// it needs.
func (h *harness) runCodex(home string, extra ...string) codexRun {
	work := filepath.Join(h.tmp, "work")
	userHome := filepath.Join(h.tmp, "user-home")
	for _, d := range []string{work, userHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			h.t.Fatal(err)
		}
	}
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + userHome, "CODEX_HOME=" + home,
		"SSL_CERT_FILE=" + h.ca, "CODEX_CA_CERTIFICATE=" + h.ca, "RUST_LOG=warn", "NO_COLOR=1",
	}
	for k, v := range h.srv.CodexEnv() {
		env = append(env, k+"="+v)
	}
	env = append(env, extra...)
	h.mu.Lock()
	first := len(h.ex)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), (codexTimeout+10)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "timeout", "-k", "5", fmt.Sprint(codexTimeout), h.codex,
		"exec", "--strict-config", "--skip-git-repo-check", "hi")
	cmd.Dir, cmd.Env = work, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	err := cmd.Run()
	wall := time.Since(started)
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever Codex left in its group
	}
	rc := 0
	if err != nil {
		rc = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			rc = ee.ExitCode()
		}
	}
	// Every exchange is recorded once its handler returned: wait for the
	// server to be idle (bounded), not for a guessed time.
	idleCtx, idleCancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = h.srv.WaitIdle(idleCtx)
	idleCancel()
	h.mu.Lock()
	ex := append([]identitytest.Exchange(nil), h.ex[first:]...)
	h.mu.Unlock()
	return codexRun{rc: rc, stdout: stdout.String(), stderr: stderr.String(), ex: ex, wall: wall}
}

// turnOK checks that a run completed its turn with the fake's answer and
// that every signed request verified and nothing was refused with 401.
func (r codexRun) turnOK() error {
	if r.rc != 0 || !strings.Contains(r.stdout, interopResponseText) {
		return fmt.Errorf("codex exec rc=%d, stdout %q, stderr tail %q", r.rc, tail(r.stdout, 200), tail(r.stderr, 600))
	}
	inference := 0
	for _, e := range r.ex {
		if e.Status == http.StatusUnauthorized {
			return fmt.Errorf("refused: %s", e.LogLine())
		}
		if e.Scheme == "AgentAssertion" && !strings.HasPrefix(e.Verdict, "verified") {
			return fmt.Errorf("a signed request did not verify: %s", e.LogLine())
		}
		if e.Method == http.MethodPost && e.Path == "/backend-api/codex/responses" {
			if e.Scheme != "AgentAssertion" || e.Status != http.StatusOK {
				return fmt.Errorf("inference not signed or not answered: %s", e.LogLine())
			}
			inference++
		}
	}
	if inference == 0 {
		return errors.New("no inference request reached the backend")
	}
	return nil
}

func (r codexRun) summary() string {
	signed := 0
	for _, e := range r.ex {
		if e.Scheme == "AgentAssertion" {
			signed++
		}
	}
	return fmt.Sprintf("rc=%d in %.1fs, %d requests, %d signed and verified", r.rc, r.wall.Seconds(), len(r.ex), signed)
}

func (r codexRun) find(pred func(identitytest.Exchange) bool) []identitytest.Exchange {
	var out []identitytest.Exchange
	for _, e := range r.ex {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

func isAgentReg(e identitytest.Exchange) bool {
	return e.Method == http.MethodPost && e.Path == "/api/accounts/v1/agent/register"
}

func isTaskReg(e identitytest.Exchange) bool {
	return e.Method == http.MethodPost && strings.HasPrefix(e.Path, "/api/accounts/v1/agent/") && strings.HasSuffix(e.Path, "/task/register")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// storedIdentity is the agent_identity record of an auth.json.
type storedIdentity struct {
	AgentRuntimeID  string `json:"agent_runtime_id"`
	AgentPrivateKey string `json:"agent_private_key"`
	AccountID       string `json:"account_id"`
	TaskID          string `json:"task_id"`
	FedRAMP         bool   `json:"chatgpt_account_is_fedramp"`
}

func (h *harness) readIdentity(home string) (storedIdentity, []byte, error) {
	data, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		return storedIdentity{}, nil, err
	}
	rec, err := h.identityRecord(data)
	if err != nil {
		return rec, data, fmt.Errorf("auth.json: %v", err)
	}
	return rec, data, nil
}

// identityRecord reads the agent_identity record of an auth.json (or of the
// keyring entry that stands for one) and remembers its key for row (f).
func (h *harness) identityRecord(data []byte) (storedIdentity, error) {
	var f struct {
		AgentIdentity *storedIdentity `json:"agent_identity"`
	}
	if err := json.Unmarshal(data, &f); err != nil || f.AgentIdentity == nil {
		return storedIdentity{}, fmt.Errorf("no agent_identity record (%v)", err)
	}
	h.mu.Lock()
	h.key[f.AgentIdentity.AgentRuntimeID] = f.AgentIdentity.AgentPrivateKey
	h.mu.Unlock()
	return *f.AgentIdentity, nil
}

// loadChatGPT is identity.Load of home in ChatGPT mode against the fake.
func (h *harness) loadChatGPT(ctx context.Context, home string) (*identity.RunAuth, error) {
	ra, err := identity.Load(ctx, identity.LoadOptions{
		CodexHome: home, Policy: identity.PolicyChatGPTAuth,
		Getenv: h.srv.Getenv(nil), HTTPClient: h.srv.Client(),
	})
	if err != nil {
		return nil, fmt.Errorf("identity.Load: %v", err)
	}
	return ra, nil
}

// loadsAsStored checks rows (c) and (k): identity.Load of home finds the
// agent and task Codex stored (rec) without registering, and two inference
// requests through its Transport verify.
func (h *harness) loadsAsStored(home string, rec storedIdentity) error {
	st := h.srv.Stats()
	regs := st.AgentsRegistered + st.TasksRegistered
	ctx := context.Background()
	ra, err := h.loadChatGPT(ctx, home)
	if err != nil {
		return err
	}
	task, err := ra.TaskID(ctx)
	if err != nil {
		return err
	}
	if ra.AgentRuntimeID() != rec.AgentRuntimeID || task != rec.TaskID {
		return fmt.Errorf("loaded agent %s task %s, Codex stored %s %s", ra.AgentRuntimeID(), task, rec.AgentRuntimeID, rec.TaskID)
	}
	verified := h.srv.Stats().RequestsVerified
	hc := &http.Client{Transport: ra.Transport(h.srv.Client().Transport)}
	for _, path := range []string{"/codex/responses", "/codex/responses/compact"} {
		resp, err := hc.Post(h.srv.ChatGPTBaseURL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s through the Transport: %s", path, resp.Status)
		}
	}
	if got := h.srv.Stats().RequestsVerified - verified; got != 2 {
		return fmt.Errorf("%d of 2 requests through the Transport verified", got)
	}
	if st := h.srv.Stats(); st.AgentsRegistered+st.TasksRegistered != regs {
		return fmt.Errorf("identity.Load registered %d times", st.AgentsRegistered+st.TasksRegistered-regs)
	}
	return nil
}

// signedOnlyAs checks rows (d) and (j): Codex registered nothing and signed
// every AgentAssertion as the provisioned agent and task.
func signedOnlyAs(r codexRun, rec storedIdentity) error {
	if n, m := len(r.find(isAgentReg)), len(r.find(isTaskReg)); n+m != 0 {
		return fmt.Errorf("Codex made %d agent and %d task registrations, want 0", n, m)
	}
	signed := r.find(func(e identitytest.Exchange) bool { return e.Scheme == "AgentAssertion" })
	if len(signed) == 0 {
		return errors.New("Codex signed nothing")
	}
	for _, x := range signed {
		env, err := wire.DecodeHeader(x.Header.Get("Authorization"))
		if err != nil {
			return err
		}
		if env.RuntimeID != rec.AgentRuntimeID || env.TaskID != rec.TaskID {
			return fmt.Errorf("Codex signed as %s/%s, provisioned %s/%s", env.RuntimeID, env.TaskID, rec.AgentRuntimeID, rec.TaskID)
		}
	}
	return nil
}

// (a) ChatGPT opt-in from a fresh login.
func (h *harness) rowOptIn() string {
	const name = "(a) ChatGPT opt-in registers 1 agent + 1 task, bodies byte-equal, turn completes"
	home, login := h.newHome("home-a", identitytest.LoginOptions{})
	r := h.runCodex(home)
	err := func() error {
		if err := r.turnOK(); err != nil {
			return err
		}
		agents, tasks := r.find(isAgentReg), r.find(isTaskReg)
		if len(agents) != 1 || len(tasks) != 1 {
			return fmt.Errorf("%d agent and %d task registrations, want 1 and 1", len(agents), len(tasks))
		}
		rec, _, err := h.readIdentity(home)
		if err != nil {
			return err
		}
		if rec.AccountID != login.AccountID || rec.TaskID == "" {
			return fmt.Errorf("stored record account %q task %q", rec.AccountID, rec.TaskID)
		}
		return h.sameRegistrationBodies(agents[0], tasks[0], rec, false)
	}()
	addRow(name, err, r.summary())
	h.optInRun, h.optInHome = r, home
	return home
}

// sameRegistrationBodies rebuilds Codex's two registration bodies with this
// module from the same inputs and compares the bytes.
func (h *harness) sameRegistrationBodies(agentReq, taskReq identitytest.Exchange, rec storedIdentity, fedRAMP bool) error {
	signer, err := identity.NewSigner(rec.AgentRuntimeID, codexhome.NewSecret(rec.AgentPrivateKey))
	if err != nil {
		return fmt.Errorf("the key Codex stored does not load: %v", err)
	}
	var codexAgent struct {
		Abom struct {
			AgentVersion    string `json:"agent_version"`
			AgentHarnessID  string `json:"agent_harness_id"`
			RunningLocation string `json:"running_location"`
		} `json:"abom"`
		AgentPublicKey string `json:"agent_public_key"`
	}
	if err := json.Unmarshal(agentReq.Body, &codexAgent); err != nil {
		return fmt.Errorf("Codex's agent registration body: %v", err)
	}
	if codexAgent.AgentPublicKey != signer.PublicKeySSH() {
		return errors.New("Codex registered a public key that is not the stored private key's")
	}
	ours, err := captureAgentRegistration(identity.AgentRegistration{
		AgentVersion: codexAgent.Abom.AgentVersion, AgentHarnessID: codexAgent.Abom.AgentHarnessID,
		RunningLocation: codexAgent.Abom.RunningLocation, PublicKeySSH: signer.PublicKeySSH(), FedRAMP: fedRAMP,
	})
	if err != nil {
		return err
	}
	if !bytes.Equal(ours, agentReq.Body) {
		return fmt.Errorf("agent registration bodies differ:\n codex %s\n ours  %s", agentReq.Body, ours)
	}
	var codexTask struct {
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(taskReq.Body, &codexTask); err != nil {
		return fmt.Errorf("Codex's task registration body: %v", err)
	}
	at, err := time.Parse(time.RFC3339, codexTask.Timestamp)
	if err != nil {
		return fmt.Errorf("task registration timestamp %q: %v", codexTask.Timestamp, err)
	}
	// The body identity.Client signs: wire.TaskRegistrationBody with the key.
	priv, err := wire.ParsePrivateKeyPKCS8Base64(rec.AgentPrivateKey)
	if err != nil {
		return err
	}
	oursTask, err := wire.TaskRegistrationBody(signer.AgentRuntimeID(), at, wire.Key{Priv: priv})
	if err != nil {
		return err
	}
	if !bytes.Equal(oursTask, taskReq.Body) {
		return fmt.Errorf("task registration bodies differ:\n codex %s\n ours  %s", taskReq.Body, oursTask)
	}
	return nil
}

// captureAgentRegistration returns the body identity.Client sends for reg.
func captureAgentRegistration(reg identity.AgentRegistration) ([]byte, error) {
	var body []byte
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"agent_runtime_id":"agent-capture"}`)
	}))
	defer capture.Close()
	c := &identity.Client{AuthAPIBaseURL: capture.URL + "/api/accounts", MaxAttempts: 1}
	if _, err := c.RegisterAgent(context.Background(), codexhome.NewSecret("capture-token"), reg); err != nil {
		return nil, err
	}
	return body, nil
}

// (b) a second run on the same home.
func (h *harness) rowRestart(home string) {
	r := h.runCodex(home)
	err := r.turnOK()
	if err == nil {
		if n, m := len(r.find(isAgentReg)), len(r.find(isTaskReg)); n+m != 0 {
			err = fmt.Errorf("%d agent and %d task registrations on restart, want 0", n, m)
		}
	}
	addRow("(b) restart reuses the stored agent and task: zero registrations", err, r.summary())
}

// (c) the auth.json Codex wrote, loaded by this module.
func (h *harness) rowLoadCodexFile(home string) {
	err := func() error {
		rec, before, err := h.readIdentity(home)
		if err != nil {
			return err
		}
		if err := h.loadsAsStored(home, rec); err != nil {
			return err
		}
		after, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil {
			return err
		}
		if !bytes.Equal(before, after) {
			return errors.New("auth.json bytes changed")
		}
		return nil
	}()
	addRow("(c) identity.Load reads Codex's auth.json: same agent and task, bytes unchanged, Transport requests verify", err, "agent, task, 2 requests verified")
}

// (d) an identity this module provisioned, used by Codex.
func (h *harness) rowProvisioned() {
	home, _ := h.newHome("home-d", identitytest.LoginOptions{})
	var r codexRun
	err := func() error {
		ra, err := h.loadChatGPT(context.Background(), home)
		if err != nil {
			return err
		}
		rec, _, err := h.readIdentity(home)
		if err != nil {
			return err
		}
		if rec.AgentRuntimeID != ra.AgentRuntimeID() || rec.TaskID == "" {
			return fmt.Errorf("the provisioned record holds agent %q task %q, identity.Load made %q", rec.AgentRuntimeID, rec.TaskID, ra.AgentRuntimeID())
		}
		r = h.runCodex(home)
		if err := r.turnOK(); err != nil {
			return err
		}
		return signedOnlyAs(r, rec)
	}()
	addRow("(d) Codex uses an auth.json this module provisioned: zero registrations", err, r.summary())
}

// (e) the CODEX_ACCESS_TOKEN path.
func (h *harness) rowJWT() {
	dir := filepath.Join(h.tmp, "home-e")
	var r codexRun
	err := func() error {
		tok, err := h.srv.MintAgentJWT(identitytest.JWTOptions{TTL: time.Hour})
		if err != nil {
			return err
		}
		claims, err := jwtClaims(tok.Reveal())
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.key[claims.AgentRuntimeID] = claims.AgentPrivateKey
		h.mu.Unlock()
		if err := h.srv.WriteCodexHome(dir, identitytest.CodexHomeOptions{}); err != nil {
			return err
		}
		jwks := h.srv.Stats().JWKSFetches
		r = h.runCodex(dir, "CODEX_ACCESS_TOKEN="+tok.Reveal())
		h.jwtRun, h.jwtHome, h.jwtToken = r, dir, tok.Reveal()
		if err := r.turnOK(); err != nil {
			return err
		}
		if len(r.find(isAgentReg)) != 0 || len(r.find(isTaskReg)) == 0 || h.srv.Stats().JWKSFetches == jwks {
			return fmt.Errorf("%d agent, %d task registrations, %d JWKS fetches", len(r.find(isAgentReg)), len(r.find(isTaskReg)), h.srv.Stats().JWKSFetches-jwks)
		}
		for _, e := range r.ex {
			if strings.HasPrefix(e.Path, "/backend-api/") && e.Path != "/backend-api/ps/mcp" &&
				e.Path != "/backend-api/wham/agent-identities/jwks" && e.Scheme != "AgentAssertion" {
				return fmt.Errorf("in JWT mode a first-party request was not signed: %s", e.LogLine())
			}
		}
		return nil
	}()
	ev := r.summary()
	if err == nil {
		ev += fmt.Sprintf(", %d task registrations", len(r.find(isTaskReg)))
	}
	addRow("(e) CODEX_ACCESS_TOKEN with a JWT minted by the fake: every first-party request signed", err, ev)
}

type agentClaims struct {
	AgentRuntimeID  string `json:"agent_runtime_id"`
	AgentPrivateKey string `json:"agent_private_key"`
}

func jwtClaims(tok string) (agentClaims, error) {
	var c agentClaims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(payload, &c)
}

// (g) FedRAMP.
func (h *harness) rowFedRAMP() {
	home, _ := h.newHome("home-g", identitytest.LoginOptions{Account: codexhome.Account{FedRAMP: true}})
	r := h.runCodex(home)
	err := func() error {
		if err := r.turnOK(); err != nil {
			return err
		}
		agents := r.find(isAgentReg)
		if len(agents) != 1 || agents[0].Header.Get("X-OpenAI-Fedramp") != "true" {
			return fmt.Errorf("%d agent registrations, FedRAMP header %v", len(agents), agents)
		}
		authed := r.find(func(e identitytest.Exchange) bool { return e.Scheme == "AgentAssertion" || e.Scheme == "Bearer" })
		for _, e := range authed {
			if e.Header.Get("X-OpenAI-Fedramp") != "true" {
				return fmt.Errorf("request without X-OpenAI-Fedramp: %s", e.LogLine())
			}
		}
		rec, _, err := h.readIdentity(home)
		if err != nil {
			return err
		}
		if !rec.FedRAMP {
			return errors.New("stored record not marked chatgpt_account_is_fedramp")
		}
		return h.sameRegistrationBodies(agents[0], r.find(isTaskReg)[0], rec, true)
	}()
	addRow("(g) FedRAMP: X-OpenAI-Fedramp on agent registration and every Bearer and signed request; bodies byte-equal", err, r.summary())
}

// (h) the four spellings of the task id.
func (h *harness) rowTaskSpellings() {
	// Each spelling is the one member of the answer that carries the id.
	members := []string{"task_id", "taskId", "encrypted_task_id", "encryptedTaskId"}
	defer h.srv.SetFault(identitytest.Fault{})
	var ev []string
	var errs []error
	for i, member := range members {
		h.srv.SetFault(identitytest.Fault{TaskIDMembers: []string{member}})
		home, _ := h.newHome(fmt.Sprintf("home-h%d", i), identitytest.LoginOptions{})
		r := h.runCodex(home)
		err := r.turnOK()
		if err == nil {
			var rec storedIdentity
			if rec, _, err = h.readIdentity(home); err == nil {
				ok := false
				for _, id := range h.srv.TaskIDs(rec.AgentRuntimeID) {
					ok = ok || id == rec.TaskID
				}
				if !ok || len(r.find(isTaskReg)) != 1 {
					err = fmt.Errorf("stored task %q not the one registered", rec.TaskID)
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", member, err))
			ev = append(ev, member+" FAIL")
		} else {
			ev = append(ev, member+" ok")
		}
	}
	addRow("(h) task id in all four spellings (sealed ones by gateway.SealTaskID)", errors.Join(errs...), strings.Join(ev, ", "))
}

// (i) token refresh of an expired ChatGPT access token.
func (h *harness) rowRefresh() {
	home, login := h.newHome("home-i", identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	st := h.srv.Stats()
	refreshes, refused := st.Refreshes, st.RefreshesRefused
	r := h.runCodex(home)
	refreshShape := ""
	err := func() error {
		if err := r.turnOK(); err != nil {
			return err
		}
		if st := h.srv.Stats(); st.Refreshes-refreshes != 1 || st.RefreshesRefused != refused {
			return fmt.Errorf("%d refreshes, %d refused, want 1 and 0", st.Refreshes-refreshes, st.RefreshesRefused-refused)
		}
		reqs := r.find(func(e identitytest.Exchange) bool { return e.Path == "/oauth/token" })
		var raw map[string]string
		// Codex 0.171 adds "refresh_reason" to the shape of the research notes.
		if len(reqs) != 1 || json.Unmarshal(reqs[0].Body, &raw) != nil || raw["grant_type"] != "refresh_token" ||
			raw["refresh_token"] != login.RefreshToken.Reveal() || raw["client_id"] == "" || len(raw) > 4 {
			return fmt.Errorf("%d refresh requests, body members %v", len(reqs), keys(raw))
		}
		refreshShape = fmt.Sprintf("body members %v, refresh_reason %q", keys(raw), raw["refresh_reason"])
		if _, _, err := h.readIdentity(home); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(home, "auth.json"))
		if err != nil {
			return err
		}
		var f struct {
			Tokens struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			} `json:"tokens"`
		}
		if err := json.Unmarshal(data, &f); err != nil || f.Tokens.AccessToken == login.AccessToken.Reveal() || f.Tokens.RefreshToken == login.RefreshToken.Reveal() {
			return errors.New("auth.json does not hold the rotated tokens")
		}
		// The redeemed refresh token is refused if reused.
		resp, err := h.srv.Client().Post(h.srv.RefreshTokenURL, "application/json",
			strings.NewReader(`{"client_id":"x","grant_type":"refresh_token","refresh_token":"`+login.RefreshToken.Reveal()+`"}`))
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "refresh_token_reused") {
			return fmt.Errorf("reuse answered %s %s", resp.Status, b)
		}
		return nil
	}()
	addRow("(i) expired access token: Codex refreshes once at the fake, the turn completes, reuse refused", err, r.summary()+"; "+refreshShape)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// (f) every AgentAssertion Codex sent, byte for byte.
func (h *harness) rowAssertionsByteEqual() {
	h.mu.Lock()
	ex := append([]identitytest.Exchange(nil), h.ex...)
	keysByAgent := h.key
	h.mu.Unlock()
	n := 0
	err := func() error {
		for _, e := range ex {
			if e.Scheme != "AgentAssertion" {
				continue
			}
			if ua := e.Header.Get("User-Agent"); strings.HasPrefix(ua, "Go-http-client") {
				continue // this module's own requests of row (c)
			}
			header := e.Header.Get("Authorization")
			env, err := wire.DecodeHeader(header)
			if err != nil {
				return fmt.Errorf("%s %s: %v", e.Method, e.Path, err)
			}
			key, ok := keysByAgent[env.RuntimeID]
			if !ok {
				return fmt.Errorf("no key known for agent %s", env.RuntimeID)
			}
			s, err := identity.NewSigner(env.RuntimeID, codexhome.NewSecret(key))
			if err != nil {
				return err
			}
			ours, err := s.AuthorizationHeader(env.TaskID, env.Timestamp)
			if err != nil {
				return err
			}
			if ours != header {
				return fmt.Errorf("%s %s: Codex's AgentAssertion differs from Signer's", e.Method, e.Path)
			}
			n++
		}
		if n == 0 {
			return errors.New("no AgentAssertion seen")
		}
		return nil
	}()
	addRow("(f) every AgentAssertion Codex sent equals identity.Signer's for the same key, task and second", err, fmt.Sprintf("%d headers compared", n))
}

// (r) Route by route, the credential scheme Codex 0.171 sent (the fake's
// recorded exchanges of rows (a) and (e)) against the one this module's
// Transport puts on the same request (method, path, query, WebSocket
// upgrade), loaded from the same CODEX_HOME in the same mode. The module's
// requests go to a recording RoundTripper, never to the network.
func (h *harness) rowRouteCredentials() {
	var evidence []string
	err := func() error {
		for _, m := range []struct {
			mode string
			run  codexRun
			home string
			env  map[string]string
		}{
			{"chatgpt", h.optInRun, h.optInHome, nil},
			{"jwt", h.jwtRun, h.jwtHome, map[string]string{identity.EnvAccessToken: h.jwtToken}},
		} {
			if m.home == "" || len(m.run.ex) == 0 {
				return fmt.Errorf("%s: no Codex run to compare with", m.mode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			ra, err := identity.Load(ctx, identity.LoadOptions{CodexHome: m.home, HTTPClient: h.srv.Client(),
				Getenv: h.srv.Getenv(func(k string) string { return m.env[k] })})
			if err != nil {
				cancel()
				return fmt.Errorf("%s: Load: %v", m.mode, err)
			}
			var got string
			rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = ""
				if v := r.Header.Get("Authorization"); v != "" {
					got, _, _ = strings.Cut(v, " ")
				}
				if r.Body != nil {
					_ = r.Body.Close()
				}
				return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
			})
			c := &http.Client{Transport: ra.Transport(rec)}
			seen := map[string]bool{}
			routes := 0
			for _, e := range m.run.ex {
				if !strings.HasPrefix(e.Path, "/backend-api/") {
					continue // AuthAPI registrations: compared byte for byte in (a)
				}
				ws := strings.EqualFold(e.Header.Get("Upgrade"), "websocket")
				key := e.Method + " " + e.Path
				if ws {
					key += " (websocket)"
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				req, err := http.NewRequestWithContext(ctx, e.Method, h.srv.URL+e.Path, bytes.NewReader(e.Body))
				if err != nil {
					cancel()
					return err
				}
				if ws {
					req.Header.Set("Upgrade", "websocket")
					req.Header.Set("Connection", "Upgrade")
				}
				resp, err := c.Do(req)
				if err != nil {
					cancel()
					return fmt.Errorf("%s %s: this module's Transport: %v", m.mode, key, err)
				}
				_ = resp.Body.Close()
				if got != e.Scheme {
					cancel()
					return fmt.Errorf("%s %s: Codex sent %q, this module %q", m.mode, key, e.Scheme, got)
				}
				routes++
			}
			cancel()
			evidence = append(evidence, fmt.Sprintf("%s: %d routes equal", m.mode, routes))
		}
		return nil
	}()
	addRow("(r) per-route credential scheme equal to Codex 0.171 (ChatGPT opt-in and JWT)", err, strings.Join(evidence, "; "))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
