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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
)

// transportHeaders are set by Go's HTTP transport (or name the client
// program), not chosen by the module.
var transportHeaders = []string{"accept", "accept-encoding", "user-agent"}

// documentedGaps are Codex's headers the module does not send, each with
// where docs/protocol.md says so.
var documentedGaps = map[string]string{
	"originator": "docs/protocol.md#not-implemented: the module sends no Originator",
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
	if err := diffText(name, headerFilter(string(want), drop), headerFilter(ours, drop)); err != nil {
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
		droppedValues(string(want), ours, drop)), nil
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
		signer, err := identity.NewSigner(f.AgentIdentity.AgentRuntimeID, f.AgentIdentity.AgentPrivateKey)
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
