package main

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/agentidentity/agentidentity/internal/routes"
)

// requestNote is what the handlers of one request learn for its log line.
type requestNote struct {
	outcome   string // "verified", "passed" or "refused"
	reason    string // the Verifier's reason of a refusal
	runtimeID string // verified, or the one a refused header named
	err       error  // the upstream's failure
	refusal   string // the Verifier's error text of a refusal
}

type noteKey struct{}

// noteOf returns the request's note (a throwaway one outside logRequests).
func noteOf(ctx context.Context) *requestNote {
	if n, ok := ctx.Value(noteKey{}).(*requestNote); ok {
		return n
	}
	return &requestNote{}
}

// foldRefusals is the Verifier's log handler: a refusal, logged with the
// request's context, goes into the request's note (and so into its one
// line) instead of a line of its own. Anything else passes through.
type foldRefusals struct{ slog.Handler }

func (h foldRefusals) Handle(ctx context.Context, r slog.Record) error {
	n, ok := ctx.Value(noteKey{}).(*requestNote)
	if !ok {
		return h.Handler.Handle(ctx, r)
	}
	n.outcome = "refused"
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "reason":
			n.reason = a.Value.String()
		case "runtime_id":
			n.runtimeID = a.Value.String()
		case "error":
			n.refusal = a.Value.String()
		}
		return true
	})
	return nil
}

func (h foldRefusals) WithAttrs(as []slog.Attr) slog.Handler {
	return foldRefusals{h.Handler.WithAttrs(as)}
}

func (h foldRefusals) WithGroup(name string) slog.Handler {
	return foldRefusals{h.Handler.WithGroup(name)}
}

// routeClass is the class Middleware gives r: every path not in canonical
// form is treated as inference.
func routeClass(basePath string, r *http.Request) string {
	if !routes.Canonical(r.URL.Path) || r.URL.RawPath != "" {
		return routes.Inference.String()
	}
	return routes.ClassifyFold(basePath, r.URL.Path).String()
}

// logRequests logs one line per request at info (error for a 5xx): the
// outcome, the route class, the method and path (at most 200 bytes, never
// the query), the status, the duration and the runtime id (verified, or
// the one a refused header named), with the reason and error of a refusal
// or an upstream failure. It never logs a header value.
func logRequests(logger *slog.Logger, basePath string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := &requestNote{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if !logger.Enabled(r.Context(), level) {
			return
		}
		outcome := n.outcome
		if outcome == "" {
			outcome = "refused"
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("outcome", outcome),
			slog.String("route", routeClass(basePath, r)),
			slog.String("method", truncateLog(r.Method, 20)),
			slog.String("path", truncateLog(r.URL.Path, 200)),
			slog.Int("status", sw.statusOr200()),
			slog.Duration("duration", time.Since(start)),
		)
		if n.runtimeID != "" {
			attrs = append(attrs, slog.String("runtime_id", n.runtimeID))
		}
		if n.reason != "" {
			attrs = append(attrs, slog.String("reason", n.reason))
		}
		if n.refusal != "" {
			attrs = append(attrs, slog.String("error", n.refusal))
		}
		if n.err != nil {
			attrs = append(attrs, slog.String("error", n.err.Error()))
		}
		logger.LogAttrs(r.Context(), level, "gateway: request", attrs...)
	})
}

func truncateLog(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// statusWriter remembers the status written. It unwraps for
// http.ResponseController (Flush, deadlines) and hijacks itself, so that a
// protocol switch is logged as 101.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

func (w *statusWriter) statusOr200() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
