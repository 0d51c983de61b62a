package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/agentidentity/agentidentity/identity"
	"github.com/agentidentity/agentidentity/identity/identitytest"
	"github.com/agentidentity/agentidentity/internal/limitio"
)

// demoStep is one row of the demo's summary.
type demoStep struct {
	Step          string  `json:"step"`
	OK            bool    `json:"ok"`
	Result        string  `json:"result"`
	Registrations int     `json:"registrations"` // agents + tasks registered during the step
	Verified      int     `json:"requests_verified"`
	Rejected      int     `json:"requests_rejected"`
	Seconds       float64 `json:"seconds"`
}

// demoReport is the --json output of demo.
type demoReport struct {
	OK               bool       `json:"ok"`
	AgentRuntimeID   string     `json:"agent_runtime_id"`
	TaskID           string     `json:"task_id"`
	AgentsRegistered int        `json:"agents_registered"`
	TasksRegistered  int        `json:"tasks_registered"`
	RequestsVerified int        `json:"requests_verified"`
	RequestsRejected int        `json:"requests_rejected"`
	Seconds          float64    `json:"seconds"`
	Steps            []demoStep `json:"steps"`
}

func newDemoCmd(c *cli) *cobra.Command {
	var n int
	timeout := 30 * time.Second
	cmd := &cobra.Command{
		Use:   "demo [--requests N] [flags]",
		Short: "Run the end-to-end demo against an embedded fake backend",
		Long: `Run Agent Identity end to end against an embedded fake backend (package
identitytest) on 127.0.0.1, in a temporary $CODEX_HOME that is removed at the
end. Nothing is read from your environment or your real ~/.codex, and nothing
leaves the machine.

The steps: start the backend; write a $CODEX_HOME holding a ChatGPT login
minted by the backend and [features] use_agent_identity = true; provision an
agent identity (Load); get the run's task; send N signed requests through the
Transport to the first-party endpoint, which verifies each one; check that
credentials are not sent to another origin; load again (a restart) and show the
same identity and task with zero new registrations; fork a session, which gets
a task of its own. Each step and request is printed on standard error (on a
terminal, a step that waits more than a second says for what); a summary table
follows on standard output. Any failed check exits 1.

JSON (--json): {"ok", "agent_runtime_id", "task_id", "agents_registered",
"tasks_registered", "requests_verified", "requests_rejected", "seconds",
"steps": [{"step", "ok", "result", "registrations", "requests_verified",
"requests_rejected", "seconds"}]}.`,
		Example: examples("agentid demo", "agentid demo --requests 5 --json"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > 1000 {
				return withHint(fmt.Errorf("--requests %d: out of range", n), "give 1 to 1000")
			}
			ctx, cancel := c.signalContext(timeout)
			defer cancel()
			watch := func(step string, st *stepTransport) func() {
				return c.waitNotice(cmd, func() string {
					if r := st.inFlight(); r != "" {
						return step + ": the answer: " + r
					}
					return step
				})
			}
			rep, err := runDemoSteps(ctx, c.stderr, n, watch)
			if err != nil {
				return err
			}
			if c.json {
				if err := c.writeJSON(rep); err != nil {
					return err
				}
			} else {
				writeDemoTable(c.stdout, rep)
			}
			if !rep.OK {
				failed := 0
				for _, s := range rep.Steps {
					if !s.OK {
						failed++
					}
				}
				return withHint(fmt.Errorf("%d of %d steps failed", failed, len(rep.Steps)), "see the FAILED rows")
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "requests", 20, "number of signed requests to send (1 to 1000)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	c.addJSONFlag(cmd)
	return cmd
}

// demo runs the steps and returns the report; the error is for a demo that
// could not run at all (a temporary folder that cannot be made).
func demo(ctx context.Context, log io.Writer, n int) (*demoReport, error) {
	return runDemoSteps(ctx, log, n, nil)
}

// runDemoSteps is demo; watch, if not nil, watches each step (see
// cli.waitNotice) with the transport of its registrations.
func runDemoSteps(ctx context.Context, log io.Writer, n int, watch func(step string, st *stepTransport) func()) (*demoReport, error) {
	start := time.Now()
	rep := &demoReport{OK: true}

	dir, err := os.MkdirTemp("", "agentid-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	home := filepath.Join(dir, "codex-home")

	var srv *identitytest.Server
	defer func() {
		if srv != nil {
			srv.Close()
		}
	}()
	regs := func() int {
		if srv == nil {
			return 0
		}
		st := srv.Stats()
		return st.AgentsRegistered + st.TasksRegistered
	}
	// httpc carries the registrations and the JWKS; each request is one line.
	steps := &stepTransport{base: http.DefaultTransport, w: log}
	httpc := &http.Client{Transport: steps, Timeout: 10 * time.Second}
	// step runs fn as one row of the summary.
	step := func(name string, fn func() (string, error)) bool {
		fmt.Fprintf(log, "agentid: demo: %s …\n", name)
		if watch != nil {
			defer watch(name, steps)()
		}
		r0, v0, x0 := regs(), 0, 0
		if srv != nil {
			st := srv.Stats()
			v0, x0 = st.RequestsVerified, st.RequestsRejected
		}
		t0 := time.Now()
		result, err := fn()
		s := demoStep{Step: name, OK: err == nil, Result: result, Seconds: time.Since(t0).Seconds()}
		if err != nil {
			s.Result = "FAILED: " + oneLine(err.Error())
			rep.OK = false
			fmt.Fprintf(log, "agentid: demo: %s failed: %s\n", name, oneLine(err.Error()))
		}
		if srv != nil {
			s.Registrations = regs() - r0
			st := srv.Stats()
			s.Verified = st.RequestsVerified - v0
			s.Rejected = st.RequestsRejected - x0
		}
		rep.Steps = append(rep.Steps, s)
		return err == nil
	}
	finish := func() (*demoReport, error) {
		if srv != nil {
			st := srv.Stats()
			rep.AgentsRegistered = st.AgentsRegistered
			rep.TasksRegistered = st.TasksRegistered
			rep.RequestsVerified = st.RequestsVerified
			rep.RequestsRejected = st.RequestsRejected
		}
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}

	// The library sees only the variables that point it at the fake
	// backend: never the user's CODEX_HOME, CODEX_ACCESS_TOKEN or overrides.
	var getenv func(string) string
	if !step("start fake backend", func() (string, error) {
		srv = identitytest.NewServer()
		getenv = srv.Getenv(func(string) string { return "" })
		return "listening on " + srv.URL, nil
	}) {
		return finish()
	}

	if !step("write $CODEX_HOME", func() (string, error) {
		login := srv.MintChatGPTLogin(identitytest.LoginOptions{})
		if err := srv.WriteCodexHome(home, identitytest.CodexHomeOptions{Login: &login, UseAgentIdentity: true}); err != nil {
			return "", err
		}
		return "ChatGPT login for " + login.AccountID + ", use_agent_identity = true", nil
	}) {
		return finish()
	}

	load := func() (*identity.RunAuth, error) {
		return identity.Load(ctx, identity.LoadOptions{CodexHome: home, Getenv: getenv, HTTPClient: httpc})
	}
	var auth *identity.RunAuth
	if !step("provision identity", func() (string, error) {
		var err error
		auth, err = load()
		if err != nil {
			return "", err
		}
		if got := srv.Stats().AgentsRegistered; got != 1 {
			return "", fmt.Errorf("%d agents registered, want 1", got)
		}
		rep.AgentRuntimeID = auth.AgentRuntimeID()
		return "agent " + auth.AgentRuntimeID() + " saved to auth.json", nil
	}) {
		return finish()
	}

	var taskID string
	if !step("run task", func() (string, error) {
		var err error
		taskID, err = auth.TaskID(ctx)
		if err != nil {
			return "", err
		}
		if !contains(srv.TaskIDs(auth.AgentRuntimeID()), taskID) {
			return "", errors.New("the backend does not know the run task")
		}
		if got := srv.Stats().TasksRegistered; got != 1 {
			return "", fmt.Errorf("%d tasks registered, want 1", got)
		}
		rep.TaskID = taskID
		return "task " + taskID + " (registered once, with the agent)", nil
	}) {
		return finish()
	}

	step(fmt.Sprintf("%d signed requests", n), func() (string, error) {
		fmt.Fprintf(log, "agentid: sending %d signed POST requests to %s/codex/responses\n", n, srv.ChatGPTBaseURL)
		return demoRequests(ctx, auth, srv, n, taskID)
	})

	step("other origin gets no credentials", func() (string, error) {
		return demoOtherOrigin(ctx, auth)
	})

	step("restart: load again", func() (string, error) {
		before := regs()
		again, err := load()
		if err != nil {
			return "", err
		}
		tid, err := again.TaskID(ctx)
		if err != nil {
			return "", err
		}
		if again.AgentRuntimeID() != auth.AgentRuntimeID() {
			return "", fmt.Errorf("runtime id %s after restart, want %s", again.AgentRuntimeID(), auth.AgentRuntimeID())
		}
		if tid != taskID {
			return "", fmt.Errorf("task %s after restart, want %s", tid, taskID)
		}
		if _, err := demoRequests(ctx, again, srv, 1, taskID); err != nil {
			return "", err
		}
		if d := regs() - before; d != 0 {
			return "", fmt.Errorf("%d new registrations after restart, want 0", d)
		}
		auth = again
		return "same agent " + again.AgentRuntimeID() + " and task " + tid + ", 0 new registrations", nil
	})

	step("session fork", func() (string, error) {
		before := srv.Stats().TasksRegistered
		parent := auth.ForSession("session-1")
		pt, err := parent.TaskID(ctx)
		if err != nil {
			return "", err
		}
		child, err := auth.ForkSession("session-1", "session-2")
		if err != nil {
			return "", err
		}
		ct, err := child.TaskID(ctx)
		if err != nil {
			return "", err
		}
		if pt == taskID || ct == taskID || ct == pt {
			return "", errors.New("a session shares a task it must not share")
		}
		if _, err := demoRequests(ctx, child, srv, 1, ct); err != nil {
			return "", err
		}
		if d := srv.Stats().TasksRegistered - before; d != 2 {
			return "", fmt.Errorf("%d tasks registered for two sessions, want 2", d)
		}
		return "session-1 has " + pt + ", its fork session-2 has " + ct, nil
	})

	if n := srv.Stats().RequestsRejected; n != 0 {
		step("no request rejected", func() (string, error) {
			return "", fmt.Errorf("the backend rejected %d requests", n)
		})
	}
	return finish()
}

// demoRequests sends n signed POST requests through auth's Transport and
// checks each answer: 200, the agent and task expected, and the hash of the
// body sent.
func demoRequests(ctx context.Context, auth *identity.RunAuth, srv *identitytest.Server, n int, wantTask string) (string, error) {
	client := &http.Client{Transport: auth.Transport(nil), Timeout: 10 * time.Second}
	before := srv.Stats().RequestsVerified
	var ok atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			body := fmt.Sprintf(`{"model":"demo","input":"request %d"}`, i)
			req, err := http.NewRequestWithContext(gctx, http.MethodPost, srv.ChatGPTBaseURL+"/codex/responses", strings.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			data, err := limitio.ReadAll(resp.Body, 64<<10)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("request %d: status %d: %s", i, resp.StatusCode, truncate(string(data), 200))
			}
			var got struct {
				AgentRuntimeID string `json:"agent_runtime_id"`
				TaskID         string `json:"task_id"`
				BodySHA256     string `json:"body_sha256"`
			}
			if err := json.Unmarshal(data, &got); err != nil {
				return fmt.Errorf("request %d: answer is not JSON: %w", i, err)
			}
			sum := sha256.Sum256([]byte(body))
			switch {
			case got.BodySHA256 != hex.EncodeToString(sum[:]):
				return fmt.Errorf("request %d: the backend saw another body", i)
			case got.AgentRuntimeID != auth.AgentRuntimeID():
				return fmt.Errorf("request %d: verified as agent %s", i, got.AgentRuntimeID)
			case got.TaskID != wantTask:
				return fmt.Errorf("request %d: verified under task %s, want %s", i, got.TaskID, wantTask)
			}
			ok.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	if d := srv.Stats().RequestsVerified - before; d != n {
		return "", fmt.Errorf("the backend verified %d requests, want %d", d, n)
	}
	return fmt.Sprintf("%d/%d answered 200 with the body hash, verified by the backend", ok.Load(), n), nil
}

// demoOtherOrigin sends a request through the Transport to a second loopback
// server and checks that no credential reached it.
func demoOtherOrigin(ctx context.Context, auth *identity.RunAuth) (string, error) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("ChatGPT-Account-ID") != "" {
			leaked.Store(true)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer other.Close()
	client := &http.Client{Transport: auth.Transport(nil), Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, other.URL+"/elsewhere", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if leaked.Load() {
		return "", errors.New("credentials were sent to another origin")
	}
	return "no Authorization or account header sent to " + other.URL, nil
}

func writeDemoTable(w io.Writer, rep *demoReport) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tOK\tREGISTRATIONS\tVERIFIED\tTIME\tRESULT")
	for _, s := range rep.Steps {
		okText := "ok"
		if !s.OK {
			okText = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", s.Step, okText, s.Registrations, s.Verified, fmtSeconds(s.Seconds), s.Result)
	}
	tw.Flush()
	fmt.Fprint(w, b.String())
	verdict := "PASS"
	if !rep.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s: agent %s, run task %s; %d agent and %d task registrations, %d requests verified, %d rejected, in %s\n",
		verdict, orDash(rep.AgentRuntimeID), orDash(rep.TaskID), rep.AgentsRegistered, rep.TasksRegistered,
		rep.RequestsVerified, rep.RequestsRejected, fmtSeconds(rep.Seconds))
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Microsecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
