package oauthflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// bodyStartLen is how much of an unparseable answer an error quotes.
const bodyStartLen = 100

// maxExpiresIn caps expires_in (ten years): larger values, NaN or negative
// ones are treated as "unknown expiry" rather than overflowing a time.Time.
const maxExpiresIn = 10 * 365 * 24 * 3600

// tokenFields is a token answer reduced to the fields Airlock reads, whatever
// the encoding it came in.
type tokenFields struct {
	accessToken, refreshToken, tokenType string
	expiresIn, scope                     any // string, json.Number or []any
	expiresAt, refreshExpiresIn          any // string or json.Number
	errCode, errDescription              string
	hasError                             bool
	keys                                 []string // field names present, for messages
}

// ParseTokenResponse turns a token endpoint answer into a Token. It accepts
// JSON, form-encoded bodies (also GitHub-style form bodies labelled
// text/plain), expires_in as a number, string or decimal, and scopes
// separated by spaces or commas. Every failure is a *TokenError: an OAuth
// error body (even in a 200) carries its code, anything unreadable is quoted
// (sanitised, first 100 characters) unless it seems to contain a token.
// The caller caps the body size; any size is handled without panicking.
func ParseTokenResponse(status int, contentType string, body []byte, now time.Time) (Token, error) {
	return parseTokenResponse(status, contentType, body, now, sanitize, TokenResponsePaths{})
}

// parseTokenResponse is ParseTokenResponse with the function that makes
// provider text safe to quote (sanitize, or the client's scrub, which also
// removes the secrets it sent): every piece of the answer that reaches an
// error — code, description, field names, content type, body start — goes
// through clean whole, before any cut.
//
// paths say where the provider keeps the standard fields (issue 14).
func parseTokenResponse(status int, contentType string, body []byte, now time.Time, clean func(string, int) string, paths TokenResponsePaths) (Token, error) {
	ok := status >= 200 && status < 300
	f, perr := decodeTokenBody(contentType, body, paths)
	if perr != nil {
		te := &TokenError{Kind: statusKind(status), Status: status, Description: clean(perr.Error(), MaxProviderText)}
		if ok { // a 2xx that is not a token: probably the wrong URL
			te.Kind, te.Description = KindConfig, te.Description+": check the token URL"
		}
		if !mentionsToken(body) {
			te.BodyStart = clean(string(bytes.TrimSpace(body)), bodyStartLen)
		}
		return Token{}, te
	}
	if f.hasError {
		return Token{}, &TokenError{Kind: kindFor(status, f.errCode), Code: clean(f.errCode, 80),
			Description: clean(f.errDescription, MaxProviderText), Status: status}
	}
	if !ok {
		te := &TokenError{Kind: statusKind(status), Status: status,
			Description: "the answer has no OAuth error code"}
		if !mentionsToken(body) {
			te.BodyStart = clean(string(bytes.TrimSpace(body)), bodyStartLen)
		}
		return Token{}, te
	}
	if f.accessToken == "" {
		keys := make([]string, len(f.keys))
		for i, k := range f.keys {
			keys[i] = clean(k, 40)
		}
		return Token{}, &TokenError{Kind: KindConfig, Status: status,
			Description: fmt.Sprintf("the answer has no access_token (fields: %s)", strings.Join(keys, ", "))}
	}
	t := Token{
		AccessToken:  f.accessToken,
		RefreshToken: f.refreshToken,
		TokenType:    f.tokenType,
		Scopes:       parseScopes(f.scope),
		ObtainedAt:   now,
	}
	t.Expiry = f.expiry(now, paths.ExpiresAtFormat)
	if secs, ok := parseExpiresIn(f.refreshExpiresIn); ok {
		t.RefreshExpiry = now.Add(time.Duration(secs * float64(time.Second)))
	}
	return t, nil
}

// decodeTokenBody chooses JSON or form decoding from the body's first
// character and the content type; anything else is an error.
func decodeTokenBody(contentType string, body []byte, paths TokenResponsePaths) (tokenFields, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\ufeff"))) // some servers send a BOM
	switch {
	case len(trimmed) == 0:
		return tokenFields{}, fmt.Errorf("the answer is empty")
	case trimmed[0] == '{':
		return decodeJSONToken(trimmed, paths)
	case trimmed[0] == '<':
		return tokenFields{}, fmt.Errorf("the answer is HTML or XML, not a token")
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return tokenFields{}, fmt.Errorf("the answer is labelled %s but is not a JSON object", mt)
	}
	if f, ok := decodeFormToken(string(trimmed), paths); ok {
		return f, nil
	}
	if mt == "" {
		mt = "no content type"
	}
	return tokenFields{}, fmt.Errorf("the answer (%s) is neither JSON nor a form-encoded token", mt)
}

// decodeJSONToken reads a JSON object; numbers stay json.Number so that
// expires_in keeps its exact text.
func decodeJSONToken(body []byte, paths TokenResponsePaths) (tokenFields, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return tokenFields{}, fmt.Errorf("the answer is not valid JSON (%v)", err)
	}
	f := standardFields(m, paths)
	f.errCode, f.errDescription, f.hasError = jsonError(m)
	return f, nil
}

// jsonError finds an OAuth error: "error" as a string (RFC 6749 §5.2) or, as
// some providers send, an object with code/status and message.
func jsonError(m map[string]any) (code, desc string, ok bool) {
	desc, _ = m["error_description"].(string)
	switch e := m["error"].(type) {
	case string:
		return e, desc, e != ""
	case map[string]any:
		code, _ = e["code"].(string)
		if code == "" {
			code, _ = e["status"].(string)
		}
		if msg, _ := e["message"].(string); msg != "" {
			desc = msg
		}
		if code == "" {
			code = "error"
		}
		return code, desc, true
	}
	return "", "", false
}

// decodeFormToken reads an application/x-www-form-urlencoded answer; it only
// counts as one when it has an access token (where the paths say) or an error
// field.
func decodeFormToken(body string, paths TokenResponsePaths) (tokenFields, bool) {
	if strings.ContainsAny(body, " \t\r\n") {
		return tokenFields{}, false
	}
	v, _ := url.ParseQuery(body) // keep the pairs that parsed
	m := make(map[string]any, len(v))
	for k, vals := range v {
		m[k] = vals[0]
	}
	f := standardFields(m, paths)
	if f.accessToken == "" && v.Get("error") == "" {
		return tokenFields{}, false
	}
	f.errCode, f.errDescription, f.hasError = v.Get("error"), v.Get("error_description"), v.Get("error") != ""
	return f, true
}

// parseExpiresIn accepts a JSON number or a string holding one, decimals
// included; false means unknown (missing, zero, negative, absurd, unreadable).
func parseExpiresIn(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 || secs > maxExpiresIn {
		return 0, false
	}
	return secs, true
}

// parseScopes splits a scope string on spaces and commas; a JSON array of
// strings is accepted too. Nil means the answer gave no scope.
func parseScopes(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mentionsToken reports whether an unreadable body seems to hold a token, in
// which case it is not quoted in an error (errors end up in logs and the UI).
func mentionsToken(body []byte) bool {
	return bytes.Contains(body, []byte("access_token")) || bytes.Contains(body, []byte("refresh_token")) ||
		bytes.Contains(body, []byte("id_token"))
}

// sanitize makes provider text safe to show: valid UTF-8, control characters
// and invisible format characters (bidi overrides) turned into spaces, runs
// of spaces collapsed, at most max characters.
func sanitize(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
