package fakeprovider

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// authRequest is a validated authorization request.
type authRequest struct {
	clientID    string
	redirectURI string
	scope       string
	state       string
	challenge   string
	method      string // S256 or plain; "" when no challenge
}

var approvePage = template.Must(template.New("approve").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorize {{.ClientID}}</title></head>
<body>
<h1>Authorize access</h1>
<p>The application <strong>{{.ClientID}}</strong> asks for access{{if .Scope}} with scope <code>{{.Scope}}</code>{{end}}.</p>
<form method="post" action="/authorize/decision">
<input type="hidden" name="request" value="{{.RequestID}}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorization error</title></head>
<body><h1>Authorization error</h1><p id="error">{{.}}</p></body>
</html>
`))

// handleAuthorize shows the approve page, or an error page when the request
// cannot be trusted with a redirect (RFC 6749 §4.1.2.1).
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeErrorPage(w, http.StatusMethodNotAllowed, "The authorization endpoint accepts only GET")
		return
	}
	req, err := p.parseAuthorize(r.URL.Query())
	if err != nil {
		writeErrorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	if code, desc := p.authorizeRefusal(req); code != "" {
		redirect(w, p.callbackURL(req, url.Values{"error": {code}, "error_description": {desc}}))
		return
	}
	id := randomValue("req")
	p.mu.Lock()
	p.pending[id] = req
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = approvePage.Execute(w, map[string]string{"ClientID": req.clientID, "Scope": req.scope, "RequestID": id})
}

// handleDecision receives the approve page's form.
func (p *Provider) handleDecision(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeErrorPage(w, http.StatusMethodNotAllowed, "The decision endpoint accepts only POST")
		return
	}
	_ = r.ParseForm()
	id := r.PostForm.Get("request")
	p.mu.Lock()
	req, ok := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if !ok {
		writeErrorPage(w, http.StatusBadRequest, "Unknown or already answered authorization request")
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		redirect(w, p.approve(req))
	case "deny":
		redirect(w, p.deny(req))
	default:
		writeErrorPage(w, http.StatusBadRequest, "The decision must be approve or deny")
	}
}

// Approve does what a user clicking Approve does, without a browser: it
// validates authURL (which must point at this provider's /authorize), mints a
// code and returns the callback URL the browser would be redirected to, with
// code, state and iss. A request the provider answers with an error redirect
// (PKCE refused) returns that redirect URL and a nil error; one it answers
// with an error page returns the page's message as the error.
func (p *Provider) Approve(authURL string) (callbackURL string, err error) {
	req, err := p.parseAuthURL(authURL)
	if err != nil {
		return "", err
	}
	if code, desc := p.authorizeRefusal(req); code != "" {
		return p.callbackURL(req, url.Values{"error": {code}, "error_description": {desc}}), nil
	}
	return p.approve(req), nil
}

// Deny does what a user clicking Deny does, without a browser, and returns
// the callback URL with error=access_denied.
func (p *Provider) Deny(authURL string) (callbackURL string, err error) {
	req, err := p.parseAuthURL(authURL)
	if err != nil {
		return "", err
	}
	return p.deny(req), nil
}

func (p *Provider) parseAuthURL(authURL string) (authRequest, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return authRequest{}, fmt.Errorf("fakeprovider: parse authorization URL: %w", err)
	}
	if base := u.Scheme + "://" + u.Host + u.Path; base != p.AuthorizeURL() {
		return authRequest{}, fmt.Errorf("fakeprovider: authorization URL %q is not this provider's %q", base, p.AuthorizeURL())
	}
	return p.parseAuthorize(u.Query())
}

// parseAuthorize returns an error for a request that gets an error page and
// no redirect: unknown client, unusable redirect_uri, bad response_type.
func (p *Provider) parseAuthorize(q url.Values) (authRequest, error) {
	req := authRequest{
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		scope:       q.Get("scope"),
		state:       q.Get("state"),
		challenge:   q.Get("code_challenge"),
		method:      q.Get("code_challenge_method"),
	}
	if req.clientID != p.opts.ClientID {
		return req, fmt.Errorf("fakeprovider: unknown client_id %q", req.clientID)
	}
	u, err := url.Parse(req.redirectURI)
	if req.redirectURI == "" || err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return req, fmt.Errorf("fakeprovider: redirect_uri %q must be an absolute http(s) URL without fragment", req.redirectURI)
	}
	if rt := q.Get("response_type"); rt != "code" {
		return req, fmt.Errorf("fakeprovider: unsupported response_type %q: only \"code\" is supported", rt)
	}
	if req.challenge != "" && req.method == "" {
		req.method = "plain" // RFC 7636 §4.3
	}
	return req, nil
}

// authorizeRefusal is the error sent back to the client by redirect, if any.
func (p *Provider) authorizeRefusal(req authRequest) (code, desc string) {
	switch {
	case req.challenge == "" && p.opts.RequirePKCE:
		return "invalid_request", "code_challenge required (S256)"
	case req.challenge == "":
		return "", ""
	case req.method != "S256" && req.method != "plain":
		return "invalid_request", "transform algorithm not supported"
	case req.method != "S256" && p.opts.RequirePKCE:
		return "invalid_request", "code_challenge_method must be S256"
	case !validPKCEValue(req.challenge):
		return "invalid_request", "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]"
	}
	return "", ""
}

func (p *Provider) approve(req authRequest) string {
	code := randomValue("code")
	p.mu.Lock()
	p.codes[code] = &authCode{req: req, expires: p.now().Add(CodeTTL)}
	p.mu.Unlock()
	return p.callbackURL(req, url.Values{"code": {code}})
}

func (p *Provider) deny(req authRequest) string {
	return p.callbackURL(req, url.Values{
		"error":             {"access_denied"},
		"error_description": {"The user denied access"},
	})
}

// callbackURL adds params, state and iss to the redirect URI, keeping its own
// query (RFC 6749 §3.1.2).
func (p *Provider) callbackURL(req authRequest, params url.Values) string {
	u, err := url.Parse(req.redirectURI)
	if err != nil {
		return req.redirectURI // unreachable: parseAuthorize checked it
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	if p.opts.Issuer != "" {
		q.Set("iss", p.opts.Issuer)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

func writeErrorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, strings.TrimPrefix(msg, "fakeprovider: "))
}
