package codexhome

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agentidentity/agentidentity/internal/strictjson"
)

// SetRefreshedTokens stores the tokens a ChatGPT token refresh answered with
// (POST https://auth.openai.com/oauth/token) inside the tokens member, as the
// Codex CLI's persist_tokens does: id_token, access_token and refresh_token
// are replaced by the non-empty values of t (an empty one leaves the stored
// value as it is), account_id and every other member of tokens keep their
// place and their exact bytes, and last_refresh is set to at (in UTC, RFC
// 3339 with a "Z" and the fewest of 0, 3, 6 or 9 fractional digits that hold
// it, as the Codex CLI writes it). Every other member of the file is kept as
// it is.
//
// A refresh does not change the account: t.AccountID is not written, and
// must be empty or the stored account_id. It refuses, with an error wrapping
// ErrInvalidValue, a file without a tokens object (there is no login to
// refresh), another t.AccountID, a token holding anything but printable
// ASCII, and an id token that ChatGPTLogin would refuse.
func (f *AuthFile) SetRefreshedTokens(t Tokens, at time.Time) error {
	raw, ok := f.member(memberTokens)
	if !ok || strictjson.IsNull(raw) || len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: auth.json holds no ChatGPT login (tokens) to refresh", ErrInvalidValue)
	}
	members, err := strictjson.Members(raw)
	if err != nil {
		return corrupt("member %q: %v", memberTokens, err)
	}
	if t.AccountID != "" {
		if cur, err := parseTokens(raw); err != nil || cur.AccountID != t.AccountID {
			return fmt.Errorf("%w: a token refresh cannot change tokens.account_id", ErrInvalidValue)
		}
	}
	for _, v := range []struct {
		name  string
		value Secret
	}{
		{"id_token", t.IDToken},
		{"access_token", t.AccessToken},
		{"refresh_token", t.RefreshToken},
	} {
		if v.value.IsZero() {
			continue
		}
		// The tokens are sent as HTTP header values and the id token is
		// decoded by ChatGPTLogin: refuse what those readers would refuse,
		// so a bad refresh answer cannot leave a login that no longer loads.
		for _, c := range []byte(v.value.Reveal()) {
			if c <= ' ' || c >= 0x7f {
				return fmt.Errorf("%w: %s.%s holds a character outside printable ASCII", ErrInvalidValue, memberTokens, v.name)
			}
		}
		if v.name == "id_token" {
			if _, err := decodeIDTokenClaims(v.value.Reveal()); err != nil {
				// Not ErrCorruptAuthFile: the file on disk is fine.
				return fmt.Errorf("%w: the new %s", ErrInvalidValue, strings.TrimPrefix(err.Error(), ErrCorruptAuthFile.Error()+": "))
			}
		}
		members = setIn(members, v.name, strictjson.Quote(v.value.Reveal()))
	}
	f.setMember(memberTokens, strictjson.Build(members))
	f.setMember(memberLastRefresh, strictjson.Quote(formatLastRefresh(at)))
	return nil
}

// tokensOrder is the order in which the Codex CLI writes the members of
// tokens; a member that was absent is inserted at its place.
var tokensOrder = []string{"id_token", "access_token", "refresh_token", "account_id"}

// setIn replaces the value of name in members, or inserts it at the place
// tokensOrder gives it.
func setIn(members []strictjson.Member, name string, raw json.RawMessage) []strictjson.Member {
	for i := range members {
		if members[i].Name == name {
			members[i].Raw = raw
			return members
		}
	}
	return insertMember(members, strictjson.Member{Name: name, Raw: raw}, tokensOrder)
}

// formatLastRefresh formats t as the Codex CLI writes last_refresh (a
// chrono DateTime<Utc> through serde): RFC 3339 in UTC with a "Z", and 0, 3,
// 6 or 9 fractional digits, the fewest that hold t exactly
// ("2025-08-06T20:41:36.232376Z").
func formatLastRefresh(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1_000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// LastRefresh returns last_refresh, the time of the login's last token
// refresh, and whether it is present and a valid RFC 3339 time. It is false
// for an absent or null member and for text that does not parse.
func (f *AuthFile) LastRefresh() (time.Time, bool) {
	s := f.stringMember(memberLastRefresh)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
