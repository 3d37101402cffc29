package fakeprovider

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// APIEcho is the body of a successful protected API answer: what the API
// received, minus the credentials (the token header or query parameter,
// Authorization, Proxy-Authorization and Cookie), so that an echo stored or
// shown by Airlock never carries a secret into a leak test's haystack.
type APIEcho struct {
	OK          bool              `json:"ok"`           // always true
	Method      string            `json:"method"`       // the HTTP method
	Path        string            `json:"path"`         // the full path, /api/…
	TokenSuffix string            `json:"token_suffix"` // the access token's last 4 characters
	Headers     map[string]string `json:"headers"`      // canonical name → values joined with ", "
	Query       map[string]string `json:"query"`        // name → values joined with ","
	Body        string            `json:"body"`         // the request body, up to 1 MiB
}

// APIRequest is one request received by the protected API, credentials
// included, for assertions.
type APIRequest struct {
	Method string      // the HTTP method
	Path   string      // the full path, /api/…
	Header http.Header // a copy of the request headers
	Query  url.Values  // the URL query
	Body   string      // the request body, up to 1 MiB
}

// apiTokenConfig says where the API looks for the access token.
type apiTokenConfig struct {
	name   string
	in     string // InHeader or InQuery
	prefix string // required before the token in a header, when strict
	strict bool   // false: a header may hold the bare token or "<scheme> <token>"
}

func defaultAPIToken() apiTokenConfig {
	return apiTokenConfig{name: "Authorization", in: InHeader, prefix: "Bearer ", strict: true}
}

// extract returns the token and whether any credential was presented at all.
func (c apiTokenConfig) extract(r *http.Request) (string, bool) {
	if c.in == InQuery {
		v := r.URL.Query().Get(c.name)
		return v, v != ""
	}
	v := r.Header.Get(c.name)
	if v == "" {
		return "", false
	}
	if c.strict {
		if len(v) < len(c.prefix) || !strings.EqualFold(v[:len(c.prefix)], c.prefix) {
			return "", true
		}
		return v[len(c.prefix):], true
	}
	if scheme, tok, ok := strings.Cut(v, " "); ok && scheme != "" {
		return tok, true
	}
	return v, true
}

// handleAPI is the protected API: every path under /api/.
func (p *Provider) handleAPI(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	cfg, fail, location := p.recordAPI(r, string(body))
	if fail != 0 {
		if fail == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		writeJSON(w, fail, map[string]any{"error": "injected_failure", "status": fail})
		return
	}
	if location != "" {
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	tok, presented := cfg.extract(r)
	if !presented {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fakeprovider"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized",
			"error_description": fmt.Sprintf("No access token in the %s %s", cfg.name, cfg.in)})
		return
	}
	p.mu.Lock()
	ok, why := p.validAccessLocked(tok)
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token", "error_description": why})
		return
	}
	writeJSON(w, http.StatusOK, APIEcho{
		OK:          true,
		Path:        r.URL.Path,
		Method:      r.Method,
		TokenSuffix: last4(tok),
		Headers:     echoHeaders(r.Header, cfg),
		Query:       echoQuery(r.URL.Query(), cfg),
		Body:        string(body),
	})
}

// recordAPI counts and records the call and returns the token placement,
// an injected failure status (0: none) and a configured redirect ("": none).
func (p *Provider) recordAPI(r *http.Request, body string) (apiTokenConfig, int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.api++
	p.lastAPI = APIRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(),
		Query: r.URL.Query(), Body: body}
	if p.apiFail.n > 0 {
		p.apiFail.n--
		return p.apiToken, p.apiFail.status, ""
	}
	return p.apiToken, 0, p.redirects[r.URL.Path]
}

func echoHeaders(h http.Header, cfg apiTokenConfig) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		switch k {
		case "Authorization", "Proxy-Authorization", "Cookie":
			continue
		}
		if cfg.in == InHeader && k == http.CanonicalHeaderKey(cfg.name) {
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

func echoQuery(q url.Values, cfg apiTokenConfig) map[string]string {
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if cfg.in == InQuery && k == cfg.name {
			continue
		}
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func last4(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiPath turns "users/1", "/users/1" or "/api/users/1" into "/api/users/1".
func apiPath(path string) string {
	if strings.HasPrefix(path, "/api/") {
		return path
	}
	return "/api/" + strings.TrimPrefix(path, "/")
}
