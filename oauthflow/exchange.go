package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxTokenBody caps what is read from a token or revocation endpoint.
const maxTokenBody = 1 << 20

// userAgent identifies Airlock to providers (some refuse Go's default).
const userAgent = "Airlock"

// Client calls token and revocation endpoints. HTTP should come from
// NewHTTPClient (dial guard, timeouts); whatever its redirect policy, the
// Client never follows a redirect nor sends cookies. A Client is safe for
// concurrent use.
type Client struct {
	HTTP *http.Client
	// Now is the clock (tests fix it); nil means time.Now.
	Now func() time.Time

	getOnce sync.Once
	getHTTP *http.Client // HTTP without keep-alive, for GET token requests
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// httpClient is c.HTTP with redirects and cookies switched off: a token
// endpoint that redirects may be trying to collect the code or the secret.
//
// A GET request goes out on a connection of its own: net/http re-sends an
// idempotent request by itself when a reused connection fails after the
// request was written, and a GET token request carries the refresh token in
// its query — sent twice, a rotating provider sees a reuse and revokes the
// grant. A fresh connection is never retried that way.
func (c *Client) httpClient(method string) (*http.Client, error) {
	if c.HTTP == nil {
		return nil, errors.New("oauthflow: Client.HTTP is nil: build one with NewHTTPClient")
	}
	hc := *c.HTTP
	if method == http.MethodGet {
		c.getOnce.Do(func() {
			g := *c.HTTP
			if t, ok := g.Transport.(*http.Transport); ok {
				t = t.Clone()
				t.DisableKeepAlives = true
				g.Transport = t
			}
			c.getHTTP = &g
		})
		hc = *c.getHTTP
	}
	hc.CheckRedirect = noRedirect
	hc.Jar = nil
	return &hc, nil
}

// ExchangeCode trades an authorization code for a token (RFC 6749 §4.1.3)
// at ep.Token, the token endpoint resolved when the flow started; the token
// comes back with ep as its Endpoints. client_id is always in the body, also
// with basic authentication: that is harmless and some providers require it.
func (c *Client) ExchangeCode(ctx context.Context, in Integration, values map[string]string, ep Endpoints, code, verifier, redirectURI string) (Token, error) {
	form, err := codeForm(in, values, code, verifier, redirectURI)
	if err != nil {
		return Token{}, err
	}
	return c.token(ctx, in, values, ep, ep.Token, form, []string{code, verifier})
}

// codeForm is a code exchange's form.
func codeForm(in Integration, values map[string]string, code, verifier, redirectURI string) (url.Values, error) {
	if in.OAuth2.GrantType != GrantAuthorizationCode {
		return nil, configError("token endpoint", "the integration's grant type is not authorization_code")
	}
	if code == "" {
		return nil, configError("token endpoint", "the callback brought no authorization code")
	}
	if in.OAuth2.PKCE && verifier == "" {
		return nil, configError("token endpoint", "PKCE is on but the flow has no code verifier; start the connection again")
	}
	clientID, err := Expand(in.OAuth2.ClientID, values)
	if err != nil {
		return nil, &TokenError{Kind: KindConfig, Err: fmt.Errorf("client id: %w", err)}
	}
	form := url.Values{
		"grant_type":   {GrantAuthorizationCode},
		"code":         {code},
		"redirect_uri": {redirectURI},
		"client_id":    {clientID},
	}
	if in.OAuth2.PKCE {
		form.Set("code_verifier", verifier)
	}
	return form, nil
}

// ClientCredentials obtains a token for the client itself (RFC 6749 §4.4) at
// ep.Token; the token comes back with ep as its Endpoints.
func (c *Client) ClientCredentials(ctx context.Context, in Integration, values map[string]string, ep Endpoints) (Token, error) {
	form, err := clientCredentialsForm(in, values)
	if err != nil {
		return Token{}, err
	}
	return c.token(ctx, in, values, ep, ep.Token, form, nil)
}

// clientCredentialsForm is a client-credentials request's form.
func clientCredentialsForm(in Integration, values map[string]string) (url.Values, error) {
	form := url.Values{"grant_type": {GrantClientCredentials}}
	scope, err := Expand(in.OAuth2.Scope, values)
	if err != nil {
		return nil, &TokenError{Kind: KindConfig, Err: fmt.Errorf("scope: %w", err)}
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form, nil
}

// Refresh uses a refresh token (RFC 6749 §6) at ep.Refresh, or ep.Token
// when no refresh endpoint was recorded — the endpoints recorded with the
// token set, never ones built from the account's current values. Without a
// recorded endpoint nothing is sent: the account needs a reconnection. The
// integration's refresh parameters go with it. An answer without a new
// refresh token keeps the old one, which the returned Token carries, with ep
// as its Endpoints.
func (c *Client) Refresh(ctx context.Context, in Integration, values map[string]string, ep Endpoints, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, &TokenError{Kind: KindInvalidGrant, Description: "no refresh token is stored"}
	}
	if ep.Token == "" {
		return Token{}, &TokenError{Kind: KindInvalidGrant,
			Description: "the token endpoint this token was issued by was not recorded, so it is not refreshed anywhere else"}
	}
	form, err := refreshForm(in, values, refreshToken)
	if err != nil {
		return Token{}, err
	}
	target := ep.Token
	if ep.Refresh != "" {
		target = ep.Refresh
	}
	t, err := c.token(ctx, in, values, ep, target, form, []string{refreshToken})
	if err != nil {
		return Token{}, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// refreshForm is a refresh request's form: the refresh parameters, then the
// protocol ones (which win).
func refreshForm(in Integration, values map[string]string, refreshToken string) (url.Values, error) {
	form := url.Values{}
	for k, v := range in.OAuth2.RefreshParams {
		if isProtocolParam(k) { // Validate refuses these; never let one through
			continue
		}
		ev, err := Expand(v, values)
		if err != nil {
			return nil, &TokenError{Kind: KindConfig, Err: fmt.Errorf("refresh parameter %s: %w", k, err)}
		}
		form.Set(k, ev)
	}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", refreshToken)
	return form, nil
}

// token sends a token request to target (ep.Token, or ep.Refresh for a
// refresh) and parses the answer where the integration's token_response
// paths say.
func (c *Client) token(ctx context.Context, in Integration, values map[string]string, ep Endpoints, target string, form url.Values, sensitive []string) (Token, error) {
	const endpoint = "token endpoint"
	req, secrets, err := tokenRequest(ctx, in, values, target, form)
	if err != nil {
		return Token{}, err
	}
	secrets.Values = sensitive
	forms := sync.OnceValue(secrets.forms) // only an error needs them
	clean := func(s string, max int) string { return scrubN(s, forms(), max) }
	now := c.now() // before sending: the expiry errs on the early side
	status, ct, body, err := c.do(req, endpoint, stepName(form), secrets)
	if err != nil {
		return Token{}, scrubError(err, forms())
	}
	t, err := parseTokenResponse(status, ct, body, now, clean, in.OAuth2.TokenResponse)
	if err != nil {
		return Token{}, scrubError(err, forms())
	}
	t.Endpoints = ep
	t.Answer = decodeAnswer(ct, body)
	// The new tokens, wherever the answer put them, stay out of the trace
	// even when no field name gave them away.
	tracerFrom(ctx).remaskLast(Secrets{Values: []string{t.AccessToken, t.RefreshToken}})
	return t, nil
}

// stepName names a token request's trace step by its grant.
func stepName(form url.Values) string {
	switch form.Get("grant_type") {
	case GrantAuthorizationCode:
		return "code exchange"
	case "refresh_token":
		return "refresh"
	case GrantClientCredentials:
		return "client credentials"
	}
	return "token request"
}

// tokenRequest is the request to target carrying form: the extra token
// parameters, then the form's (which win), the client authentication as
// chosen, a POST body (form-encoded, or JSON when the integration says so)
// or a GET query. The exchanges send it; the builder's preview shows it
// (SampleRequests).
func tokenRequest(ctx context.Context, in Integration, values map[string]string, target string, form url.Values) (*http.Request, Secrets, error) {
	all := url.Values{}
	for k, v := range in.OAuth2.TokenParams {
		if isProtocolParam(k) { // Validate refuses these; never let one through
			continue
		}
		ev, err := Expand(v, values)
		if err != nil {
			return nil, Secrets{}, &TokenError{Kind: KindConfig, Err: fmt.Errorf("token parameter %s: %w", k, err)}
		}
		all.Set(k, ev)
	}
	for k, v := range form { // protocol parameters win
		all[k] = v
	}
	req, secrets, err := newRequest(ctx, in, values, "token endpoint", target, in.OAuth2.TokenMethod, all)
	if err == nil && in.OAuth2.TokenBody == TokenBodyJSON && req.Method == http.MethodPost {
		err = jsonBody(req, all)
	}
	return req, secrets, err
}

// newRequest builds a request to a token or revocation endpoint: target is
// the endpoint's absolute URL, already expanded; the client authentication is
// applied, the parameters go in a form body (POST) or are merged into the
// query (GET, non-standard). It returns the client credentials as Secrets so
// the caller can keep them out of error messages.
func newRequest(ctx context.Context, in Integration, values map[string]string, endpoint, target, method string, form url.Values) (*http.Request, Secrets, error) {
	u, err := endpointURL(target)
	if err != nil {
		return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: err}
	}
	clientID, err := Expand(in.OAuth2.ClientID, values)
	if err != nil {
		return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("client id: %w", err)}
	}
	if _, err := Placeholders(in.OAuth2.ClientSecret); err != nil { // its message would quote part of the secret
		return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: errors.New("client secret: it has { or } that do not form a placeholder; write {{ and }} for literal braces")}
	}
	secret, err := Expand(in.OAuth2.ClientSecret, values)
	if err != nil {
		return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("client secret: %w", err)}
	}
	basic := in.OAuth2.ClientAuth != ClientAuthBody
	if !basic {
		form.Set("client_id", clientID)
		if secret != "" {
			form.Set("client_secret", secret)
		}
	}
	var req *http.Request
	if strings.EqualFold(method, http.MethodGet) {
		q := u.Query()
		for k, v := range form {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("build the request to %s: %w", safeURL(u), err)}
	}
	if basic {
		// RFC 6749 §2.3.1: form-url-encode id and secret before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, Secrets{ClientID: clientID, ClientSecret: secret}, nil
}

// endpointURL parses an endpoint recorded or resolved earlier: it must be an
// absolute http(s) URL without user info.
func endpointURL(target string) (*url.URL, error) {
	if target == "" {
		return nil, errors.New("no URL is set or recorded for it")
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("its URL is not an absolute http or https URL")
	}
	return u, nil
}

// do sends req and reads at most maxTokenBody bytes of the answer; a 3xx is
// an error (never followed), so is a larger answer. When ctx carries a
// trace, the exchange becomes its step called name, masked with s's secrets
// before it is stored (Trace.mask).
func (c *Client) do(req *http.Request, endpoint, name string, s Secrets) (int, string, []byte, error) {
	tr := tracerFrom(req.Context())
	var step TraceStep
	if tr != nil {
		// Kept raw, masked by the trace writer (Trace.mask) off this path.
		step = TraceStep{Name: name, At: c.now(), raw: &rawExchange{secrets: s, method: req.Method, url: *req.URL,
			header: req.Header.Clone(), body: requestBody(req)}}
	}
	status, h, body, err := c.roundTrip(req, endpoint)
	if tr != nil {
		step.Duration = c.now().Sub(step.At)
		if h != nil {
			step.raw.answered, step.raw.status, step.raw.respHeader, step.raw.respBody = true, status, h, body
		}
		if err != nil {
			step.raw.err = err.Error()
		}
		tr.add(step)
	}
	if err != nil {
		return 0, "", nil, err
	}
	return status, h.Get("Content-Type"), body, nil
}

// roundTrip is do without the trace: the answer's status, headers and body
// (the headers also with an error, when an answer arrived).
func (c *Client) roundTrip(req *http.Request, endpoint string) (int, http.Header, []byte, error) {
	hc, err := c.httpClient(req.Method)
	if err != nil {
		return 0, nil, nil, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: err}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, transportError(req, endpoint, err)
	}
	defer resp.Body.Close()
	noteAnswer(req.Context(), resp) // Retry-After, for the token manager's backoff
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, resp.Header, nil, &TokenError{Kind: KindConfig, Endpoint: endpoint, Status: resp.StatusCode,
			Description: fmt.Sprintf("redirected to %s; redirects are not followed: set the URL to the final address", safeURL(req.URL.ResolveReference(orEmpty(loc))))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, &TokenError{Kind: KindTemporary, Endpoint: endpoint, Status: resp.StatusCode,
			Err: fmt.Errorf("read the answer: %w", err)}
	}
	if len(body) > maxTokenBody {
		return resp.StatusCode, resp.Header, body[:maxTokenBody], &TokenError{Kind: statusKind(resp.StatusCode), Endpoint: endpoint, Status: resp.StatusCode,
			Description: endpoint + " answer larger than 1 MiB"}
	}
	return resp.StatusCode, resp.Header, body, nil
}

func orEmpty(u *url.URL) *url.URL {
	if u == nil {
		return &url.URL{}
	}
	return u
}

// transportError classifies a failed round trip. The *url.Error wrapper is
// replaced because its text holds the full URL, and with GET the query holds
// the code and perhaps the secret.
func transportError(req *http.Request, endpoint string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	kind := KindTemporary
	if errors.Is(err, ErrRefusedAddress) {
		kind = KindConfig
	}
	return &TokenError{Kind: kind, Endpoint: endpoint, Err: fmt.Errorf("%s %s: %w", req.Method, safeURL(req.URL), err)}
}

// safeURL is scheme://host/path: no user info, query or fragment.
func safeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// configError is a TokenError for a problem found before any request.
func configError(endpoint, desc string) error {
	return &TokenError{Kind: KindConfig, Endpoint: endpoint, Description: desc}
}
