// Package routes is the module's one table of the ChatGPT backend routes
// that Agent Identity treats differently: which requests carry an
// AgentAssertion (inference and compaction), which carry no credential at all
// (the JWKS fetch, /ps/mcp), and which are other first-party requests (Bearer
// in ChatGPT opt-in mode, AgentAssertion in JWT mode). The gateway's
// middleware uses it to decide what to verify; the client side can use the
// same table to decide what to sign.
//
// Paths are relative to the ChatGPT backend base path (for
// https://chatgpt.com/backend-api that is "/backend-api"). See docs/protocol.md#route-credentials.
package routes

import (
	"strings"

	"github.com/agentidentity/agentidentity/internal/netrule"
)

// Class is what a route is, for credentials.
type Class int

const (
	// Outside is a path that is not under the base path at all.
	Outside Class = iota
	// Inference is a Responses API request (POST and the WebSocket upgrade
	// GET of /codex/responses) or its compaction: always AgentAssertion.
	Inference
	// NoCredential is a request that carries no Authorization at all (the
	// JWKS fetch, /ps/mcp).
	NoCredential
	// Other is every other first-party request under the base path
	// (/codex/models, /wham/settings/user, /ps/plugins/…,
	// /wham/accounts/check): Bearer in ChatGPT opt-in mode, AgentAssertion
	// in JWT mode.
	Other
)

// String returns the class name used in logs and metrics.
func (c Class) String() string {
	switch c {
	case Outside:
		return "outside"
	case Inference:
		return "inference"
	case NoCredential:
		return "no-credential"
	case Other:
		return "other"
	}
	return "unknown"
}

// Route is one row of the table.
type Route struct {
	// Path is the exact path relative to the base path ("/codex/responses").
	Path string
	// Class is the route's class.
	Class Class
	// Methods are the methods Codex uses on it (documentation for client
	// code; Classify ignores the method so that a gateway is strict for
	// every method on an inference path).
	Methods []string
	// Name names the route in logs.
	Name string
}

// Table is the route table, exact paths only. Everything under the base
// path that is not listed is Other.
var Table = []Route{
	{Path: "/codex/responses", Class: Inference, Methods: []string{"POST", "GET"}, Name: "responses"},
	{Path: "/codex/responses/compact", Class: Inference, Methods: []string{"POST"}, Name: "compaction"},
	{Path: "/wham/agent-identities/jwks", Class: NoCredential, Methods: []string{"GET"}, Name: "jwks"},
	{Path: "/ps/mcp", Class: NoCredential, Methods: []string{"GET", "POST"}, Name: "mcp"},
}

// Classify returns the class of requestPath (a decoded URL path such as
// url.URL.Path) under basePath ("" or "/" for the root; a trailing "/" is
// ignored). The base must match whole path segments: "/backend-apix" is not
// under "/backend-api". Matches are exact: a path that is not in canonical
// form (see Canonical) never matches a row and is Other; callers that pass
// requests on must treat a non-canonical path with the strictest class.
func Classify(basePath, requestPath string) Class {
	base := strings.TrimSuffix(basePath, "/")
	rel, ok := strings.CutPrefix(requestPath, base)
	if !ok || (rel != "" && rel[0] != '/') {
		return Outside
	}
	for i := range Table {
		if Table[i].Path == rel {
			return Table[i].Class
		}
	}
	return Other
}

// ClassifyFold is the class a verifier gives requestPath: Classify's, except
// that a path equal to an Inference row under ASCII case folding, the base
// path included ("/Backend-Api/CODEX/Responses"), is Inference too. Servers
// that route without regard to case (Express by default, ASP.NET, IIS)
// serve such a path as inference, so a verifier must never let it pass as
// another route. The client side keeps Classify: it signs exact paths only.
func ClassifyFold(basePath, requestPath string) Class {
	c := Classify(basePath, requestPath)
	if c == Inference {
		return c
	}
	base := strings.TrimSuffix(basePath, "/")
	if len(requestPath) < len(base) || !netrule.ASCIIEqualFold(requestPath[:len(base)], base) {
		return c
	}
	rel := requestPath[len(base):]
	for i := range Table {
		if Table[i].Class == Inference && netrule.ASCIIEqualFold(Table[i].Path, rel) {
			return Inference
		}
	}
	return c
}

// Canonical reports whether p is a path that every server reads the same
// way: it starts with "/", has no empty, "." or ".." segment, no trailing
// "/" (except the root), and no ';', '\\', '%', control or non-ASCII
// character (a decoded path holding '%' was double-encoded; ';' starts path
// parameters in some servers; '\\' is a separator in others; Unicode case
// folding and normalisation map some non-ASCII letters to ASCII ones, 'ſ' to
// 's' and the Kelvin sign to 'k'). A proxy cannot know how the server behind
// it normalises anything else.
func Canonical(p string) bool {
	if p == "/" {
		return true
	}
	if p == "" || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c >= 0x7f || c == ';' || c == '\\' || c == '%':
			return false
		case c == '/':
			seg := p[i+1:]
			if j := strings.IndexByte(seg, '/'); j >= 0 {
				seg = seg[:j]
			}
			if seg == "" || seg == "." || seg == ".." {
				return false
			}
		}
	}
	return true
}
