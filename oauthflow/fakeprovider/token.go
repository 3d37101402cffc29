package fakeprovider

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody caps what the fake reads from a request body.
const maxBody = 1 << 20

// TokenRequest is one request received by the token endpoint, secrets
// included, for assertions.
type TokenRequest struct {
	// Method is the HTTP method.
	Method string
	// Form holds the parameters: the body for POST, the query for GET.
	Form url.Values
	// Extra holds the parameters beyond the standard ones of RFC 6749 and
	// RFC 7636 (e.g. audience), so tests can assert that they were sent.
	Extra url.Values
	// BasicUser and BasicPassword are the HTTP Basic credentials as sent,
	// before form-url-decoding, so a test can check the encoding.
	BasicUser, BasicPassword string
	// Header is a copy of the request headers.
	Header http.Header
	// At is when the request arrived, by Options.Clock.
	At time.Time
	// Chain identifies the grant a refresh request's refresh token belongs
	// to (see ChainOf); 0 for other grants and unknown tokens.
	Chain int
}

var standardTokenParams = map[string]bool{
	"grant_type": true, "code": true, "redirect_uri": true, "code_verifier": true,
	"refresh_token": true, "scope": true, "client_id": true, "client_secret": true,
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	form := tokenParams(r)
	grant := form.Get("grant_type")
	f, injected := p.recordToken(newTokenRequest(r, form), grant)
	if fault := p.currentFault(); fault != nil && p.serveFault(w, r, fault, func(w http.ResponseWriter, r *http.Request) {
		p.answerToken(w, r, form, grant)
	}) {
		return
	}
	if injected {
		writeInjected(w, f.status, f.body)
		return
	}
	p.answerToken(w, r, form, grant)
}

// answerToken checks the method and the client, then runs the grant.
func (p *Provider) answerToken(w http.ResponseWriter, r *http.Request, form url.Values, grant string) {
	if p.opts.EchoCredentials {
		p.echoCredentials(w, r, form)
		return
	}
	want := http.MethodPost
	if p.opts.RequireGET {
		want = http.MethodGet
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		p.writeTokenError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request",
			"The token endpoint accepts only " + want}, false)
		return
	}
	if e, challenge := p.authenticateClient(r, form); e != nil {
		if grant == "authorization_code" {
			p.mu.Lock()
			p.burnCodeLocked(form.Get("code"))
			p.mu.Unlock()
		}
		p.writeTokenError(w, e, challenge)
		return
	}
	res, e := p.grant(grant, form)
	switch grant {
	case "refresh_token":
		p.sleep(p.opts.RefreshDelay)
	case "authorization_code":
		p.sleep(p.opts.CodeDelay)
	}
	if e != nil {
		p.writeTokenError(w, e, false)
		return
	}
	p.writeTokens(w, res)
}

func (p *Provider) grant(grant string, form url.Values) (issued, *oauthError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res issued
	var e *oauthError
	switch grant {
	case "authorization_code":
		res, e = p.exchangeCodeLocked(form)
	case "refresh_token":
		res, e = p.refreshLocked(form)
	case "client_credentials":
		res, e = p.clientCredentialsLocked(form)
	case "":
		e = &oauthError{http.StatusBadRequest, "invalid_request", "Missing parameter: grant_type"}
	default:
		e = &oauthError{http.StatusBadRequest, "unsupported_grant_type",
			fmt.Sprintf("The grant_type %q is not supported", grant)}
	}
	if e != nil && e.code == "invalid_grant" {
		p.counts.invalidGrants++
	}
	return res, e
}

// tokenParams reads the parameters where the method puts them: the query for
// GET, the form body otherwise (a POST's query is not read, as on strict
// servers).
func tokenParams(r *http.Request) url.Values {
	if r.Method == http.MethodGet {
		return r.URL.Query()
	}
	if err := r.ParseForm(); err != nil {
		return url.Values{}
	}
	return r.PostForm
}

func newTokenRequest(r *http.Request, form url.Values) TokenRequest {
	tr := TokenRequest{Method: r.Method, Form: cloneValues(form), Extra: url.Values{}, Header: r.Header.Clone()}
	for k, vs := range form {
		if !standardTokenParams[k] {
			tr.Extra[k] = append([]string(nil), vs...)
		}
	}
	tr.BasicUser, tr.BasicPassword, _ = r.BasicAuth()
	return tr
}

// recordToken counts the request and consumes an injected failure, if any
// (none while a Fault is set: the Fault takes precedence).
func (p *Provider) recordToken(tr TokenRequest, grant string) (tokenFailure, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.token++
	p.counts.byGrant[grant]++
	tr.At = p.now()
	if rt := p.refresh[tr.Form.Get("refresh_token")]; rt != nil && grant == "refresh_token" {
		tr.Chain = rt.chain.id
	}
	p.tokenReqs = append(p.tokenReqs, tr)
	if p.tokenFail.n <= 0 || p.fault != nil {
		return tokenFailure{}, false
	}
	p.tokenFail.n--
	return p.tokenFail, true
}

// authenticateClient checks the client per Options.ClientAuth. The bool says
// whether to send a Basic challenge (RFC 6749 §5.2: when the client tried
// the Authorization header, or should have).
func (p *Provider) authenticateClient(r *http.Request, form url.Values) (*oauthError, bool) {
	user, pass, hasBasic := r.BasicAuth()
	if p.opts.ClientAuth == ClientAuthBody {
		if hasBasic {
			return invalidClient("This client must authenticate with client_id and client_secret in the request body, not HTTP Basic"), true
		}
		if !p.clientMatches(form.Get("client_id"), form.Get("client_secret")) {
			return invalidClient("Client authentication failed: wrong or missing client_id or client_secret"), false
		}
		return nil, false
	}
	if !hasBasic {
		if form.Has("client_secret") {
			return invalidClient("This client must authenticate with HTTP Basic, not client_secret in the request body"), true
		}
		return invalidClient("Client authentication failed: no HTTP Basic credentials"), true
	}
	if form.Has("client_secret") {
		return &oauthError{http.StatusBadRequest, "invalid_request", "The client used more than one authentication method"}, false
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil || !p.clientMatches(id, secret) {
		return invalidClient("Client authentication failed: wrong client id or secret (both are form-url-encoded before Basic encoding)"), true
	}
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return invalidClient("The client_id parameter does not match the authenticated client"), true
	}
	return nil, false
}

func (p *Provider) clientMatches(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(p.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) == 1
	return idOK && secretOK
}

func invalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}

func (p *Provider) writeTokenError(w http.ResponseWriter, e *oauthError, basicChallenge bool) {
	if basicChallenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="fakeprovider"`)
	}
	p.writeAnswer(w, e.status, map[string]any{"error": e.code, "error_description": e.desc})
}

func (p *Provider) writeTokens(w http.ResponseWriter, res issued) {
	fields := map[string]any{"access_token": res.access, "token_type": "Bearer"}
	if !p.opts.OmitExpiresIn {
		secs := int64(res.ttl / time.Second)
		if p.opts.ExpiresInAsString {
			fields["expires_in"] = strconv.FormatInt(secs, 10)
		} else {
			fields["expires_in"] = secs
		}
	}
	if res.refresh != "" {
		fields["refresh_token"] = res.refresh
	}
	if res.scope != "" {
		fields["scope"] = res.scope
	}
	p.writeAnswer(w, http.StatusOK, fields)
}

// writeAnswer sends a token or revocation endpoint answer as JSON, or
// form-encoded with Options.FormEncoded.
func (p *Provider) writeAnswer(w http.ResponseWriter, status int, fields map[string]any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if p.opts.FormEncoded {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, fmt.Sprint(f))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(fields)
}

// writeInjected sends a body set by a FailNext… call, with a content type
// guessed from it, as a proxy or a broken server would.
func writeInjected(w http.ResponseWriter, status int, body string) {
	ct := "text/plain; charset=utf-8"
	switch t := strings.TrimSpace(body); {
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		ct = "application/json"
	case strings.HasPrefix(t, "<"):
		ct = "text/html; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// echoCredentials refuses a request, quoting its credentials back.
func (p *Provider) echoCredentials(w http.ResponseWriter, r *http.Request, form url.Values) {
	desc := fmt.Sprintf("Client authentication failed. Authorization: %s; parameters: %s; raw: %s",
		r.Header.Get("Authorization"), form.Encode(), form.Get("client_secret")+" "+form.Get("refresh_token")+" "+form.Get("token"))
	p.writeAnswer(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": desc})
}
