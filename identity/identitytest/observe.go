package identitytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Exchange is one request the server answered, as passed to
// [Options.OnRequest]. Request holds the request's headers and body as
// received: they carry credentials (test values) and must not be printed;
// [Exchange.LogLine] is the printable summary.
type Exchange struct {
	Request
	// Status is the status code answered (101 for an accepted WebSocket,
	// 0 when the server hung up: Fault.HangUp).
	Status int
	// Scheme is the first word of the Authorization header ("Bearer",
	// "AgentAssertion", …), "" when there was none, "other" when it was not
	// a plain word.
	Scheme string
	// Verdict is "verified" when the route checked a credential and accepted
	// it, "refused: <reason>" when the request was refused (the reason never
	// quotes a credential), and "" when the route checks none (the JWKS,
	// /ps/mcp) and answered.
	Verdict string
}

// LogLine is a one-line summary of e without any credential: method, path
// (without query), scheme, verdict and status, e.g.
// `POST /backend-api/codex/responses AgentAssertion verified 200`.
func (e Exchange) LogLine() string {
	scheme := e.Scheme
	if scheme == "" {
		scheme = "no-auth"
	}
	verdict := e.Verdict
	if verdict == "" {
		verdict = "no credential checked"
	}
	path := e.Path
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	if q := strconv.QuoteToGraphic(path); q != `"`+path+`"` {
		path = q // control characters and the like, escaped
	}
	return e.Method + " " + path + " " + scheme + " " + verdict + " " + strconv.Itoa(e.Status)
}

// schemeOf returns the Authorization scheme word of h, never more.
func schemeOf(h http.Header) string {
	v := h.Get("Authorization")
	if v == "" {
		return ""
	}
	word, _, _ := strings.Cut(v, " ")
	if len(word) == 0 || len(word) > 32 {
		return "other"
	}
	for _, c := range word {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "other"
		}
	}
	return word
}

type exchangeKey struct{}

// exchangeState is what handlers add to the exchange of their request.
type exchangeState struct{ verdict string }

// setVerdict records that the request's credential was accepted or why it
// was refused.
func setVerdict(r *http.Request, v string) {
	if st, ok := r.Context().Value(exchangeKey{}).(*exchangeState); ok {
		st.verdict = v
	}
}

// observe wraps next: it copies each request for Options.OnRequest and
// derives the verdict of refusals from their {"error": reason} body.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.onRequest == nil {
		return s.track(next)
	}
	return s.track(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		st := &exchangeState{}
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, st))
		rw := &recorder{ResponseWriter: w}
		defer func() {
			// A hang-up (Fault.HangUp) is reported too, with status 0.
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					s.onRequest(Exchange{
						Request: Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body},
						Scheme:  schemeOf(r.Header),
						Verdict: st.verdict,
					})
				}
				panic(p)
			}
		}()
		next.ServeHTTP(rw, r)
		e := Exchange{
			Request: Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body},
			Status:  rw.status,
			Scheme:  schemeOf(r.Header),
			Verdict: st.verdict,
		}
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
		if e.Status >= 400 && (e.Verdict == "" || e.Verdict == "verified") {
			var msg struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(rw.errBody.Bytes(), &msg)
			if msg.Error == "" {
				msg.Error = http.StatusText(e.Status)
			}
			if e.Verdict == "verified" {
				e.Verdict = "verified, then " + msg.Error
			} else {
				e.Verdict = "refused: " + msg.Error
			}
		}
		s.onRequest(e)
	}))
}

// track counts the requests being handled, for WaitIdle.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.idleMu.Lock()
		if s.inflight == 0 {
			s.idle = make(chan struct{})
		}
		s.inflight++
		s.idleMu.Unlock()
		defer func() {
			s.idleMu.Lock()
			s.inflight--
			if s.inflight == 0 {
				close(s.idle)
			}
			s.idleMu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// WaitIdle waits until the server handles no request (so every exchange of
// a client that has finished has been passed to Options.OnRequest and
// counted), or until ctx is done.
func (s *Server) WaitIdle(ctx context.Context) error {
	s.idleMu.Lock()
	if s.inflight == 0 {
		s.idleMu.Unlock()
		return nil
	}
	ch := s.idle
	s.idleMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recorder notes the status and the start of an error body.
type recorder struct {
	http.ResponseWriter
	status  int
	errBody bytes.Buffer
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	if rw.status >= 400 && rw.errBody.Len() < 1024 {
		rw.errBody.Write(b[:min(len(b), 1024-rw.errBody.Len())])
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recorder) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController and WebSocket upgrades reach the
// connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
