package oauthflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strings"
)

// Where a captured value or the identity is read.
const (
	FromTokenResponse = "token_response"
	FromCallback      = "callback"
	FromUserinfo      = "userinfo"
	FromIDToken       = "id_token" // identity only: the claims of the ID token
)

// Capture keeps a value from a provider's answer on the account, usable as
// {Name} in every field like a parameter. A capture that lands in a host or
// stands for an origin must list AllowedHosts: exact host names, IP
// literals or "*.suffix" patterns; a value outside them is never stored.
type Capture struct {
	Name         string   `json:"name"`
	From         string   `json:"from"` // token_response, callback or userinfo
	Path         string   `json:"path"` // a JSON path (a.b, a[0].b); for callback, the query parameter
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
}

// Identity says where an account's identity at the provider is read.
type Identity struct {
	From string `json:"from"` // token_response, id_token, userinfo or callback
	Path string `json:"path"`
}

// Values are the account's parameter values and captured values together:
// what fills {name} placeholders. Validation keeps the names apart.
func (a Account) Values() map[string]string {
	if len(a.Captured) == 0 {
		return a.Parameters
	}
	m := maps.Clone(a.Captured)
	maps.Copy(m, a.Parameters)
	return m
}

// answers are what the provider said during one connect or refresh.
type answers struct {
	token    map[string]any
	callback url.Values
	userinfo any
}

// text reads path from the answer named from.
func (s answers) text(from, path string) (string, bool) {
	switch from {
	case FromCallback:
		v := s.callback.Get(path)
		return v, v != ""
	case FromTokenResponse:
		if s.token == nil {
			return "", false
		}
		return pathText(s.token, path)
	case FromUserinfo:
		if s.userinfo == nil {
			return "", false
		}
		return pathText(s.userinfo, path)
	case FromIDToken:
		raw, _ := s.token["id_token"].(string)
		claims, ok := idTokenClaims(raw)
		if !ok {
			return "", false
		}
		return pathText(claims, path)
	}
	return "", false
}

// captureError refuses a captured value outside its allowed hosts.
type captureError struct {
	name, host string
	why        string // set when the value is not a usable origin at all
	allowed    []string
}

func (e *captureError) Error() string {
	if e.why != "" {
		return fmt.Sprintf("capture %s: the provider gave a value with host %q that is not a usable origin (%s); "+
			"Airlock did not store it and sent nothing there", e.name, e.host, e.why)
	}
	return fmt.Sprintf("capture %s: the provider gave a value with host %q, which is not among its allowed hosts (%s); "+
		"Airlock did not store it and sent nothing there. If this host is genuine, an admin must add it to the capture's allowed_hosts",
		e.name, e.host, strings.Join(e.allowed, ", "))
}

// takeCaptures reads the integration's captures from the given sources in
// ans: the values found (host-checked, normalized), or a *captureError for
// the first value outside its allowed hosts.
func takeCaptures(in Integration, ans answers, froms ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range in.OAuth2.Capture {
		if !containsString(froms, c.From) {
			continue
		}
		v, ok := ans.text(c.From, c.Path)
		if !ok {
			continue
		}
		v, err := checkCaptured(c, v)
		if err != nil {
			return nil, err
		}
		out[c.Name] = v
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkCaptured checks a value against the capture's allowed hosts (none:
// any value, as the capture lands only in paths and queries) and returns it
// normalized: an origin as scheme://host[:port].
func checkCaptured(c Capture, v string) (string, error) {
	if len(c.AllowedHosts) == 0 {
		return v, nil
	}
	host := v
	if strings.Contains(v, "://") {
		origin, err := parseOrigin(v)
		if err != nil {
			if u, perr := url.Parse(v); perr == nil && u.Hostname() != "" {
				host = u.Hostname()
			}
			return "", &captureError{name: c.Name, host: host, why: err.Error(), allowed: c.AllowedHosts}
		}
		v, host = origin.Scheme+"://"+origin.Host, origin.Hostname()
	}
	if !hostChars(host) && net.ParseIP(host) == nil || !hostAllowed(host, c.AllowedHosts) {
		return "", &captureError{name: c.Name, host: host, allowed: c.AllowedHosts}
	}
	return v, nil
}

// hostAllowed reports whether host matches one of the patterns: an exact
// host name or IP literal, or "*.suffix" for any name under suffix (not
// suffix itself).
func hostAllowed(host string, patterns []string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range patterns {
		p = strings.ToLower(p)
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if ip := net.ParseIP(p); ip != nil {
			if hip := net.ParseIP(host); hip != nil && hip.Equal(ip) {
				return true
			}
			continue
		}
		if host == p {
			return true
		}
	}
	return false
}

// decodeAnswer decodes a token answer for captures and identity: a JSON
// value, or a form body as a flat object; nil when neither.
func decodeAnswer(contentType string, body []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) == nil {
		return m
	}
	if strings.Contains(contentType, "json") {
		return nil
	}
	q, err := url.ParseQuery(string(bytes.TrimSpace(body)))
	if err != nil || len(q) == 0 {
		return nil
	}
	m = map[string]any{}
	for k := range q {
		m[k] = q.Get(k)
	}
	return m
}

// idTokenClaims decodes the claims of a JWT without checking its
// signature: it came from the token endpoint over TLS, which is what
// OpenID Connect Core §3.1.3.7 lets a confidential client rely on.
func idTokenClaims(raw string) (map[string]any, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil, false
	}
	return m, true
}
