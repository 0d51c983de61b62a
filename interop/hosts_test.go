//go:build interop

package interop

// The hosts harness: the real Codex reaches the hosts it has compiled in
// (auth.openai.com, chatgpt.com, their staging twins and api.openai.com)
// without any
// override, and still nothing but loopback.
//
//   - The whole test already runs in a user+network namespace of its own
//     with nothing but lo (outer, interop_test.go). Every Codex command of
//     this file is started through "unshare -m", so that it also runs in a
//     mount namespace of its own, where a private hosts file mapping those
//     names to 127.0.0.1 is bind-mounted over /etc/hosts: together the
//     namespaces of "unshare -rnm". Only that Codex process sees the file;
//     the real /etc/hosts is never written.
//   - The stand-in serves those names on 127.0.0.1:443 (the namespace's root
//     may bind it) with a certificate from a CA made for this run alone:
//     ECDSA P-256, valid for a day, name-constrained to those five names,
//     extended key usage serverAuth only, its key in memory only. Only the
//     Codex process is told to trust it (CODEX_CA_CERTIFICATE and
//     SSL_CERT_FILE naming the same file, which holds that CA alone).
//   - The stand-in records every request (method, URL, protocol, headers,
//     body bytes) and answers it itself, except what the fake backend of
//     identitytest already plays well (agent and task registration, the
//     JWKS, the refresh of a ChatGPT login, and AgentAssertion requests,
//     which it verifies): those it passes on to a plain-http fake on
//     another loopback port.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agentidentity/agentidentity/identity/identitytest"
)

const (
	hostAuth           = "auth.openai.com"
	hostChatGPT        = "chatgpt.com"
	hostAuthStaging    = "auth.api.openai.org"
	hostChatGPTStaging = "chatgpt-staging.com"
	// hostAPI is where Codex sends model requests when it has no ChatGPT
	// credential (an API key's, or none): the stand-in refuses them all.
	hostAPI = "api.openai.com"
)

// compiledHosts are the names the private hosts file maps to 127.0.0.1 and
// the only names the run's CA may certify.
var compiledHosts = []string{hostAuth, hostChatGPT, hostAuthStaging, hostChatGPTStaging, hostAPI}

// hostsCA is the run's certificate authority and the stand-in's leaf.
type hostsCA struct {
	pem    []byte // the CA certificate alone
	pool   *x509.CertPool
	config *tls.Config // the server side
}

func newHostsCA(now time.Time) (*hostsCA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		return n
	}
	caTmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: "agentidentity interop hosts CA (one run, test only)"},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(24 * time.Hour),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign,
		ExtKeyUsage:                 []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         compiledHosts,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hostAuth},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     compiledHosts,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &hostsCA{
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool: pool,
		config: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		},
	}, nil
}

// capture is one request the stand-in received, as received.
type capture struct {
	Seq    int
	Method string
	URL    string // https://host/path?query
	Host   string
	Path   string
	Proto  string
	Header http.Header
	Body   []byte
	Status int
	// Via is "stand-in" when the stand-in answered, "fake" when the fake
	// backend did (and then Verdict is the fake's).
	Via string
}

func (c capture) line() string {
	return fmt.Sprintf("%s %s%s %s via %s", c.Method, c.Host, c.Path, strconv.Itoa(c.Status), c.Via)
}

// whoamiAnswer is what the stand-in answers to a personal access token's
// metadata lookup.
type whoamiAnswer struct {
	status int
	body   []byte
}

// exchangeAnswer is what the stand-in answers to a workload identity token
// exchange; hangUp closes the connection without an answer.
type exchangeAnswer struct {
	status   int
	body     []byte
	hangUp   bool
	location string // a Location header, for a redirect
}

// standIn serves the compiled-in hosts on 127.0.0.1:443.
type standIn struct {
	ca       *hostsCA
	fake     *identitytest.Server
	proxy    *httputil.ReverseProxy
	srv      *http.Server
	ln       net.Listener
	dir      string
	caFile   string
	hostFile string

	mu       sync.Mutex
	caps     []capture
	seq      int
	whoami   func(token string) whoamiAnswer
	exchange func(form url.Values) exchangeAnswer

	checkDelay atomic.Int64 // nanoseconds routing discovery waits before it answers

	idleMu   sync.Mutex
	inflight int
	idle     chan struct{}
}

func startStandIn(dir string) (*standIn, error) {
	ca, err := newHostsCA(time.Now())
	if err != nil {
		return nil, fmt.Errorf("hosts CA: %v", err)
	}
	fake := identitytest.NewUnstartedServer(identitytest.Options{ResponseText: interopResponseText})
	if err := fake.Start(); err != nil {
		return nil, err
	}
	s := &standIn{ca: ca, dir: dir, fake: fake}
	target, _ := url.Parse(s.fake.URL)
	s.proxy = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	s.caFile = filepath.Join(dir, "hosts-ca.pem")
	if err := os.WriteFile(s.caFile, ca.pem, 0o644); err != nil {
		return nil, err
	}
	var hosts strings.Builder
	hosts.WriteString("# a private hosts file for one Codex process of the interop test\n127.0.0.1 localhost\n")
	for _, h := range compiledHosts {
		hosts.WriteString("127.0.0.1 " + h + "\n")
	}
	s.hostFile = filepath.Join(dir, "hosts")
	if err := os.WriteFile(s.hostFile, []byte(hosts.String()), 0o644); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:443")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:443 inside the namespace: %v", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, TLSConfig: ca.config, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: nil}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

func (s *standIn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.fake.Close()
}

// client is an http.Client that reaches the stand-in for the compiled-in
// names (and nothing else) and trusts only the run's CA: for this module's
// side of a comparison.
func (s *standIn) client() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.ca.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || port != "443" || !isCompiledHost(host) {
				return nil, fmt.Errorf("the interop client dials only the compiled-in hosts on 443, not %q", addr)
			}
			return dialer.DialContext(ctx, "tcp", "127.0.0.1:443")
		},
	}}
}

func isCompiledHost(h string) bool {
	for _, c := range compiledHosts {
		if c == h {
			return true
		}
	}
	return false
}

// setCase sets how the stand-in answers the lookups of one case (nil: the
// default refusal) and forgets nothing: captures are cut by index.
func (s *standIn) setCase(whoami func(string) whoamiAnswer, exchange func(url.Values) exchangeAnswer) {
	s.mu.Lock()
	s.whoami, s.exchange = whoami, exchange
	s.mu.Unlock()
}

func (s *standIn) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.caps)
}

func (s *standIn) since(i int) []capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]capture(nil), s.caps[i:]...)
}

// waitIdle waits, bounded, until no request is being handled here or at
// the fake.
func (s *standIn) waitIdle(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		s.idleMu.Lock()
		if s.inflight == 0 {
			s.idleMu.Unlock()
			break
		}
		ch := s.idle
		s.idleMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
	_ = s.fake.WaitIdle(ctx)
}

func (s *standIn) enter() {
	s.idleMu.Lock()
	if s.inflight == 0 {
		s.idle = make(chan struct{})
	}
	s.inflight++
	s.idleMu.Unlock()
}

func (s *standIn) leave() {
	s.idleMu.Lock()
	s.inflight--
	if s.inflight == 0 {
		close(s.idle)
	}
	s.idleMu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.enter()
	defer s.leave()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c := capture{Method: r.Method, URL: "https://" + r.Host + r.URL.RequestURI(), Host: host, Path: r.URL.Path,
		Proto: r.Proto, Header: r.Header.Clone(), Body: body, Via: "stand-in"}
	rw := &statusRecorder{ResponseWriter: w}
	c.Via = s.answer(rw, r, host, body)
	c.Status = rw.status
	if c.Status == 0 {
		c.Status = http.StatusOK
	}
	if c.Via == viaHungUp {
		c.Status = 0
	}
	s.mu.Lock()
	s.seq++
	c.Seq = s.seq
	s.caps = append(s.caps, c)
	s.mu.Unlock()
	if c.Via == viaHungUp {
		panic(http.ErrAbortHandler) // the client sees its stream or connection reset
	}
}

// viaHungUp is the Via of a request the stand-in answered by hanging up.
const viaHungUp = "stand-in, hung up"

// answer serves one request and says who answered it.
func (s *standIn) answer(w http.ResponseWriter, r *http.Request, host string, body []byte) string {
	authz := r.Header.Get("Authorization")
	switch host {
	case hostAuth, hostAuthStaging:
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/oauth/token":
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				if s.answerExchange(w, body) {
					return viaHungUp
				}
				return "stand-in"
			}
			s.proxy.ServeHTTP(w, r) // the refresh of a ChatGPT login
			return "fake"
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v1/user-auth-credential/whoami"):
			s.answerWhoami(w, strings.TrimPrefix(authz, "Bearer "))
			return "stand-in"
		case strings.HasPrefix(r.URL.Path, "/api/accounts/v1/agent/"):
			s.proxy.ServeHTTP(w, r)
			return "fake"
		}
	case hostChatGPT, hostChatGPTStaging:
		switch {
		case r.URL.Path == "/backend-api/wham/agent-identities/jwks",
			strings.HasPrefix(authz, "AgentAssertion "):
			s.proxy.ServeHTTP(w, r)
			return "fake"
		case strings.HasPrefix(r.URL.Path, "/backend-api/"):
			s.answerBearer(w, r, host)
			return "stand-in"
		}
	}
	if host == hostAPI {
		writeJSONAnswer(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{
			"message": "the interop stand-in refuses every API request", "type": "invalid_request_error", "code": "invalid_api_key"}})
		return "stand-in"
	}
	writeJSONAnswer(w, http.StatusNotFound, map[string]string{"error": "not served by the interop stand-in"})
	return "stand-in"
}

func writeJSONAnswer(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (s *standIn) answerWhoami(w http.ResponseWriter, token string) {
	s.mu.Lock()
	f := s.whoami
	s.mu.Unlock()
	a := whoamiAnswer{status: http.StatusUnauthorized, body: []byte(`{"error":{"message":"unknown token"}}`)}
	if f != nil {
		a = f(token)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// answerExchange answers a token exchange, or reports that it should hang
// up instead.
func (s *standIn) answerExchange(w http.ResponseWriter, body []byte) bool {
	s.mu.Lock()
	f := s.exchange
	s.mu.Unlock()
	form, _ := url.ParseQuery(string(body))
	a := exchangeAnswer{status: http.StatusBadRequest, body: []byte(`{"error":"invalid_grant"}`)}
	if f != nil {
		a = f(form)
	}
	if a.hangUp {
		return true
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return false
}

// answerBearer answers the ChatGPT backend routes for any Bearer token (and
// none): the stand-in records, it does not judge.
func (s *standIn) answerBearer(w http.ResponseWriter, r *http.Request, host string) {
	p := strings.TrimPrefix(r.URL.Path, "/backend-api")
	account := r.Header.Get("ChatGPT-Account-ID")
	switch {
	case p == "/codex/responses" && r.Method == http.MethodGet:
		w.Header().Set("Connection", "close")
		writeJSONAnswer(w, http.StatusUpgradeRequired, map[string]string{"error": "WebSockets are not served here; use HTTP"})
	case p == "/codex/responses" && r.Method == http.MethodPost:
		writeEventStream(w)
	case p == "/codex/models":
		writeJSONAnswer(w, http.StatusOK, map[string][]any{"models": {}})
	case p == "/wham/accounts/check":
		if d := s.checkDelay.Load(); d > 0 {
			// A slow answer, so that a short-lived token lapses before
			// the next request (row (v)): the expiry is under test, not
			// the order of goroutines.
			time.Sleep(time.Duration(d))
		}
		writeJSONAnswer(w, http.StatusOK, map[string]any{
			"accounts": []map[string]string{{"id": account, "plan_type": "plus", "structure": "personal",
				"workspace_backend_origin": "https://" + host, "account_routing_override": "NO_CONSTRAINT"}},
			"account_ordering":   []string{account},
			"default_account_id": account,
		})
	case p == "/wham/config/bundle":
		// The workspace-managed policies of business and enterprise plans:
		// none (Codex refuses to go on without an answer).
		writeJSONAnswer(w, http.StatusOK, map[string]any{})
	case p == "/wham/settings/user":
		writeJSONAnswer(w, http.StatusOK, map[string]bool{"commit_attribution_enabled": false})
	default:
		writeJSONAnswer(w, http.StatusNotFound, map[string]string{"error": "not served by the interop stand-in"})
	}
}

var eventSeq struct {
	sync.Mutex
	n int
}

func writeEventStream(w http.ResponseWriter) {
	eventSeq.Lock()
	eventSeq.n++
	n := strconv.Itoa(eventSeq.n)
	eventSeq.Unlock()
	id := "resp-hosts-" + n
	evs := []map[string]any{
		{"type": "response.created", "response": map[string]any{"id": id}},
		{"type": "response.output_item.done", "output_index": 0, "item": map[string]any{
			"type": "message", "id": "msg-hosts-" + n, "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": interopResponseText, "annotations": []any{}}},
		}},
		{"type": "response.completed", "response": map[string]any{
			"id": id, "usage": map[string]int{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
		}},
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	for _, ev := range evs {
		data, _ := json.Marshal(ev)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev["type"], data); err != nil {
			return
		}
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// ---- Codex, started with the private hosts file ----

// hostsRun is one Codex command of this file.
type hostsRun struct {
	args           []string
	rc             int
	stdout, stderr string
	caps           []capture
	wall           time.Duration
}

// quietConfig is the config.toml of interop_test.go's homes (through
// identitytest.WriteCodexHome) without the base URLs: Codex uses the ones
// it has compiled in. Update checks, analytics, feedback and telemetry stay
// off.
func quietConfig(optIn bool, extra string) string {
	cfg := "# written by the interop test: compiled-in hosts, test values only\n" +
		extra +
		"check_for_update_on_startup = false\n" +
		"\n[analytics]\nenabled = false\n" +
		"\n[feedback]\nenabled = false\n" +
		"\n[otel]\nexporter = \"none\"\n"
	if optIn {
		cfg += "\n[features]\nuse_agent_identity = true\n"
	}
	return cfg
}

// runCodexHosts runs one Codex command (args after the binary) with home as
// CODEX_HOME, env added to a minimal environment and stdin, in a mount
// namespace of its own where the private hosts file stands for /etc/hosts,
// under timeout, in its own process group (killed afterwards).
func (s *standIn) runCodexHosts(codex, tmp, home string, env []string, stdin string, args ...string) (hostsRun, error) {
	if err := loopbackOnly(); err != nil {
		return hostsRun{}, fmt.Errorf("refusing to run Codex: %v", err)
	}
	work := filepath.Join(tmp, "work")
	userHome := filepath.Join(tmp, "user-home")
	for _, d := range []string{work, userHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return hostsRun{}, err
		}
	}
	base := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + userHome, "CODEX_HOME=" + home,
		"SSL_CERT_FILE=" + s.caFile, "CODEX_CA_CERTIFICATE=" + s.caFile, "RUST_LOG=warn", "NO_COLOR=1",
	}
	first := s.mark()
	ctx, cancel := context.WithTimeout(context.Background(), (codexTimeout+15)*time.Second)
	defer cancel()
	// $0 is the hosts file, the rest the command: the bind mount happens in
	// the new mount namespace of unshare -m, or nothing runs.
	cmdArgs := append([]string{"-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, s.hostFile,
		"timeout", "-k", "5", fmt.Sprint(codexTimeout), codex}, args...)
	cmd := exec.CommandContext(ctx, "unshare", cmdArgs...)
	cmd.Dir, cmd.Env = work, append(base, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = strings.NewReader(stdin)
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
	s.waitIdle(10 * time.Second)
	return hostsRun{args: args, rc: rc, stdout: stdout.String(), stderr: stderr.String(), caps: s.since(first), wall: wall}, nil
}

func execArgs() []string {
	return []string{"exec", "--strict-config", "--skip-git-repo-check", "hi"}
}

func (r hostsRun) find(pred func(capture) bool) []capture {
	var out []capture
	for _, c := range r.caps {
		if pred(c) {
			out = append(out, c)
		}
	}
	return out
}

func (r hostsRun) summary() string {
	return fmt.Sprintf("rc=%d in %.1fs, %d requests", r.rc, r.wall.Seconds(), len(r.caps))
}

// turnDone reports whether the run printed the stand-in's model answer.
func (r hostsRun) turnDone() bool {
	return r.rc == 0 && strings.Contains(r.stdout, interopResponseText)
}

// ---- rendering captures for the record and the golden files ----

// redactor replaces secrets (and their URL-encoded forms) by placeholders.
type redactor []string // pairs: secret, placeholder

func (rd redactor) apply(s string) string {
	for i := 0; i+1 < len(rd); i += 2 {
		if rd[i] == "" {
			continue
		}
		s = strings.ReplaceAll(s, rd[i], rd[i+1])
		if q := url.QueryEscape(rd[i]); q != rd[i] {
			s = strings.ReplaceAll(s, q, rd[i+1])
		}
	}
	return s
}

// varyingHeaders are the headers whose values change from run to run or
// machine to machine: the golden files hold a placeholder for them.
var varyingHeaders = map[string]string{
	"user-agent":            "<user-agent>",
	"session_id":            "<session id>",
	"session-id":            "<session id>",
	"x-client-request-id":   "<request id>",
	"x-codex-turn-metadata": "<turn metadata>",
	"thread-id":             "<thread id>",
	"sec-websocket-key":     "<websocket key>",
	"x-codex-window-id":     "<window id>",
	"conversation_id":       "<conversation id>",
	"x-request-id":          "<request id>",
	"traceparent":           "<traceparent>",
	"tracestate":            "<tracestate>",
	"content-length":        "<length>",
}

// render is a capture as text: the request line, the headers with
// lower-cased names in sorted order (one line per value), an empty line and
// the body, secrets replaced by rd and varying header values by
// placeholders. The body is kept byte for byte (after rd).
func (c capture) render(rd redactor) string { return c.renderAs(rd, true, true) }

// renderAs is render with a choice: varying header values kept or replaced,
// the body kept or summarised (the zstd-compressed model requests).
func (c capture) renderAs(rd redactor, placeholders, body bool) string {
	var b strings.Builder
	b.WriteString(c.Method + " " + rd.apply(c.URL) + "\n")
	names := make([]string, 0, len(c.Header))
	for k := range c.Header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range c.Header.Values(k) {
			if p, ok := varyingHeaders[k]; ok && placeholders {
				v = p
			}
			b.WriteString(k + ": " + rd.apply(v) + "\n")
		}
	}
	b.WriteString("\n")
	switch {
	case !body && len(c.Body) > 0:
		b.WriteString("<body not recorded>\n")
	case len(c.Body) > 0:
		b.WriteString(rd.apply(string(c.Body)))
		if !bytes.HasSuffix(c.Body, []byte("\n")) {
			b.WriteString("\n")
		}
	}
	return b.String()
}
