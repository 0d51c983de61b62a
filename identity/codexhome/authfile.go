package codexhome

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentidentity/agentidentity/internal/secret"
	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// maxAuthFileSize is the largest auth.json the store reads (1 MiB). A larger
// file is refused as corrupt.
const maxAuthFileSize = 1 << 20

// Member names of auth.json (docs/protocol.md#auth-json-members), in the order the Codex CLI writes them.
const (
	memberAuthMode      = "auth_mode"
	memberOpenAIAPIKey  = "OPENAI_API_KEY"
	memberTokens        = "tokens"
	memberLastRefresh   = "last_refresh"
	memberAgentIdentity = "agent_identity"
	// memberPersonalAccessToken is what `codex login --with-access-token`
	// writes. No setter writes it: the member keeps its bytes and its place.
	memberPersonalAccessToken = "personal_access_token"
)

var topLevelOrder = []string{memberAuthMode, memberOpenAIAPIKey, memberTokens, memberLastRefresh, memberAgentIdentity}

// authModeAgentIdentity is the auth_mode the Codex CLI writes for standalone
// Agent Identity JWT credentials.
const authModeAgentIdentity = "agentIdentity"

// AuthFile is a parsed auth.json, shared with the Codex CLI. It keeps every
// member, known or not, with its value exactly as read and in the order of
// the file; a member is re-encoded only when a setter changes it, and the
// ChatGPT login state (tokens, last_refresh) is never changed or dropped.
//
// The zero value is an empty file that does not exist on disk. An AuthFile
// is not safe for concurrent use; Store.Update hands each call its own.
// Formatting an AuthFile with fmt or log/slog never prints a value.
type AuthFile struct {
	exists bool
	// m holds the members in a box, so that printing an AuthFile value (or
	// a struct holding one) never shows a token.
	m     secret.Box[memberList]
	dirty bool
}

// ParseAuthFile parses the content of an auth.json. It refuses, with an error
// wrapping ErrCorruptAuthFile, anything over 1 MiB, invalid UTF-8,
// empty, truncated or non-object JSON, duplicate member names at any depth,
// and a known member of the wrong type (for example tokens that is not an
// object, agent_identity that is neither a string nor a record object,
// personal_access_token that is neither a string nor null, or a record
// member of the wrong type). Error messages name members, never their
// values.
func ParseAuthFile(data []byte) (*AuthFile, error) {
	if len(data) > maxAuthFileSize {
		return nil, corrupt("the file is larger than %d bytes", maxAuthFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt("the file is empty")
	}
	// One walk checks the file and splits its top-level object.
	members, err := strictjson.Members(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptAuthFile, err)
	}
	f := &AuthFile{exists: true, m: secret.NewBox(memberList{members: members})}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptAuthFile, fmt.Sprintf(format, args...))
}

func wrongType(name string, raw json.RawMessage, want string) error {
	return corrupt("member %q is %s, want %s", name, strictjson.Kind(raw), want)
}

// validate type-checks the known members.
func (f *AuthFile) validate() error {
	for _, m := range f.list().members {
		switch m.Name {
		case memberAuthMode, memberOpenAIAPIKey, memberLastRefresh, memberPersonalAccessToken:
			if _, ok := strictjson.String(m.Raw); !ok && !strictjson.IsNull(m.Raw) {
				return wrongType(m.Name, m.Raw, "a string or null")
			}
		case memberTokens:
			if strictjson.IsNull(m.Raw) {
				continue
			}
			if _, err := parseTokens(m.Raw); err != nil {
				return err
			}
		case memberAgentIdentity:
			switch {
			case strictjson.IsNull(m.Raw):
			case m.Raw[0] == '"':
				if _, ok := strictjson.String(m.Raw); !ok {
					return wrongType(m.Name, m.Raw, "a JWT string or a record object")
				}
			case m.Raw[0] == '{':
				if _, err := parseRecord(m.Raw); err != nil {
					return err
				}
			default:
				return wrongType(m.Name, m.Raw, "a JWT string or a record object")
			}
		}
	}
	return nil
}

// Exists reports whether the file was read from disk (false for a missing
// auth.json and for the zero value).
func (f *AuthFile) Exists() bool { return f.exists }

func (f *AuthFile) member(name string) (json.RawMessage, bool) {
	for _, m := range f.list().members {
		if m.Name == name {
			return m.Raw, true
		}
	}
	return nil, false
}

// setMember stores raw as the value of name, inserting a new member at the
// Codex CLI's position for known members (at the end for others). Setting
// the same bytes again changes nothing.
func (f *AuthFile) setMember(name string, raw json.RawMessage) {
	for i, m := range f.list().members {
		if m.Name == name {
			if bytes.Equal(m.Raw, raw) {
				return
			}
			f.list().members[i].Raw = raw
			f.dirty = true
			return
		}
	}
	f.list().members = insertMember(f.list().members, strictjson.Member{Name: name, Raw: raw}, topLevelOrder)
	f.dirty = true
}

// insertMember inserts m after the last member that comes before it in
// order, or before the first member that comes after it, or at the end.
func insertMember(members []strictjson.Member, m strictjson.Member, order []string) []strictjson.Member {
	rank := func(name string) int {
		for i, n := range order {
			if n == name {
				return i
			}
		}
		return -1
	}
	r := rank(m.Name)
	pos := len(members)
	if r >= 0 {
		after, before := -1, -1
		for i, x := range members {
			xr := rank(x.Name)
			if xr < 0 {
				continue
			}
			if xr < r {
				after = i
			} else if before < 0 {
				before = i
			}
		}
		switch {
		case after >= 0:
			pos = after + 1
		case before >= 0:
			pos = before
		}
	}
	members = append(members, strictjson.Member{})
	copy(members[pos+1:], members[pos:])
	members[pos] = m
	return members
}

func (f *AuthFile) removeMember(name string) {
	for i, m := range f.list().members {
		if m.Name == name {
			f.list().members = append(f.list().members[:i], f.list().members[i+1:]...)
			f.dirty = true
			return
		}
	}
}

func (f *AuthFile) stringMember(name string) string {
	raw, ok := f.member(name)
	if !ok {
		return ""
	}
	s, _ := strictjson.String(raw)
	return s
}

// AuthMode returns auth_mode, or "" when it is absent or null.
func (f *AuthFile) AuthMode() string { return f.stringMember(memberAuthMode) }

// SetAuthMode sets auth_mode; "" removes the member, as the Codex CLI omits
// an absent mode. It refuses a mode that is not valid UTF-8.
func (f *AuthFile) SetAuthMode(mode string) error {
	if mode == "" {
		f.removeMember(memberAuthMode)
		return nil
	}
	if err := checkUTF8(memberAuthMode, mode); err != nil {
		return err
	}
	f.setMember(memberAuthMode, strictjson.Quote(mode))
	return nil
}

// OpenAIAPIKey returns OPENAI_API_KEY and whether it is a string (it is
// usually null).
func (f *AuthFile) OpenAIAPIKey() (Secret, bool) {
	raw, ok := f.member(memberOpenAIAPIKey)
	if !ok {
		return Secret{}, false
	}
	s, ok := strictjson.String(raw)
	return NewSecret(s), ok
}

// PersonalAccessToken returns personal_access_token, the personal access
// token `codex login --with-access-token` stores (docs/protocol.md#personal-access-tokens),
// and whether it is present and not empty. The package does not judge the
// token (package identity does, when it loads one); it never writes the
// member, and every rewrite keeps it byte for byte.
func (f *AuthFile) PersonalAccessToken() (Secret, bool) {
	raw, ok := f.member(memberPersonalAccessToken)
	if !ok {
		return Secret{}, false
	}
	s, ok := strictjson.String(raw)
	return NewSecret(s), ok && s != ""
}

// Tokens returns a copy of the ChatGPT login tokens, or nil when tokens is
// absent or null. The store never changes tokens; this is a read-only view.
func (f *AuthFile) Tokens() *Tokens {
	raw, ok := f.member(memberTokens)
	if !ok || strictjson.IsNull(raw) {
		return nil
	}
	t, err := parseTokens(raw)
	if err != nil {
		return nil // unreachable for a parsed file: validate checked it
	}
	return t
}

// AgentIdentityJWT returns agent_identity when it holds a standalone JWT
// string, else the zero Secret.
func (f *AuthFile) AgentIdentityJWT() Secret {
	raw, ok := f.member(memberAgentIdentity)
	if !ok {
		return Secret{}
	}
	s, _ := strictjson.String(raw)
	return NewSecret(s)
}

// AgentIdentityRecord returns a copy of agent_identity when it holds a
// record registered through ChatGPT auth, else nil. Unknown members of the
// record travel with the copy, so passing it back to SetAgentIdentityRecord
// keeps them.
func (f *AuthFile) AgentIdentityRecord() *AgentIdentityRecord {
	raw, ok := f.member(memberAgentIdentity)
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	r, err := parseRecord(raw)
	if err != nil {
		return nil // unreachable for a parsed file: validate checked it
	}
	return r
}

// SetAgentIdentityJWT stores a standalone Agent Identity JWT in
// agent_identity, replacing any record. It does not verify the token (the
// caller does, before storing it) but refuses an empty token and text that
// is not UTF-8 or holds whitespace or control characters.
func (f *AuthFile) SetAgentIdentityJWT(token Secret) error {
	if token.IsZero() {
		return errors.New("codexhome: empty agent identity JWT")
	}
	for _, c := range []byte(token.Reveal()) {
		if c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: the token holds a character outside printable ASCII", ErrInvalidValue)
		}
	}
	f.setMember(memberAgentIdentity, strictjson.Quote(token.Reveal()))
	return nil
}

// SetAgentIdentityRecord stores r as the agent_identity record, replacing
// any JWT or record. When r came from AgentIdentityRecord, its unknown
// members and member order are kept and unchanged members keep their exact
// bytes. It refuses a record without a runtime id or private key and
// strings that are not valid UTF-8.
func (f *AuthFile) SetAgentIdentityRecord(r *AgentIdentityRecord) error {
	if r == nil {
		return errors.New("codexhome: nil agent identity record")
	}
	raw, err := r.encode()
	if err != nil {
		return err
	}
	f.setMember(memberAgentIdentity, raw)
	return nil
}

// ClearAgentIdentity removes agent_identity.
func (f *AuthFile) ClearAgentIdentity() { f.removeMember(memberAgentIdentity) }

// memberNames returns the top-level member names in file order.
func (f *AuthFile) memberNames() []string {
	names := make([]string, len(f.list().members))
	for i, m := range f.list().members {
		names[i] = m.Name
	}
	return names
}

// Marshal returns the file as the Codex CLI writes it: pretty-printed JSON
// with a two-space indent, members in order, OPENAI_API_KEY written as null
// when absent. Values that were not changed keep their exact bytes.
//
// The bytes are the file itself, its tokens and keys in the clear (the one
// place the package hands them out unwrapped, as ParseAuthFile takes them):
// write them where auth.json goes (Store.Update does), never into a log,
// an error or output.
func (f *AuthFile) Marshal() ([]byte, error) {
	members := f.list().members
	if _, ok := f.member(memberOpenAIAPIKey); !ok {
		members = insertMember(append([]strictjson.Member(nil), members...), strictjson.Member{Name: memberOpenAIAPIKey, Raw: json.RawMessage("null")}, topLevelOrder)
	}
	compact := strictjson.Build(members)
	var out bytes.Buffer
	out.Grow(len(compact) * 2)
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("codexhome: encode auth.json: %w", err)
	}
	return out.Bytes(), nil
}

// clone returns a deep copy, so a failed Update leaves no trace.
func (f *AuthFile) clone() *AuthFile {
	c := &AuthFile{exists: f.exists, dirty: f.dirty, m: secret.NewBox(memberList{members: make([]strictjson.Member, len(f.list().members))})}
	for i, m := range f.list().members {
		c.m.Get().members[i] = strictjson.Member{Name: m.Name, Raw: append(json.RawMessage(nil), m.Raw...)}
	}
	return c
}

// memberList is the content of an AuthFile.
type memberList struct{ members []strictjson.Member }

// list returns the members, creating the empty list of a zero AuthFile.
func (f *AuthFile) list() *memberList {
	if f.m.Get() == nil {
		f.m = secret.NewBox(memberList{})
	}
	return f.m.Get()
}

// Tokens is the ChatGPT login state in auth.json's tokens member, as
// AuthFile.Tokens reads it and AuthFile.SetRefreshedTokens updates it. The
// tokens are Secrets: formatting a Tokens with fmt or slog prints
// "[REDACTED]" for each of them, and the account id.
type Tokens struct {
	IDToken      Secret // tokens.id_token
	AccessToken  Secret // tokens.access_token
	RefreshToken Secret // tokens.refresh_token
	AccountID    string // tokens.account_id
}

func parseTokens(raw json.RawMessage) (*Tokens, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, wrongType(memberTokens, raw, "an object or null")
	}
	members, err := strictjson.Members(raw)
	if err != nil {
		return nil, corrupt("member %q: %v", memberTokens, err)
	}
	t := &Tokens{}
	for _, m := range members {
		switch m.Name {
		case "id_token", "access_token", "refresh_token", "account_id":
		default:
			continue
		}
		if strictjson.IsNull(m.Raw) {
			continue
		}
		s, ok := strictjson.String(m.Raw)
		if !ok {
			return nil, wrongType(memberTokens+"."+m.Name, m.Raw, "a string or null")
		}
		switch m.Name {
		case "id_token":
			t.IDToken = NewSecret(s)
		case "access_token":
			t.AccessToken = NewSecret(s)
		case "refresh_token":
			t.RefreshToken = NewSecret(s)
		case "account_id":
			t.AccountID = s
		}
	}
	return t, nil
}
