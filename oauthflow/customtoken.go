package oauthflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TraceCustomToken is the trace kind of a custom token fetch.
const TraceCustomToken = "custom_token"

// CredentialStore reads an account's credentials, opened: the store keeps
// them sealed. The manager needs it for custom_token fetches.
type CredentialStore interface {
	AccountCredentials(ctx context.Context, accountID string) (map[string]string, error)
}

// CustomToken fetches a token from the integration's custom token endpoint
// with the account's parameter values and credentials. The answer is read
// where custom_token.response says; without an expiry in it the token lives
// default_ttl_seconds (0: unknown, fetched again only when rejected).
func (c *Client) CustomToken(ctx context.Context, in Integration, values, creds map[string]string) (Token, error) {
	const endpoint = "custom token endpoint"
	ct := in.CustomToken
	if ct == nil {
		return Token{}, configError(endpoint, "the integration has no custom_token request")
	}
	req, secrets, err := customTokenRequest(ctx, in, values, creds)
	if err != nil {
		return Token{}, err
	}
	forms := sync.OnceValue(secrets.forms)
	clean := func(s string, max int) string { return scrubN(s, forms(), max) }
	now := c.now()
	status, ctype, body, err := c.do(req, endpoint, "custom token", secrets)
	if err != nil {
		return Token{}, scrubError(err, forms())
	}
	paths := TokenResponsePaths{AccessToken: ct.Response.Token, ExpiresIn: ct.Response.ExpiresIn,
		ExpiresAt: ct.Response.ExpiresAt, ExpiresAtFormat: ct.Response.ExpiresAtFormat}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return Token{}, &TokenError{Kind: KindConfig, Endpoint: endpoint, Status: status,
			Description: fmt.Sprintf("the custom token endpoint rejected the credentials (%d): replace them", status)}
	}
	t, err := parseTokenResponse(status, ctype, body, now, clean, paths)
	if err != nil {
		return Token{}, scrubError(err, forms())
	}
	if t.Expiry.IsZero() && ct.DefaultTTLSeconds > 0 {
		t.Expiry = now.Add(time.Duration(ct.DefaultTTLSeconds) * time.Second)
	}
	t.RefreshToken, t.RefreshExpiry = "", time.Time{} // nothing to refresh with: fetched again
	t.Endpoints = Endpoints{Token: safeURL(req.URL)}
	tracerFrom(ctx).remaskLast(Secrets{Values: []string{t.AccessToken}})
	return t, nil
}

// customTokenRequest builds the custom token request: the URL expanded with
// the host rules of {param} (credential fields percent-encoded), the headers
// as header values, the body with each declared placeholder's value encoded
// for the body format.
func customTokenRequest(ctx context.Context, in Integration, values, creds map[string]string) (*http.Request, Secrets, error) {
	const endpoint = "custom token endpoint"
	ct := in.CustomToken
	all := make(map[string]string, len(values)+len(creds))
	for k, v := range values {
		all[k] = v
	}
	secrets := Secrets{}
	for _, f := range in.CredentialFields {
		v, ok := creds[f.Name]
		if !ok {
			return nil, Secrets{}, &TokenError{Kind: KindConfig, Endpoint: endpoint,
				Description: fmt.Sprintf("the account has no %s credential: set its credentials", f.Name)}
		}
		all[f.Name] = v
		if f.Secret {
			secrets.Values = append(secrets.Values, v)
		}
	}
	u, err := ExpandURL(ct.URL, all)
	if err != nil {
		return nil, secrets, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("build custom_token.url: %w", err)}
	}
	var body *strings.Reader
	if ct.Body != "" && ct.Method != http.MethodGet {
		b, err := ExpandBody(ct.Body, ct.BodyFormat, all)
		if err != nil {
			return nil, secrets, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("custom_token.body: %w", err)}
		}
		body = strings.NewReader(b)
	}
	var req *http.Request
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, ct.Method, u.String(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, ct.Method, u.String(), nil)
	}
	if err != nil {
		return nil, secrets, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("build the request to %s: %w", safeURL(u), err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		switch ct.BodyFormat {
		case BodyJSON:
			req.Header.Set("Content-Type", "application/json")
		case BodyForm:
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	for k, tmpl := range ct.Headers {
		v, err := ExpandHeaderValue(tmpl, all)
		if err != nil {
			return nil, secrets, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: fmt.Errorf("custom_token.headers.%s: %w", k, err)}
		}
		req.Header.Set(k, v)
	}
	return req, secrets, nil
}

// ExpandBody fills a custom token body: {name} is a placeholder only when
// values holds name (a declared parameter or credential field); every other
// brace is literal. A value is JSON-string escaped in a json body (the
// template supplies the quotes), form-encoded in a form body, as is in raw.
func ExpandBody(tmpl, format string, values map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		if tmpl[i] == '{' {
			if end := strings.IndexByte(tmpl[i+1:], '}'); end > 0 {
				name := tmpl[i+1 : i+1+end]
				if v, ok := values[name]; ok && isParamName(name) {
					b.WriteString(encodeBodyValue(v, format))
					i += end + 2
					continue
				}
			}
		}
		b.WriteByte(tmpl[i])
		i++
	}
	return b.String(), nil
}

func encodeBodyValue(v, format string) string {
	switch format {
	case BodyJSON:
		q, _ := json.Marshal(v) // a string always marshals
		return string(q[1 : len(q)-1])
	case BodyForm:
		return url.QueryEscape(v)
	}
	return v
}

// ErrCredentialsRejected: the API refused an account's api_token or basic
// credentials; no refresh can fix that.
var ErrCredentialsRejected = fmt.Errorf("the API rejected the credentials — replace them")

// customToken fetches a custom token with the account's credentials.
func (m *Manager) customToken(ctx context.Context, a Account, in Integration) (Token, error) {
	cs, ok := m.opts.Store.(CredentialStore)
	if !ok {
		return Token{}, configError("custom token endpoint", "the store keeps no credentials")
	}
	creds, err := cs.AccountCredentials(ctx, a.ID)
	if err != nil {
		return Token{}, err
	}
	return m.opts.Client.CustomToken(ctx, in, a.Values(), creds)
}

// credentialsRejected answers a "refresh" of an api_token or basic account:
// nothing is sent anywhere. After a rejection the account goes to error at
// once (no retry, no backoff: the next request tries the same credentials
// and, answered, brings it back); any other reason keeps the stored token.
func (m *Manager) credentialsRejected(ctx context.Context, a Account, stored Token, reason, note string) (TokenResult, error) {
	if reason != ReasonRejected {
		return TokenResult{Token: stored, Reason: reason, Note: "nothing to refresh: the account sends the credentials it was given"}, nil
	}
	tracerFrom(ctx).note("the API rejected the account's credentials: nothing can be refreshed; the account's status becomes error until they are replaced")
	ev := RefreshEvent{Reason: reason, Note: note, Error: "The API rejected the credentials — replace them.", Kind: KindConfig, Status: StatusError}
	if err := m.recordFailure(ctx, a.ID, ev); err != nil {
		m.log.Error("could not record rejected credentials", "account_id", a.ID, "err", err)
	}
	m.mu.Lock()
	delete(m.cache, a.ID)
	m.mu.Unlock()
	return TokenResult{}, &Error{Code: CodeConflict, Message: "The API rejected the credentials — replace them.", Err: ErrCredentialsRejected}
}
