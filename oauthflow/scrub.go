package oauthflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
	"unicode"
)

// MaxProviderText is how many characters of a provider's (or an API's) text
// Airlock keeps in a message.
const MaxProviderText = 300

// redacted replaces a secret in provider text.
const redacted = "[redacted]"

// Secrets are the values in play in an exchange with a provider: none of
// them, in any encoding a provider may echo, may reach a message.
type Secrets struct {
	// ClientID is not a secret itself; with ClientSecret it makes the HTTP
	// Basic value, which is.
	ClientID     string
	ClientSecret string
	// Values are the other secrets: access and refresh tokens, the
	// authorization code, the PKCE verifier.
	Values []string
}

// SecretsFor are the secrets of an integration and an account's token set:
// the client secret (and its HTTP Basic value) with the account's values
// filled in, the access and refresh tokens.
func SecretsFor(in Integration, values map[string]string, t Token) Secrets {
	id, err := Expand(in.OAuth2.ClientID, values)
	if err != nil {
		id = in.OAuth2.ClientID
	}
	secret, err := Expand(in.OAuth2.ClientSecret, values)
	if err != nil || secret == "" {
		secret = in.OAuth2.ClientSecret
	}
	s := Secrets{ClientID: id, ClientSecret: secret, Values: []string{t.AccessToken, t.RefreshToken}}
	if secret != in.OAuth2.ClientSecret { // the template itself may be all secret
		s.Values = append(s.Values, in.OAuth2.ClientSecret)
	}
	return s
}

// ScrubProviderText is the one way provider text becomes safe to store,
// show, log or send: the Client passes every piece of a token or revocation
// endpoint's answer that reaches a TokenError through it (code, description,
// field names, the start of the body), and the callback its error,
// error_description and iss, so that last_error, activity, alerts, webhooks,
// logs and the health check detail — which quote only those errors and
// Airlock's own words — never carry a secret. It removes every secret in s in every
// encoding a provider might echo it in (raw, query-escaped, path-escaped,
// JSON-escaped, and the HTTP Basic value: base64 of the form-encoded
// "id:secret" and of the raw pair, padded or not), turns control and
// invisible format characters into spaces, and keeps at most
// MaxProviderText characters. Secrets shorter than 3 characters are left
// alone: removing them would garble the text and they protect nothing.
func ScrubProviderText(text string, s Secrets) string {
	return scrubN(text, s.forms(), MaxProviderText)
}

// scrubN removes the forms, then turns control characters into spaces and
// removes them again, then caps the text at max characters — last, so no
// cut leaves part of a secret. A text that hides a secret by splitting it
// with control or invisible characters loses those characters instead.
func scrubN(text string, forms []string, max int) string {
	text = removeForms(text, forms)
	if glued := stripInvisible(text); glued != text && removeForms(glued, forms) != glued {
		text = glued
	}
	text = sanitize(text, len(text)+1)
	text = removeForms(text, forms)
	return sanitize(text, max)
}

// stripInvisible drops control and invisible format characters.
func stripInvisible(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

func removeForms(text string, forms []string) string {
	for _, f := range forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, redacted)
		}
	}
	return text
}

// forms lists every encoding of every secret, longest first, so that a
// longer form is removed before a shorter one inside it.
func (s Secrets) forms() []string {
	base := append([]string{s.ClientSecret}, s.Values...)
	if s.ClientSecret != "" {
		for _, pair := range []string{url.QueryEscape(s.ClientID) + ":" + url.QueryEscape(s.ClientSecret), s.ClientID + ":" + s.ClientSecret} {
			base = append(base, base64.StdEncoding.EncodeToString([]byte(pair)), base64.RawStdEncoding.EncodeToString([]byte(pair)),
				base64.URLEncoding.EncodeToString([]byte(pair)))
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, v := range base {
		if len(v) < 3 {
			continue
		}
		for _, f := range encodings(v) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// encodings are the ways a value can appear in a body, a URL or JSON text.
func encodings(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if jsonPlain(v) {
		// What the encoder below would give, without running it: it showed
		// in the trace writer's profile (every form of every secret, the
		// Basic pairs' too, for every traced token call).
		slashed := strings.ReplaceAll(v, "/", `\/`)
		return append(out, v, slashed, v, slashed)
	}
	for _, html := range []bool{false, true} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			j := strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)
			j = strings.TrimPrefix(j, `"`)
			out = append(out, j, strings.ReplaceAll(j, "/", `\/`)) // PHP escapes slashes
		}
	}
	return out
}

// jsonPlain reports whether JSON writes v as it is, HTML escaping or not:
// printable ASCII without quote, backslash, <, > or &.
func jsonPlain(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// scrubError scrubs the provider text a TokenError carries.
func scrubError(err error, forms []string) error {
	var te *TokenError
	if !errors.As(err, &te) {
		return err
	}
	te.Description = scrubN(te.Description, forms, MaxProviderText)
	te.BodyStart = scrubN(te.BodyStart, forms, bodyStartLen)
	return err
}
