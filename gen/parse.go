package gen

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/agentidentity/agentidentity/internal/endpointrule"
)

// MaxFileSize is the largest endpoints file Parse reads.
const MaxFileSize = 1 << 20

// productionName is the environment every table must define: custom
// deployments take its issuer and audience.
const productionName = "production"

// Table is a parsed endpoints file. Parse returns it sorted and validated;
// Generate validates it again, so a Table built by hand cannot produce a
// broken file either.
type Table struct {
	// Source is the base name of the file the table came from, written in the
	// header of the generated file.
	Source string
	// LoginIssuer is the "iss" claim of the access tokens of a ChatGPT login
	// (top-level login_issuer): an https origin, without a path. It tells a
	// ChatGPT access token apart from an Agent Identity JWT.
	LoginIssuer string
	// Environments holds the environments sorted by Name.
	Environments []Environment
}

// Environment is one [environments.NAME] table of the endpoints file.
type Environment struct {
	Name           string
	ChatGPTBaseURL string
	AuthAPIBaseURL string
	JWKSURL        string
	Issuer         string
	Audience       string
	// AcceptedBaseURLs lists the accepted ChatGPT base URLs in file order.
	AcceptedBaseURLs []string
}

// Error is one problem in an endpoints file. Its message has the form
// "file:line: key: message".
type Error struct {
	File string // the name given to Parse
	Line int    // 1-based line of the key (of the file's start if no key)
	Key  string // dotted TOML key, "" for the whole file
	Msg  string // what is wrong, lower case
}

// Error returns "file:line: key: message" (without "key: " when Key is
// empty).
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// field names of the top level and of an [environments.NAME] table, in
// schema order.
const (
	keyLoginIssuer    = "login_issuer" // top level, not in a table
	keyChatGPTBaseURL = "chatgpt_base_url"
	keyAccepted       = "accepted_base_urls"
	keyAuthAPI        = "authapi_base_url"
	keyJWKS           = "jwks_url"
	keyIssuer         = "issuer"
	keyAudience       = "audience"
)

var envKeys = []string{keyChatGPTBaseURL, keyAccepted, keyAuthAPI, keyJWKS, keyIssuer, keyAudience}

// envTOML receives one environment. Primitive fields let each value be
// decoded on its own, so a wrong type is reported against its own key; keys
// that match no field stay undecoded and are reported as unknown.
type envTOML struct {
	ChatGPTBaseURL toml.Primitive `toml:"chatgpt_base_url"`
	Accepted       toml.Primitive `toml:"accepted_base_urls"`
	AuthAPI        toml.Primitive `toml:"authapi_base_url"`
	JWKS           toml.Primitive `toml:"jwks_url"`
	Issuer         toml.Primitive `toml:"issuer"`
	Audience       toml.Primitive `toml:"audience"`
}

// Parse reads an endpoints file strictly: syntax errors, unknown keys (keys
// are case-sensitive), missing or mistyped values, URLs that are not https or
// carry user info, a query, a fragment or a trailing '/', a base URL claimed
// twice, a JWKS URL that does not follow the rule of docs/protocol.md#jwks-url, an empty issuer or
// audience, and a login_issuer with a path are all errors. name is used in error messages and in the
// generated header. The error, if any, joins (errors.Join) one *Error per
// problem, sorted by line and key, so errors.As finds the first; its message
// has one line per problem.
func Parse(name string, data []byte) (*Table, error) {
	p := &tableParser{name: name, data: data}
	if len(data) > MaxFileSize {
		p.errf(1, "", "file is larger than %d bytes", MaxFileSize)
		return nil, p.err()
	}
	var doc struct {
		LoginIssuer  toml.Primitive `toml:"login_issuer"`
		Environments toml.Primitive `toml:"environments"`
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.errf(max(pe.Position.Line, 1), pe.LastKey, "%s", lowerFirst(pe.Message))
		} else {
			p.errf(1, "", "cannot read TOML: %v", err)
		}
		return nil, p.err()
	}
	p.md = &md
	t := &Table{Source: baseName(name)}
	if !md.IsDefined(keyLoginIssuer) {
		p.errf(1, keyLoginIssuer, "missing required top-level key (the issuer of ChatGPT login access tokens, written before the first table)")
	} else if err := md.PrimitiveDecode(doc.LoginIssuer, &t.LoginIssuer); err != nil {
		p.errf(p.line(keyLoginIssuer), keyLoginIssuer, "must be a string")
		p.bad = append(p.bad, toml.Key{keyLoginIssuer})
	}
	if !md.IsDefined("environments") {
		p.errf(1, "environments", "missing: define at least the [environments.%s] table", productionName)
	} else {
		// Decoding a non-table into a map succeeds silently, so check the
		// type first; an implicitly defined table has no type of its own.
		var envs map[string]toml.Primitive
		if typ := md.Type("environments"); (typ != "" && typ != "Hash") || md.PrimitiveDecode(doc.Environments, &envs) != nil {
			p.errf(p.line("environments"), "environments", "must be a table of [environments.NAME] tables")
			p.bad = append(p.bad, toml.Key{"environments"})
			envs = nil
		}
		for _, name := range sortedKeys(envs) {
			if e, ok := p.environment(name, envs[name]); ok {
				t.Environments = append(t.Environments, e)
			}
		}
	}
	p.unknownKeys()
	if len(p.errs) == 0 {
		p.crossChecks(t)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return strings.Compare(a.Key, b.Key)
		})
		return nil, p.err()
	}
	return t, nil
}

type tableParser struct {
	name string
	data []byte
	md   *toml.MetaData
	pos  map[string]int // line of every key, filled on first use
	bad  []toml.Key     // keys already reported as mistyped
	errs []*Error
}

// err joins the problems found.
func (p *tableParser) err() error {
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (p *tableParser) errf(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// environment decodes and checks one [environments.NAME] table.
func (p *tableParser) environment(name string, prim toml.Primitive) (Environment, bool) {
	envKey := toml.Key{"environments", name}.String()
	line := p.line("environments", name)
	ok := true
	if err := checkName(name); err != nil {
		p.errf(line, envKey, "%v", err)
		ok = false
	}
	var raw envTOML
	if err := p.md.PrimitiveDecode(prim, &raw); err != nil {
		p.errf(line, envKey, "must be a table")
		return Environment{}, false
	}
	e := Environment{Name: name}
	str := func(key string, prim toml.Primitive, dst *string) {
		k := toml.Key{"environments", name, key}
		if !p.md.IsDefined(k...) {
			p.errf(line, envKey, "missing required key %q", key)
			ok = false
			return
		}
		if err := p.md.PrimitiveDecode(prim, dst); err != nil {
			p.errf(p.line(k...), k.String(), "must be a string")
			ok = false
		}
	}
	str(keyChatGPTBaseURL, raw.ChatGPTBaseURL, &e.ChatGPTBaseURL)
	str(keyAuthAPI, raw.AuthAPI, &e.AuthAPIBaseURL)
	str(keyJWKS, raw.JWKS, &e.JWKSURL)
	str(keyIssuer, raw.Issuer, &e.Issuer)
	str(keyAudience, raw.Audience, &e.Audience)
	k := toml.Key{"environments", name, keyAccepted}
	if !p.md.IsDefined(k...) {
		p.errf(line, envKey, "missing required key %q", keyAccepted)
		ok = false
	} else if err := p.md.PrimitiveDecode(raw.Accepted, &e.AcceptedBaseURLs); err != nil {
		p.errf(p.line(k...), k.String(), "must be an array of strings")
		ok = false
	}
	return e, ok
}

// unknownKeys reports every key that matched no field (MetaData.Undecoded)
// and every key spelled with another case than the schema's: the TOML
// decoder matches field names case-insensitively, the schema does not.
func (p *tableParser) unknownKeys() {
	reported := map[string]bool{}
	report := func(k toml.Key) {
		for i := 1; i < len(k); i++ { // only the outermost unknown key
			if reported[k[:i].String()] {
				return
			}
		}
		for _, b := range p.bad { // nor keys inside a mistyped value
			if len(k) > len(b) && slices.Equal(k[:len(b)], b) {
				return
			}
		}
		reported[k.String()] = true
		p.errf(p.line(k...), k.String(), "unknown key (the schema at the top of endpoints.toml lists the keys; keys are case-sensitive)")
	}
	for _, k := range p.md.Undecoded() {
		report(k)
	}
	for _, k := range p.md.Keys() {
		if reported[k.String()] {
			continue
		}
		switch {
		case k[0] != "environments" && (len(k) > 1 || k[0] != keyLoginIssuer):
			report(k)
		case len(k) == 3 && !slices.Contains(envKeys, k[2]):
			report(k)
		}
	}
}

// crossChecks validates the values of a table whose shape is right.
func (p *tableParser) crossChecks(t *Table) {
	for _, e := range validate(t) {
		line := 1
		if e.key != nil {
			line = p.line(e.key...)
			if e.value != "" {
				line = p.valueLine(line, e.value)
			}
		}
		key := ""
		if e.key != nil {
			key = e.key.String()
		}
		p.errf(line, key, "%s", e.msg)
	}
}

// tableError is a problem found by validate, placed by its key.
type tableError struct {
	key   toml.Key // nil for the whole table
	value string   // the offending array element, to find its line
	msg   string
}

// validate checks the values of t: names, URLs, the JWKS rule, issuer and
// audience, and that no base URL is claimed twice. It does not depend on
// positions, so Generate runs it too.
func validate(t *Table) []tableError {
	var errs []tableError
	add := func(key toml.Key, value, format string, args ...any) {
		errs = append(errs, tableError{key: key, value: value, msg: fmt.Sprintf(format, args...)})
	}
	if _, err := checkOrigin(t.LoginIssuer); err != nil {
		add(toml.Key{keyLoginIssuer}, "", "%v", err)
	}
	if len(t.Environments) == 0 {
		add(toml.Key{"environments"}, "", "define at least the [environments.%s] table", productionName)
		return errs
	}
	hasProduction := false
	claimed := map[string]string{} // lookup key -> environment name
	names := map[string]bool{}
	for _, e := range t.Environments {
		k := func(field string) toml.Key { return toml.Key{"environments", e.Name, field} }
		if err := checkName(e.Name); err != nil {
			add(toml.Key{"environments", e.Name}, "", "%v", err)
		}
		if names[e.Name] {
			add(toml.Key{"environments", e.Name}, "", "environment defined twice")
		}
		names[e.Name] = true
		hasProduction = hasProduction || e.Name == productionName
		base, err := checkURL(e.ChatGPTBaseURL)
		if err != nil {
			add(k(keyChatGPTBaseURL), "", "%v", err)
		}
		if _, err := checkURL(e.AuthAPIBaseURL); err != nil {
			add(k(keyAuthAPI), "", "%v", err)
		}
		if _, err := checkURL(e.JWKSURL); err != nil {
			add(k(keyJWKS), "", "%v", err)
		} else if base != nil {
			if want := endpointrule.JWKSURL(base); e.JWKSURL != want {
				add(k(keyJWKS), "", "%q does not follow the JWKS rule for chatgpt_base_url %q: want %q", e.JWKSURL, e.ChatGPTBaseURL, want)
			}
		}
		for _, f := range []struct{ key, v string }{{keyIssuer, e.Issuer}, {keyAudience, e.Audience}} {
			if f.v == "" {
				add(k(f.key), "", "must not be empty")
			} else if !printable(f.v) {
				add(k(f.key), "", "%q must be printable ASCII without surrounding spaces", f.v)
			}
		}
		if len(e.AcceptedBaseURLs) == 0 {
			add(k(keyAccepted), "", "must list at least one base URL")
		}
		for _, raw := range e.AcceptedBaseURLs {
			u, err := checkURL(raw)
			if err != nil {
				add(k(keyAccepted), raw, "%v", err)
				continue
			}
			key, ok := lookupKey(u)
			if !ok {
				add(k(keyAccepted), raw, "%q cannot be matched by the run-time lookup", raw)
				continue
			}
			if other, dup := claimed[key]; dup {
				if other == e.Name {
					add(k(keyAccepted), raw, "%q is listed twice", raw)
				} else {
					add(k(keyAccepted), raw, "%q is already claimed by environment %q", raw, other)
				}
				continue
			}
			claimed[key] = e.Name
		}
		if base != nil && !slices.Contains(e.AcceptedBaseURLs, e.ChatGPTBaseURL) {
			add(k(keyChatGPTBaseURL), "", "%q must also be listed in %s", e.ChatGPTBaseURL, keyAccepted)
		}
	}
	if !hasProduction {
		add(toml.Key{"environments"}, "", "an environment named %q is required (custom deployments take its issuer and audience)", productionName)
	}
	return errs
}

// checkName accepts lower-case letters, digits and '-', starting with a
// letter, up to 63 characters, other than endpointrule.CustomName.
func checkName(name string) error {
	if name == "" || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("environment name %q must start with a lower-case letter and be at most 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("environment name %q may hold only lower-case letters, digits and '-'", name)
		}
	}
	if name == endpointrule.CustomName {
		return fmt.Errorf("environment name %q is reserved for custom deployments", name)
	}
	return nil
}

// printable reports whether s is printable ASCII (spaces inside allowed)
// without leading or trailing spaces.
func printable(s string) bool {
	if strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// line returns the line of a key, from a second decode of the file in which
// every table is a map of Primitive values: a position probe decoded from a
// key's Primitive fails with a toml.ParseError that carries the key's
// position. Keys that cannot be reached (inside arrays of tables) take the
// line of their nearest reachable parent; 1 if none.
func (p *tableParser) line(key ...string) int {
	if p.pos == nil {
		p.pos = map[string]int{}
		var top map[string]toml.Primitive
		md, err := toml.NewDecoder(bytes.NewReader(p.data)).Decode(&top)
		if err == nil {
			p.index(&md, nil, top)
		}
	}
	for n := len(key); n > 0; n-- {
		if l, ok := p.pos[toml.Key(key[:n]).String()]; ok {
			return l
		}
	}
	return 1
}

// index records the line of every key under parent and returns the smallest
// (0 if none). A table defined only implicitly (environments in
// [environments.production]) has no line of its own: it takes the first line
// of its keys.
func (p *tableParser) index(md *toml.MetaData, parent toml.Key, m map[string]toml.Primitive) int {
	first := 0
	for k, prim := range m {
		key := append(slices.Clip(parent), k)
		line := 0
		err := md.PrimitiveDecode(prim, probe{})
		var pe toml.ParseError
		if errors.As(err, &pe) && pe.Position.Line > 0 {
			line = pe.Position.Line
		}
		var sub map[string]toml.Primitive
		if md.PrimitiveDecode(prim, &sub) == nil {
			if l := p.index(md, key, sub); line == 0 {
				line = l
			}
		}
		if line > 0 {
			p.pos[key.String()] = line
			if first == 0 || line < first {
				first = line
			}
		}
	}
	return first
}

// probe fails every decode, so that the decoder reports the position of the
// key it was decoding.
type probe struct{}

var errProbe = errors.New("position probe")

func (probe) UnmarshalTOML(any) error { return errProbe }

// valueLine returns the line, at or after keyLine, where the string value is
// written (for elements of multi-line arrays), or keyLine if it is not found
// spelled plainly.
func (p *tableParser) valueLine(keyLine int, value string) int {
	start := 0
	for l := 1; l < keyLine && start < len(p.data); l++ {
		i := bytes.IndexByte(p.data[start:], '\n')
		if i < 0 {
			return keyLine
		}
		start += i + 1
	}
	for _, q := range []string{`"`, `'`} {
		if i := bytes.Index(p.data[start:], []byte(q+value+q)); i >= 0 {
			return keyLine + bytes.Count(p.data[start:start+i], []byte("\n"))
		}
	}
	return keyLine
}

func lowerFirst(s string) string {
	if s == "" {
		return "invalid TOML"
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}

// parsedURL is used by Generate for the checked URLs.
func parsedURL(raw string) *url.URL {
	u, err := checkURL(raw)
	if err != nil {
		return nil
	}
	return u
}
