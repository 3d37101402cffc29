package oauthflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// maskDots begins every masked value.
const maskDots = "••••"

// Mask is how a secret appears in a trace: •••• and its last 4 characters,
// or •••• alone for a value under 12 characters (its last 4 would give away
// too much of it).
func Mask(v string) string {
	if utf8.RuneCountInString(v) < 12 {
		return maskDots
	}
	r := []rune(v)
	return maskDots + string(r[len(r)-4:])
}

// sensitiveName reports whether a form, query or JSON field (or a header)
// named so holds a secret: a name ending in token, secret, password, code or
// assertion, the PKCE verifier and the state.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, suffix := range []string{"token", "secret", "password", "code", "assertion", "verifier"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return n == "state"
}

// masker masks the secrets of one exchange wherever they appear.
type masker struct {
	forms []string          // every encoding of every secret, longest first
	as    map[string]string // a form → the mask of its secret
}

// newMasker knows s's secrets: the client secret, the HTTP Basic value of
// id and secret, and the tokens, code and verifier in play.
func newMasker(s Secrets) *masker {
	m := &masker{as: map[string]string{}}
	add := func(raw, masked string) {
		if len(raw) < 3 {
			return
		}
		for _, f := range encodings(raw) {
			if _, ok := m.as[f]; !ok {
				m.as[f] = masked
				m.forms = append(m.forms, f)
			}
		}
	}
	if s.ClientSecret != "" {
		for _, pair := range []string{url.QueryEscape(s.ClientID) + ":" + url.QueryEscape(s.ClientSecret), s.ClientID + ":" + s.ClientSecret} {
			for _, b := range []string{base64.StdEncoding.EncodeToString([]byte(pair)), base64.RawStdEncoding.EncodeToString([]byte(pair)),
				base64.URLEncoding.EncodeToString([]byte(pair))} {
				add(b, Mask(b))
			}
		}
		add(s.ClientSecret, Mask(s.ClientSecret))
	}
	for _, v := range s.Values {
		add(v, Mask(v))
	}
	sort.SliceStable(m.forms, func(i, j int) bool { return len(m.forms[i]) > len(m.forms[j]) })
	return m
}

// text masks every known secret in s.
func (m *masker) text(s string) string {
	for _, f := range m.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, m.as[f])
		}
	}
	return s
}

// query masks the values of sensitive parameters, then any known secret;
// masked values are written as they are (not escaped) so they stay readable.
func (m *masker) query(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return m.text(raw)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=")
			if sensitiveName(k) && v != "" {
				b.WriteString(Mask(v))
				continue
			}
			b.WriteString(m.text(url.QueryEscape(v)))
		}
	}
	return b.String()
}

// url masks a URL's query and user info.
func (m *masker) url(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.RawQuery
	c.RawQuery = ""
	s := m.text(c.String())
	if q != "" {
		s += "?" + m.query(q)
	}
	return s
}

// headers masks the Authorization value (its scheme kept), cookies and any
// header whose name says it holds a secret.
func (m *masker) headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		switch ck := http.CanonicalHeaderKey(k); {
		case ck == "Authorization" || ck == "Proxy-Authorization":
			if scheme, cred, ok := strings.Cut(v, " "); ok {
				v = scheme + " " + Mask(strings.TrimSpace(cred))
			} else {
				v = Mask(v)
			}
		case ck == "Cookie" || ck == "Set-Cookie" || sensitiveName(ck):
			v = Mask(v)
		default:
			v = m.text(v)
		}
		out[k] = v
	}
	return out
}

// body masks a request or response body: the sensitive fields of a JSON
// document or a form, then any known secret.
func (m *masker) body(b []byte, contentType string) string {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return ""
	}
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "json") || trimmed[0] == '{' || trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) == nil && !dec.More() {
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			if enc.Encode(maskJSON(doc)) == nil {
				return m.text(strings.TrimSpace(out.String()))
			}
		}
	}
	if strings.Contains(ct, "x-www-form-urlencoded") {
		return m.query(string(b))
	}
	return m.text(string(b))
}

// maskJSON masks the string (and number) values of sensitive fields at any depth.
func maskJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch s := e.(type) {
			case string:
				if sensitiveName(k) && s != "" {
					x[k] = Mask(s)
				}
			case json.Number:
				if sensitiveName(k) {
					x[k] = Mask(s.String())
				}
			default:
				x[k] = maskJSON(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = maskJSON(e)
		}
	}
	return v
}

// request is req as a trace shows it, masked. Its body is read through
// GetBody, so what is sent is untouched.
func (m *masker) request(req *http.Request) TraceRequest {
	return m.requestParts(req.Method, req.URL, req.Header, requestBody(req))
}

// requestParts is a request as a trace shows it, masked.
func (m *masker) requestParts(method string, u *url.URL, h http.Header, body []byte) TraceRequest {
	return TraceRequest{Method: method, URL: m.url(u), Headers: m.headers(h), Body: m.body(body, h.Get("Content-Type"))}
}

// requestBody is req's body as sent (up to 4 × MaxTraceBody), read through
// GetBody so that what is sent is untouched.
func requestBody(req *http.Request) []byte {
	if req.GetBody == nil {
		return nil
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, MaxTraceBody*4))
	return b
}

// response is an answer as a trace shows it: masked first, then cut at
// MaxTraceBody, so no cut leaves part of a secret.
func (m *masker) response(status int, h http.Header, body []byte) *TraceResponse {
	r := &TraceResponse{Status: status, Headers: m.headers(h), Body: m.body(body, h.Get("Content-Type"))}
	if len(r.Body) > MaxTraceBody {
		cut := MaxTraceBody
		for cut > 0 && !utf8.RuneStart(r.Body[cut]) {
			cut--
		}
		r.Body, r.BodyTruncated = r.Body[:cut], true
	}
	return r
}
