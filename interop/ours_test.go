//go:build interop

package interop

// The "ours" rows: this module, set up as Codex 0.171 was in a credential
// row of credentials_test.go, against the very same stand-in (hosts_test.go)
// with production URLs and no overrides (standIn.client dials the
// compiled-in names to 127.0.0.1:443 and trusts only the run's CA). Its
// requests land in the same record and are rendered by the same
// capture.render, then compared with the golden file of Codex's requests.
//
// Byte for byte where the bytes are this module's to choose: the request
// line, every header name and value, the body. Not compared, and named in
// each row's evidence:
//   - the headers Go's transport sets or that name the client program
//     (transportHeaders): user-agent, accept, accept-encoding;
//   - the differences docs/protocol.md records as not implemented
//     (documentedGaps): Codex's originator header (the name of its front
//     end, codex_exec), which the module does not send.
// Every other difference, an extra header or a missing one included, fails
// the row.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/codexhome"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// transportHeaders are set by Go's HTTP transport (or name the client
// program), not chosen by the module.
var transportHeaders = []string{"accept", "accept-encoding", "user-agent"}

// documentedGaps are Codex's headers the module does not send, each with
// where docs/protocol.md says so.
var documentedGaps = map[string]string{
	"originator": "docs/protocol.md#not-implemented: the module sends no Originator header, the name of Codex's front end",
}

// headerFilter drops the header lines of the named headers from rendered
// captures (each request: its line, its headers up to the blank line, the
// body; other lines, such as "# …" comments, are kept).
func headerFilter(text string, drop map[string]bool) string {
	var out []string
	inHeaders := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case isRequestLine(l):
			inHeaders = true
		case l == "":
			inHeaders = false
		case inHeaders:
			if name, _, ok := strings.Cut(l, ": "); ok && drop[name] {
				continue
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func isRequestLine(l string) bool {
	for _, m := range []string{"GET ", "POST ", "PUT ", "DELETE ", "PATCH ", "HEAD "} {
		if strings.HasPrefix(l, m+"https://") {
			return true
		}
	}
	return false
}

// compareOurs compares ours (captures of this module, rendered) with the
// golden file name (Codex's), both without the transport headers and the
// documented gaps; it returns the evidence: what was compared and what was
// left out.
func compareOurs(name, ours string) (string, error) {
	want, err := goldenFS.ReadFile("testdata/codex-0.171/" + name)
	if err != nil {
		return "", fmt.Errorf("golden %s: %v", name, err)
	}
	return compareOursText(name, string(want), ours)
}

// compareOursText is compareOurs with Codex's text (of the golden file
// name) given.
func compareOursText(name, want, ours string) (string, error) {
	want = strings.TrimRight(want, "\n") + "\n"
	ours = strings.TrimRight(ours, "\n") + "\n"
	drop := map[string]bool{}
	for _, h := range transportHeaders {
		drop[h] = true
	}
	var gaps []string
	for h := range documentedGaps {
		drop[h] = true
		gaps = append(gaps, h)
	}
	sort.Strings(gaps)
	if err := diffText(name, headerFilter(want, drop), headerFilter(ours, drop)); err != nil {
		return "", err
	}
	// A documented gap must still be one: if the module starts sending such
	// a header, the row says so (and the gap is to be removed).
	for _, h := range gaps {
		if strings.Contains(ours, "\n"+h+": ") {
			return "", fmt.Errorf("the module now sends %s: remove it from documentedGaps (%s)", h, documentedGaps[h])
		}
	}
	return fmt.Sprintf("equal to %s but for %s (transport) and %s (%s): %s", name,
		strings.Join(transportHeaders, ", "), strings.Join(gaps, ", "), strings.Join(mapValues(documentedGaps), "; "),
		droppedValues(want, ours, drop)), nil
}

// droppedValues says, for each header left out of a comparison, the values
// Codex and this module sent ("-" for none).
func droppedValues(codex, ours string, drop map[string]bool) string {
	values := func(text string) map[string]string {
		seen := map[string][]string{}
		inHeaders := false
		for _, l := range strings.Split(text, "\n") {
			switch {
			case isRequestLine(l):
				inHeaders = true
			case l == "":
				inHeaders = false
			case inHeaders:
				if name, v, ok := strings.Cut(l, ": "); ok && drop[name] && !contains(seen[name], v) {
					seen[name] = append(seen[name], v)
				}
			}
		}
		out := map[string]string{}
		for k, vs := range seen {
			out[k] = strings.Join(vs, " | ")
		}
		return out
	}
	c, o := values(codex), values(ours)
	var names []string
	for k := range drop {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		cv, ov := c[k], o[k]
		if cv == "" {
			cv = "-"
		}
		if ov == "" {
			ov = "-"
		}
		parts = append(parts, fmt.Sprintf("%s codex %q ours %q", k, cv, ov))
	}
	return strings.Join(parts, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// diffText says where got first differs from want (the golden file name,
// filtered).
func diffText(name, want, got string) error {
	if want == got {
		return nil
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Errorf("this module differs from Codex's %s (filtered) at line %d:\n  codex %q\n  ours  %q", name, i+1, tail(w, 300), tail(g, 300))
		}
	}
	return fmt.Errorf("this module differs from Codex's %s", name)
}

// recordOurs writes this module's rendered requests of a row into the dump
// folder (AGENTID_INTEROP_DUMP), if any, secrets replaced as in the
// comparison.
func (h *credHarness) recordOurs(name, rendered string) {
	if h.dump == "" {
		return
	}
	h.n++
	if err := os.MkdirAll(h.dump, 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dump, fmt.Sprintf("%02d-%s.txt", h.n, name)), []byte(rendered), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// emptyEnv is a Getenv of an environment with nothing set: production URLs,
// no overrides, no CODEX_ACCESS_TOKEN.
func emptyEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// codexAbom is the abom Codex 0.171's exec registers (golden
// l-refresh-then-register.txt): this module registers the same with it.
func codexAbom(o *identity.LoadOptions) {
	o.AgentVersion, o.AgentHarnessID, o.RunningLocation = pinnedCodexVersion, "codex-cli", "exec-linux"
}

// ---- (l-ours) refresh before register ----

func (h *credHarness) rowOursRefreshBeforeRegister() {
	const name = "(l-ours) this module, same setup as (l): identity.Load refreshes first, then registers with the refreshed token; its requests equal Codex's golden"
	login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
	home := h.home("l-ours", &login, true, "")
	first := h.s.mark()
	var evidence string
	err := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		opts := identity.LoadOptions{CodexHome: home, Getenv: emptyEnv(nil), HTTPClient: h.s.client()}
		codexAbom(&opts)
		ra, err := identity.Load(ctx, opts)
		h.s.waitIdle(10 * time.Second)
		caps := h.s.since(first)
		if err != nil {
			return fmt.Errorf("identity.Load: %v (%d requests)", err, len(caps))
		}
		r := hostsRun{caps: caps}
		refresh, agents, tasks := r.find(isRefresh), r.find(isAgentRegistration), r.find(isTaskRegistration)
		if len(refresh) != 1 || len(agents) != 1 || len(tasks) != 1 {
			return fmt.Errorf("%d refreshes, %d agent and %d task registrations, want 1 each", len(refresh), len(agents), len(tasks))
		}
		if caps[0].Seq != refresh[0].Seq {
			return fmt.Errorf("the first request was %s, not the refresh", caps[0].line())
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
		if f.AgentIdentity.AgentRuntimeID != ra.AgentRuntimeID() {
			return fmt.Errorf("auth.json holds agent %q, Load made %q", f.AgentIdentity.AgentRuntimeID, ra.AgentRuntimeID())
		}
		for _, c := range caps {
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
		h.recordOurs("l-ours", b.String())
		same, err := compareOurs("l-refresh-then-register.txt", b.String())
		if err != nil {
			return err
		}
		evidence = fmt.Sprintf("refresh #1 of %d requests, agent registration #%d with the refreshed token; %s",
			len(caps), agents[0].Seq-caps[0].Seq+1, same)
		return nil
	}()
	addRow(name, err, evidence)
}

// ---- (m-ours), (n-ours), (o-ours), (p-ours) personal access tokens ----

// credentialHeaders are the headers the module's Transport puts on a
// first-party request: what is compared route by route.
var credentialHeaders = map[string]bool{"authorization": true, "chatgpt-account-id": true, "x-openai-fedramp": true}

// goldenSection is one request of a golden file: its "# …" title (the
// first request of a file has none) and its rendered lines.
type goldenSection struct {
	title string
	lines []string // the request line, the headers, the body
}

// goldenSections splits a golden file of rendered requests at its request
// lines and "# " titles (a title ends the request before it).
func goldenSections(name string) ([]goldenSection, error) {
	data, err := goldenFS.ReadFile("testdata/codex-0.171/" + name)
	if err != nil {
		return nil, fmt.Errorf("golden %s: %v", name, err)
	}
	var out []goldenSection
	var cur *goldenSection
	title := ""
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "# "):
			title, cur = strings.TrimPrefix(l, "# "), nil
		case isRequestLine(l):
			out = append(out, goldenSection{title: title, lines: []string{l}})
			cur, title = &out[len(out)-1], ""
		case cur != nil:
			cur.lines = append(cur.lines, l)
		}
	}
	return out, nil
}

// headerLines are the "name: value" lines of a rendered request whose names
// keep says.
func headerLines(lines []string, keep func(string) bool) []string {
	var out []string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		if name, _, ok := strings.Cut(l, ": "); ok && keep(name) {
			out = append(out, l)
		}
	}
	return out
}

func renderedLines(c capture, rd redactor) []string {
	return strings.Split(strings.TrimRight(c.render(rd), "\n"), "\n")
}

// patRun is one identity.Load with a personal access token against the
// stand-in and the requests of that Load.
type patRun struct {
	ra   *identity.RunAuth
	caps []capture
	err  error
}

func (h *credHarness) loadOurs(home string, env map[string]string) patRun {
	first := h.s.mark()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ra, err := identity.Load(ctx, identity.LoadOptions{CodexHome: home, Getenv: emptyEnv(env), HTTPClient: h.s.client()})
	h.s.waitIdle(10 * time.Second)
	return patRun{ra: ra, caps: h.s.since(first), err: err}
}

// oursRoutes sends, through ra's Transport over the stand-in's client, one
// request like Codex's on each route of the golden file name (its URL, a
// WebSocket upgrade where Codex made one), and checks that the credential
// headers the module put on it are Codex's and that it put on nothing else.
// It returns how many routes it compared.
func (h *credHarness) oursRoutes(ra *identity.RunAuth, name string, rd redactor) (int, error) {
	sections, err := goldenSections(name)
	if err != nil {
		return 0, err
	}
	c := &http.Client{Transport: ra.Transport(h.s.client().Transport), Timeout: 30 * time.Second}
	n := 0
	for _, sec := range sections {
		method, rawURL, _ := strings.Cut(sec.lines[0], " ")
		if !strings.HasPrefix(rawURL, "https://"+hostChatGPT+"/backend-api/") {
			continue // the lookup, compared on its own
		}
		ws := contains(sec.lines, "upgrade: websocket")
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"model":"interop","input":[]}`)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
		if err != nil {
			cancel()
			return n, err
		}
		ours := map[string]bool{"content-length": true} // the headers this test sets
		if ws {
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Connection", "Upgrade")
			ours["upgrade"], ours["connection"] = true, true
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			ours["content-type"] = true
		}
		first := h.s.mark()
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
		if err != nil {
			return n, fmt.Errorf("%s %s: this module's Transport: %v", method, rawURL, err)
		}
		h.s.waitIdle(10 * time.Second)
		var got *capture
		for _, cp := range h.s.since(first) {
			if cp.Method == method && cp.URL == rawURL {
				cp := cp
				got = &cp
			}
		}
		if got == nil {
			return n, fmt.Errorf("%s %s: this module's request did not reach the stand-in", method, rawURL)
		}
		want := headerLines(sec.lines, func(k string) bool { return credentialHeaders[k] })
		lines := renderedLines(*got, rd)
		have := headerLines(lines, func(k string) bool { return credentialHeaders[k] })
		if strings.Join(want, "\n") != strings.Join(have, "\n") {
			return n, fmt.Errorf("%s %s: credential headers differ:\n  codex %q\n  ours  %q", method, rawURL, want, have)
		}
		extra := headerLines(lines, func(k string) bool {
			return !credentialHeaders[k] && !ours[k] && !contains(transportHeaders, k)
		})
		if len(extra) > 0 {
			return n, fmt.Errorf("%s %s: this module added %q", method, rawURL, extra)
		}
		n++
	}
	return n, nil
}

// lookupOf checks that run made exactly one request, the lookup, and
// returns it.
func lookupOf(run patRun) (capture, error) {
	r := hostsRun{caps: run.caps}
	if w := r.find(isWhoami); len(w) != 1 || len(run.caps) != 1 {
		return capture{}, fmt.Errorf("identity.Load made %d requests, %d lookups; want the lookup alone", len(run.caps), len(w))
	}
	return run.caps[0], nil
}

func (h *credHarness) rowOursPATEnv() {
	const name = "(m-ours) this module, same setup as (m) (CODEX_ACCESS_TOKEN=at-…, opt-in on): one lookup equal to Codex's (golden m-pat-env.txt), then on every recorded route the same Bearer and ChatGPT-Account-ID; nothing registered or written"
	h.s.setCase(patWhoami, nil)
	home := h.home("m-ours", nil, true, "")
	var evidence string
	err := func() error {
		run := h.loadOurs(home, map[string]string{identity.EnvAccessToken: testPAT})
		if run.err != nil {
			return fmt.Errorf("identity.Load: %v", run.err)
		}
		lookup, err := lookupOf(run)
		if err != nil {
			return err
		}
		sections, err := goldenSections("m-pat-env.txt")
		if err != nil {
			return err
		}
		same, err := compareOursText("m-pat-env.txt (the lookup)", strings.Join(sections[0].lines, "\n"), lookup.render(h.rd))
		if err != nil {
			return err
		}
		if ra := run.ra; ra.AgentRuntimeID() != "" || ra.Account().AccountID != "account-pat" || ra.Account().FedRAMP {
			return fmt.Errorf("RunAuth: agent %q, account %q, FedRAMP %v", ra.AgentRuntimeID(), ra.Account().AccountID, ra.Account().FedRAMP)
		}
		routes, err := h.oursRoutes(run.ra, "m-pat-env.txt", h.rd)
		if err != nil {
			return err
		}
		if entries, _ := os.ReadDir(home); hasName(entries, "auth.json") {
			return errors.New("auth.json written")
		}
		evidence = fmt.Sprintf("1 lookup (Codex: 4), %s; %d routes with Codex's credential headers", same, routes)
		return nil
	}()
	addRow(name, err, evidence)
}

func (h *credHarness) rowOursPATFedRAMP() {
	const name = "(n-ours) this module with a FedRAMP personal access token (as (n)): X-OpenAI-Fedramp: true with Bearer and ChatGPT-Account-ID on every route, nothing but the token on the lookup"
	h.s.setCase(patWhoami, nil)
	var evidence string
	err := func() error {
		run := h.loadOurs(h.home("n-ours", nil, false, ""), map[string]string{identity.EnvAccessToken: testPATFedRAMP})
		if run.err != nil {
			return fmt.Errorf("identity.Load: %v", run.err)
		}
		lookup, err := lookupOf(run)
		if err != nil {
			return err
		}
		if lookup.Header.Get("X-OpenAI-Fedramp") != "" || lookup.Header.Get("ChatGPT-Account-ID") != "" {
			return errors.New("the lookup carried an account header")
		}
		if !run.ra.Account().FedRAMP || run.ra.Account().AccountID != "account-patf" {
			return fmt.Errorf("RunAuth: account %q, FedRAMP %v", run.ra.Account().AccountID, run.ra.Account().FedRAMP)
		}
		// Codex's header sets of (m), with this token's account and the
		// FedRAMP header (row (n) checked Codex sends them on every route).
		first := h.s.mark()
		c := &http.Client{Transport: run.ra.Transport(h.s.client().Transport), Timeout: 30 * time.Second}
		for _, rt := range goldenRoutes {
			u := "https://" + hostChatGPT + rt.path
			var body io.Reader
			if rt.method == http.MethodPost {
				body = strings.NewReader(`{}`)
			}
			req, err := http.NewRequest(rt.method, u, body)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return fmt.Errorf("%s %s: %v", rt.method, u, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		h.s.waitIdle(10 * time.Second)
		r := hostsRun{caps: h.s.since(first)}
		// backendAs wants inference among them: the POST of goldenRoutes.
		if err := backendAs(r, testPATFedRAMP, "account-patf", true); err != nil {
			return err
		}
		evidence = fmt.Sprintf("%d backend requests, routing discovery included", len(r.find(isBackendHost)))
		return nil
	}()
	addRow(name, err, evidence)
}

func (h *credHarness) rowOursPATLogin() {
	const name = "(o-ours) this module with the auth.json codex login --with-access-token writes (golden o-login-auth.json): one lookup equal to Codex's (o-login-whoami.txt), the Bearer headers of (m) per route, auth.json byte for byte unchanged"
	h.s.setCase(patWhoami, nil)
	home := h.home("o-ours", nil, false, "")
	var evidence string
	err := func() error {
		stored, err := goldenFS.ReadFile("testdata/codex-0.171/o-login-auth.json")
		if err != nil {
			return err
		}
		stored = []byte(strings.ReplaceAll(string(stored), "{{PAT}}", testPAT))
		path := filepath.Join(home, "auth.json")
		if err := os.WriteFile(path, stored, 0o600); err != nil {
			return err
		}
		run := h.loadOurs(home, nil)
		if run.err != nil {
			return fmt.Errorf("identity.Load: %v", run.err)
		}
		lookup, err := lookupOf(run)
		if err != nil {
			return err
		}
		want, err := goldenFS.ReadFile("testdata/codex-0.171/o-login-whoami.txt")
		if err != nil {
			return err
		}
		same, err := compareOursText("o-login-whoami.txt", string(want), lookup.render(h.rd))
		if err != nil {
			return err
		}
		routes, err := h.oursRoutes(run.ra, "m-pat-env.txt", h.rd)
		if err != nil {
			return err
		}
		after, err := os.ReadFile(path)
		if err != nil || string(after) != string(stored) {
			return fmt.Errorf("auth.json changed (%v)", err)
		}
		evidence = fmt.Sprintf("%s; %d routes with Codex's credential headers; auth.json unchanged", same, routes)
		return nil
	}()
	addRow(name, err, evidence)
}

func (h *credHarness) rowOursPATRefused() {
	const name = "(p-ours) this module with a refused personal access token (as (p)): the same one lookup as Codex's (p-refused.txt), then identity.Load fails closed with ErrPersonalAccessTokenLookup where Codex goes on without credentials"
	h.s.setCase(patWhoami, nil)
	var evidence string
	err := func() error {
		run := h.loadOurs(h.home("p-ours", nil, false, ""), map[string]string{identity.EnvAccessToken: testPATRefused})
		if !errors.Is(run.err, identity.ErrPersonalAccessTokenLookup) {
			return fmt.Errorf("identity.Load: %v, want ErrPersonalAccessTokenLookup", run.err)
		}
		if strings.Contains(run.err.Error(), testPATRefused) {
			return errors.New("the error quotes the token")
		}
		lookup, err := lookupOf(run)
		if err != nil {
			return err
		}
		sections, err := goldenSections("p-refused.txt")
		if err != nil {
			return err
		}
		same, err := compareOursText("p-refused.txt (the lookup)", strings.Join(sections[0].lines, "\n"), lookup.render(h.rd))
		if err != nil {
			return err
		}
		evidence = fmt.Sprintf("%s; codex login: %q, ours: %q", same,
			"Error logging in with access token: personal access token metadata request failed with status 401 Unauthorized", run.err.Error())
		return nil
	}()
	addRow(name, err, evidence)
}

// ---- (y4-ours), (y5-ours) which source wins, personal access tokens ----

func (h *credHarness) rowOursPATPrecedence() {
	const name = "(y4-ours, y5-ours) this module with the setups of (y4) and (y5): CODEX_ACCESS_TOKEN=at-… wins over a ChatGPT login (no refresh, no registration, auth.json unchanged) and over a stored token (never sent); a JWT in CODEX_ACCESS_TOKEN wins over a stored token (no lookup)"
	h.s.setCase(patWhoami, nil)
	var evidence []string
	err := func() error {
		for _, optIn := range []bool{false, true} {
			login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
			home := h.home(fmt.Sprintf("y4-ours-%v", optIn), &login, optIn, "")
			before, err := os.ReadFile(filepath.Join(home, "auth.json"))
			if err != nil {
				return err
			}
			run := h.loadOurs(home, map[string]string{identity.EnvAccessToken: testPAT})
			if run.err != nil {
				return fmt.Errorf("opt-in %v: identity.Load: %v", optIn, run.err)
			}
			if _, err := lookupOf(run); err != nil {
				return fmt.Errorf("opt-in %v: %v", optIn, err)
			}
			if run.ra.Account().AccountID != "account-pat" || run.ra.AgentRuntimeID() != "" {
				return fmt.Errorf("opt-in %v: RunAuth of account %q, agent %q", optIn, run.ra.Account().AccountID, run.ra.AgentRuntimeID())
			}
			after, err := os.ReadFile(filepath.Join(home, "auth.json"))
			if err != nil || string(after) != string(before) {
				return fmt.Errorf("opt-in %v: auth.json changed (%v)", optIn, err)
			}
		}
		evidence = append(evidence, "y4: the lookup alone, opt-in off and on, auth.json unchanged")

		patHome := h.home("y5-ours", nil, false, "")
		stored, err := goldenFS.ReadFile("testdata/codex-0.171/o-login-auth.json")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(patHome, "auth.json"), []byte(strings.ReplaceAll(string(stored), "{{PAT}}", testPAT)), 0o600); err != nil {
			return err
		}
		run := h.loadOurs(patHome, map[string]string{identity.EnvAccessToken: testPATFedRAMP})
		if run.err != nil {
			return fmt.Errorf("y5: identity.Load: %v", run.err)
		}
		lookup, err := lookupOf(run)
		if err != nil {
			return fmt.Errorf("y5: %v", err)
		}
		if bearerOf(lookup) != testPATFedRAMP || run.ra.Account().AccountID != "account-patf" {
			return errors.New("y5: the stored token was looked up, not the environment's")
		}
		jwt, err := h.s.fake.MintAgentJWT(identitytest.JWTOptions{TTL: time.Hour})
		if err != nil {
			return err
		}
		run = h.loadOurs(patHome, map[string]string{identity.EnvAccessToken: jwt.Reveal()})
		if run.err != nil {
			return fmt.Errorf("y5 (JWT): identity.Load: %v", run.err)
		}
		if n := len(hostsRun{caps: run.caps}.find(isWhoami)); n != 0 || run.ra.AgentRuntimeID() == "" {
			return fmt.Errorf("y5 (JWT): %d lookups, agent %q", n, run.ra.AgentRuntimeID())
		}
		var paths []string
		for _, c := range run.caps {
			paths = append(paths, c.Method+" "+c.Host+c.Path)
		}
		evidence = append(evidence, "y5: the environment's token looked up, the stored one never sent; with a JWT: no lookup, only "+strings.Join(paths, ", "))
		return nil
	}()
	addRow(name, err, strings.Join(evidence, "; "))
}

// ---- (s-ours), (w-ours) workload identity federation ----

// envLookup is a LookupEnv of the "NAME=value" pairs env: a variable set
// to "" is set, as a workload identity's variables need.
func envLookup(env []string) func(string) (string, bool) {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// loadOursWIF is identity.Load of home with the environment env against
// the stand-in, with production URLs and no test option: the stand-in is
// auth.openai.com.
func (h *credHarness) loadOursWIF(home string, env []string) patRun {
	first := h.s.mark()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ra, err := identity.Load(ctx, identity.LoadOptions{CodexHome: home, LookupEnv: envLookup(env), HTTPClient: h.s.client()})
	h.s.waitIdle(10 * time.Second)
	return patRun{ra: ra, caps: h.s.since(first), err: err}
}

func (h *credHarness) rowOursWIFExchange() {
	const name = "(s-ours) this module, same setups as (s) (a token file; odd bytes and a context), opt-in on: the exchange request equal to Codex's (s-wif-exchange.txt) but for transport headers, then Codex's Bearer and ChatGPT-Account-ID on every recorded route; nothing registered or stored"
	tf := h.tokenFile("oidc-token-ours", "  "+testAssertion+"\n")
	tfOdd := h.tokenFile("oidc-token-odd-ours", testAssertionOdd+"\n")
	var evidence []string
	err := func() error {
		sections, err := goldenSections("s-wif-exchange.txt")
		if err != nil {
			return err
		}
		codexExchange := map[string]string{}
		for _, sec := range sections {
			if !strings.HasPrefix(sec.title, "GET ") && !strings.HasPrefix(sec.title, "POST ") {
				codexExchange[sec.title] = strings.Join(sec.lines, "\n")
			}
		}
		for _, c := range []struct {
			name string
			env  []string
		}{
			{"plain", h.wifEnv(tf)},
			{"odd bytes and a context", []string{"OPENAI_FEDERATION_RULE_ID=" + testRuleIDOdd, "OPENAI_IDENTITY_TOKEN_FILE=" + tfOdd,
				"OPENAI_WORKLOAD_IDENTITY_CONTEXT=" + testContextOdd}},
		} {
			want, ok := codexExchange[c.name]
			if !ok {
				return fmt.Errorf("s-wif-exchange.txt has no exchange %q", c.name)
			}
			answered := h.wifCase(nil, nil)
			home := h.home("s-ours-"+strings.Fields(c.name)[0], nil, true, "")
			first := h.s.mark()
			run := h.loadOursWIF(home, c.env)
			if run.err != nil {
				return fmt.Errorf("%s: identity.Load: %v", c.name, run.err)
			}
			if run.ra.AgentRuntimeID() != "" || run.ra.Account().AccountID != "account-wif" {
				return fmt.Errorf("%s: RunAuth of agent %q, account %q", c.name, run.ra.AgentRuntimeID(), run.ra.Account().AccountID)
			}
			// The exchange may wait for the first request: ask for a
			// route's headers.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := run.ra.Header(ctx, "https://"+hostChatGPT+"/backend-api/wham/settings/user")
			cancel()
			if err != nil {
				return fmt.Errorf("%s: RunAuth.Header: %v", c.name, err)
			}
			h.s.waitIdle(10 * time.Second)
			toks := answered()
			r := hostsRun{caps: h.s.since(first)}
			ex := r.find(isExchange)
			if len(ex) != 1 || len(toks) != 1 || r.caps[0].Seq != ex[0].Seq {
				return fmt.Errorf("%s: %d exchanges in %d requests, want one, the first", c.name, len(ex), len(r.caps))
			}
			rd := append(redactor{toks[0], "{{WIF_ACCESS_TOKEN}}"}, h.rd...)
			same, err := compareOursText("s-wif-exchange.txt (# "+c.name+")", want, ex[0].render(rd))
			if err != nil {
				return err
			}
			ev := c.name + ": " + same
			if c.name == "plain" {
				routes, err := h.oursRoutes(run.ra, "s-wif-exchange.txt", rd)
				if err != nil {
					return err
				}
				ev += fmt.Sprintf("; %d routes with Codex's credential headers", routes)
			}
			all := hostsRun{caps: h.s.since(first)}
			if n := len(all.find(isExchange)); n != 1 {
				return fmt.Errorf("%s: %d exchanges in the run, want 1", c.name, n)
			}
			if err := noAgentIdentity(all); err != nil {
				return err
			}
			if entries, _ := os.ReadDir(home); hasName(entries, "auth.json") {
				return fmt.Errorf("%s: auth.json written", c.name)
			}
			evidence = append(evidence, ev)
		}
		return nil
	}()
	addRow(name, err, strings.Join(evidence, "; "))
}

// codexConfigErrors are Codex's errors of row (w), by configuration name
// (golden w-wif-config-errors.txt): the line after "Error: ".
func codexConfigErrors() (map[string]string, error) {
	data, err := goldenFS.ReadFile("testdata/codex-0.171/w-wif-config-errors.txt")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	name := ""
	for _, l := range strings.Split(string(data), "\n") {
		if t, ok := strings.CutPrefix(l, "# "); ok {
			name, _, _ = strings.Cut(t, ": ")
		} else if msg, ok := strings.CutPrefix(l, "Error: "); ok && name != "" {
			out[name], name = msg, ""
		}
	}
	return out, nil
}

func (h *credHarness) rowOursWIFConfigErrors() {
	const name = "(w-ours) this module with the configurations of (w): identity.Load refuses each before any request (ErrWorkloadIdentityConfig), its error beside Codex's"
	var pairs []string
	words := 0
	err := func() error {
		codex, err := codexConfigErrors()
		if err != nil {
			return err
		}
		// Something the configuration could fall back to: a login of the
		// fake with the opt-in, and a personal access token.
		login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{})
		home := h.home("w-ours", &login, true, "")
		h.s.setCase(patWhoami, nil)
		cases := h.wifConfigCases()
		for _, c := range cases {
			want, ok := codex[c.name]
			if !ok {
				return fmt.Errorf("w-wif-config-errors.txt has no configuration %q", c.name)
			}
			run := h.loadOursWIF(home, append([]string{identity.EnvAccessToken + "=" + testPAT}, c.env...))
			if !errors.Is(run.err, identity.ErrWorkloadIdentityConfig) {
				return fmt.Errorf("%s: identity.Load: %v, want ErrWorkloadIdentityConfig", c.name, run.err)
			}
			if len(run.caps) != 0 {
				return fmt.Errorf("%s: %d requests before the refusal (first %s)", c.name, len(run.caps), run.caps[0].line())
			}
			ours := h.rd.apply(run.err.Error())
			want = h.rd.apply(want)
			if strings.Contains(ours, want) {
				words++
			}
			pairs = append(pairs, fmt.Sprintf("%s: codex %q, ours %q", c.name, want, ours))
		}
		pairs = append([]string{fmt.Sprintf("%d configurations, no request, no fall-back to the login or CODEX_ACCESS_TOKEN; %d of them in Codex's words (Codex: row (w))", len(cases), words)}, pairs...)
		return nil
	}()
	addRow(name, err, strings.Join(pairs, "; "))
}

func (h *credHarness) rowOursWIFStaging() {
	const name = "(u-ours) this module with the staging base URL of (u): the exchange at https://auth.api.openai.org/oauth/token equal to Codex's (u-wif-staging.txt), its token only to chatgpt-staging.com (Codex also sent it to chatgpt.com for codex/models: not this module); a custom base URL refused before any request, beside Codex's error"
	tf := h.tokenFile("oidc-token-u-ours", testAssertion)
	var evidence []string
	err := func() error {
		sections, err := goldenSections("u-wif-staging.txt")
		if err != nil || len(sections) == 0 {
			return fmt.Errorf("u-wif-staging.txt: %v", err)
		}
		answered := h.wifCase(nil, nil)
		home := h.home("u-ours", nil, false, `chatgpt_base_url = "https://chatgpt-staging.com/backend-api"`+"\n")
		first := h.s.mark()
		run := h.loadOursWIF(home, h.wifEnv(tf))
		if run.err != nil {
			return fmt.Errorf("identity.Load: %v", run.err)
		}
		c := &http.Client{Transport: run.ra.Transport(h.s.client().Transport), Timeout: 30 * time.Second}
		for _, u := range []string{
			"https://" + hostChatGPTStaging + "/backend-api/wham/settings/user",
			"https://" + hostChatGPTStaging + "/backend-api/codex/models?client_version=" + pinnedCodexVersion,
			"https://" + hostChatGPT + "/backend-api/codex/models?client_version=" + pinnedCodexVersion, // where Codex sent it
		} {
			resp, err := c.Get(u)
			if err != nil {
				return fmt.Errorf("GET %s: %v", u, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		h.s.waitIdle(10 * time.Second)
		r := hostsRun{caps: h.s.since(first)}
		toks := answered()
		ex := r.find(isExchange)
		if len(ex) != 1 || len(toks) != 1 || ex[0].URL != "https://"+hostAuthStaging+"/oauth/token" {
			return fmt.Errorf("%d exchanges (%d answered), want 1 at %s", len(ex), len(toks), hostAuthStaging)
		}
		rd := append(redactor{toks[0], "{{WIF_ACCESS_TOKEN}}"}, h.rd...)
		same, err := compareOursText("u-wif-staging.txt (the exchange)", strings.Join(sections[0].lines, "\n"), ex[0].render(rd))
		if err != nil {
			return err
		}
		evidence = append(evidence, same)
		for _, cp := range r.find(isBackendHost) {
			switch {
			case cp.Host == hostChatGPTStaging && bearerOf(cp) != toks[0]:
				return fmt.Errorf("%s: not the exchanged token", cp.line())
			case cp.Host == hostChatGPT && cp.Header.Get("Authorization") != "":
				return fmt.Errorf("%s: the staging token went to production", cp.line())
			}
		}
		evidence = append(evidence, "chatgpt.com/backend-api/codex/models sent without a credential")

		custom := h.home("u-ours-custom", nil, false, `chatgpt_base_url = "https://chatgpt.com/custom/backend-api"`+"\n")
		run = h.loadOursWIF(custom, h.wifEnv(tf))
		if !errors.Is(run.err, identity.ErrWorkloadIdentityConfig) || len(run.caps) != 0 {
			return fmt.Errorf("custom base URL: identity.Load: %v, %d requests", run.err, len(run.caps))
		}
		// Codex's error: the "Error: " line after the custom base URL's
		// title.
		data, err := goldenFS.ReadFile("testdata/codex-0.171/u-wif-staging.txt")
		if err != nil {
			return err
		}
		codexErr := ""
		if _, rest, ok := strings.Cut(string(data), "# chatgpt_base_url"); ok {
			_, rest, _ = strings.Cut(rest, "\nError: ")
			codexErr, _, _ = strings.Cut(rest, "\n")
		}
		if codexErr == "" || !strings.Contains(run.err.Error(), codexErr) {
			return fmt.Errorf("custom base URL: codex %q, ours %q", codexErr, run.err)
		}
		evidence = append(evidence, fmt.Sprintf("custom base URL: codex %q, ours %q, no request", codexErr, run.err.Error()))
		return nil
	}()
	addRow(name, err, strings.Join(evidence, "; "))
}

func (h *credHarness) rowOursWIFPrecedence() {
	const name = "(t-ours, y1-ours, y3-ours, y6-ours) this module with a workload identity and another source: it wins over an expired ChatGPT login with the opt-in (no refresh, no registration, auth.json unchanged), over CODEX_ACCESS_TOKEN=at-… and over a stored token (neither looked up, where Codex looks them up); a rejected exchange never falls back"
	tf := h.tokenFile("oidc-token-y-ours", testAssertion)
	wif := h.wifEnv(tf)
	var evidence []string
	err := func() error {
		check := func(what, home string, env []string) error {
			answered := h.wifCase(nil, nil)
			var before []byte
			if home != "" {
				before, _ = os.ReadFile(filepath.Join(home, "auth.json"))
			}
			first := h.s.mark()
			run := h.loadOursWIF(home, env)
			if run.err != nil {
				return fmt.Errorf("%s: identity.Load: %v", what, run.err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			hdr, err := run.ra.Header(ctx, "https://"+hostChatGPT+"/backend-api/wham/settings/user")
			cancel()
			if err != nil {
				return fmt.Errorf("%s: RunAuth.Header: %v", what, err)
			}
			h.s.waitIdle(10 * time.Second)
			r := hostsRun{caps: h.s.since(first)}
			toks := answered()
			if len(toks) != 1 || hdr.Get("Authorization") != "Bearer "+toks[0] || run.ra.Account().AccountID != "account-wif" {
				return fmt.Errorf("%s: %d exchanges, not the exchanged token's headers", what, len(toks))
			}
			if len(r.caps) != 1 {
				return fmt.Errorf("%s: %d requests (first %s), want the exchange alone", what, len(r.caps), r.caps[0].line())
			}
			if home != "" {
				after, _ := os.ReadFile(filepath.Join(home, "auth.json"))
				if string(after) != string(before) {
					return fmt.Errorf("%s: auth.json changed", what)
				}
			}
			evidence = append(evidence, what+": the exchange alone")
			return nil
		}
		login := h.s.fake.MintChatGPTLogin(identitytest.LoginOptions{TTL: time.Hour, IssuedAt: time.Now().Add(-2 * time.Hour)})
		if err := check("t: over an expired login, opt-in on", h.home("t-ours", &login, true, ""), wif); err != nil {
			return err
		}
		if err := check("y1: over CODEX_ACCESS_TOKEN=at-…", h.home("y1-ours", nil, false, ""), append([]string{identity.EnvAccessToken + "=" + testPAT}, wif...)); err != nil {
			return err
		}
		patHome := h.home("y3-ours", nil, false, "")
		stored, err := goldenFS.ReadFile("testdata/codex-0.171/o-login-auth.json")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(patHome, "auth.json"), []byte(strings.ReplaceAll(string(stored), "{{PAT}}", testPAT)), 0o600); err != nil {
			return err
		}
		if err := check("y3: over a stored token", patHome, wif); err != nil {
			return err
		}
		h.s.setCase(patWhoami, func(url.Values) exchangeAnswer {
			return exchangeAnswer{status: http.StatusUnauthorized, body: []byte(`{"error":"invalid_grant"}`)}
		})
		y6 := h.s.mark()
		run := h.loadOursWIF(h.home("y6-ours", nil, false, ""), append([]string{identity.EnvAccessToken + "=" + testPAT}, wif...))
		var hdrErr error
		if run.err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, hdrErr = run.ra.Header(ctx, "https://"+hostChatGPT+"/backend-api/wham/settings/user")
			cancel()
			h.s.waitIdle(10 * time.Second)
		}
		failure := run.err
		if failure == nil {
			failure = hdrErr
		}
		if !errors.Is(failure, identity.ErrWorkloadIdentity) {
			return fmt.Errorf("y6: a rejected exchange: %v, want ErrWorkloadIdentity", failure)
		}
		for _, c := range h.s.since(y6) {
			if !isExchange(c) {
				return fmt.Errorf("y6: after a rejected exchange: %s", c.line())
			}
		}
		evidence = append(evidence, fmt.Sprintf("y6: a rejected exchange with CODEX_ACCESS_TOKEN set, only exchanges sent (%d): %q", len(h.s.since(y6)), failure.Error()))
		return nil
	}()
	addRow(name, err, strings.Join(evidence, "; "))
}

// codexAnswerVerdicts are Codex's verdicts of row (x), by answer name
// (golden x-wif-exchange-answers.txt): "accepted", or its error line.
func codexAnswerVerdicts() (map[string]string, error) {
	data, err := goldenFS.ReadFile("testdata/codex-0.171/x-wif-exchange-answers.txt")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	name := ""
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "# "):
			name, _, _ = strings.Cut(strings.TrimPrefix(l, "# "), ": ")
		case name == "":
		case strings.HasPrefix(l, "accepted"):
			out[name], name = "accepted", ""
		case strings.HasPrefix(l, "Error: "):
			out[name], name = strings.TrimPrefix(l, "Error: "), ""
		}
	}
	return out, nil
}

// answerGaps are the exchange answers this module judges otherwise than
// Codex 0.171, on purpose.
var answerGaps = map[string]string{
	"chatgpt_account_id not the token's": "another account: Codex accepts it and sends that account id; docs/protocol.md#workload-identity",
}

func (h *credHarness) rowOursWIFAnswers() {
	const name = "(x-ours) this module with the exchange answers of (x): the same verdict as Codex 0.171 for each (accepted, or refused with ErrWorkloadIdentity after one exchange), but for an answer of another account, which it refuses"
	tf := h.tokenFile("oidc-token-x-ours", testAssertion)
	var parts []string
	err := func() error {
		codex, err := codexAnswerVerdicts()
		if err != nil {
			return err
		}
		same, words := 0, 0
		cases := wifAnswerCases()
		for _, c := range cases {
			want, ok := codex[c.name]
			if !ok {
				return fmt.Errorf("x-wif-exchange-answers.txt has no answer %q", c.name)
			}
			h.setAnswer(c)
			first := h.s.mark()
			run := h.loadOursWIF(h.home("x-ours", nil, false, ""), h.wifEnv(tf))
			failure := run.err
			if failure == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, failure = run.ra.Header(ctx, "https://"+hostChatGPT+"/backend-api/wham/settings/user")
				cancel()
			}
			h.s.waitIdle(10 * time.Second)
			r := hostsRun{caps: h.s.since(first)}
			if n := len(r.find(isExchange)); n != 1 || len(r.caps) != 1 {
				return fmt.Errorf("%s: %d requests, %d exchanges; want the exchange alone", c.name, len(r.caps), n)
			}
			ours := "accepted"
			if failure != nil {
				if !errors.Is(failure, identity.ErrWorkloadIdentity) {
					return fmt.Errorf("%s: %v, want ErrWorkloadIdentity", c.name, failure)
				}
				ours = failure.Error()
			}
			agree := (want == "accepted") == (ours == "accepted")
			if gap, ok := answerGaps[c.name]; ok {
				if agree {
					return fmt.Errorf("%s: this module now judges it as Codex does (%s): remove it from answerGaps", c.name, ours)
				}
				parts = append(parts, fmt.Sprintf("%s: codex %s, ours %q (%s)", c.name, want, ours, gap))
				continue
			}
			if !agree {
				return fmt.Errorf("%s: codex %q, ours %q", c.name, want, ours)
			}
			same++
			if want != "accepted" && strings.Contains(ours, want) {
				words++
			}
		}
		parts = append([]string{fmt.Sprintf("%d of %d answers judged as Codex does (the refusals %d times in Codex's words), 1 exchange each", same, len(cases), words)}, parts...)
		return nil
	}()
	addRow(name, err, strings.Join(parts, "; "))
}
