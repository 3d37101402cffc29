package oauthflow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// build makes the outgoing request: the caller's headers, the integration's
// header request parameters, then the token — header or query — last, so
// nothing the caller sends can replace it. sent is the same request with the
// token masked, for display.
func (r *Runner) build(ctx context.Context, a Account, in Integration, method string, u *url.URL, req Request, tok Token) (*http.Request, Sent, error) {
	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, Sent{}, &RequestError{Field: "method", Msg: "The request cannot be built: " + err.Error(), Err: err}
	}
	if len(req.Body) > 0 {
		b := req.Body // replayed byte for byte on the retry and on 307/308 redirects
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	for name, vals := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, Sent{}, &RequestError{Field: "headers." + name, Msg: fmt.Sprintf("%q is not a valid header name.", name)}
		}
		for _, v := range vals {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, Sent{}, &RequestError{Field: "headers." + name, Msg: fmt.Sprintf("The value of %s has a character headers cannot carry (such as a line break).", name)}
			}
			hreq.Header.Add(name, v)
		}
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", userAgent) // the same name the token requests carry
	}
	if err := setHeaderParams(hreq.Header, a, in); err != nil {
		return nil, Sent{}, err
	}
	value, err := tokenValue(in, a.Values(), tok.AccessToken)
	if err != nil {
		return nil, Sent{}, err
	}
	var sent Sent
	if req.Describe {
		sent = Sent{Method: method, Header: hreq.Header.Clone(), URL: hreq.URL.String()}
	}
	name := setToken(hreq, in, value)
	if tokenIn(in) == InQuery {
		if req.Describe {
			q := hreq.URL.Query()
			q.Set(name, maskedValue(in, a.Values(), tok.AccessToken))
			su := *hreq.URL
			su.RawQuery = q.Encode()
			sent.URL = su.String()
		}
	} else if req.Describe {
		sent.Header.Set(name, maskedValue(in, a.Values(), tok.AccessToken))
	}
	return hreq, sent, nil
}

// setHeaderParams sets the integration's header request parameters, after
// the caller's headers, so they win.
func setHeaderParams(h http.Header, a Account, in Integration) error {
	for i, rp := range in.RequestParameters {
		if rp.In != InHeader {
			continue
		}
		v, err := ExpandHeaderValue(rp.Value, a.Values())
		if err != nil {
			return &RequestError{Field: fmt.Sprintf("request_parameters[%d].value", i), Msg: err.Error(), Err: err}
		}
		h.Set(rp.Name, v)
	}
	return nil
}

// setToken puts the filled token template where the integration says —
// header or query — last, so nothing the caller sent replaces it, and
// returns the header or query name it used.
func setToken(hreq *http.Request, in Integration, value string) string {
	name := in.Token.Name
	if name == "" || in.Type() == AuthBasic {
		name = DefaultTokenName
	}
	if tokenIn(in) == InQuery {
		q := hreq.URL.Query()
		q.Set(name, value)
		hreq.URL.RawQuery = q.Encode()
	} else {
		hreq.Header.Set(name, value)
	}
	return name
}

// tokenValue fills the integration's template ({token} and parameters).
func tokenValue(in Integration, params map[string]string, token string) (string, error) {
	if in.Type() == AuthBasic { // the stored token is base64(username:password)
		return "Basic " + token, nil
	}
	tmpl := tokenTemplate(in)
	if tmpl == DefaultTemplate && !hasControl(token) { // most integrations: no template to parse per request
		return "Bearer " + token, nil
	}
	v, err := expandHeader(tmpl, params, token, true)
	if err != nil {
		return "", &RequestError{Field: "token.template", Msg: "The token template cannot be filled: " + err.Error(), Err: err}
	}
	return v, nil
}

// maskedValue is tokenValue with the token masked, for display.
func maskedValue(in Integration, params map[string]string, token string) string {
	if in.Type() == AuthBasic {
		return "Basic " + MaskToken(token)
	}
	v, _ := Expand(tokenTemplate(in), withToken(params, MaskToken(token)))
	return v
}

// tokenIn is where the token goes: basic always sends a header.
func tokenIn(in Integration) string {
	if in.Type() == AuthBasic {
		return InHeader
	}
	return in.Token.In
}

func tokenTemplate(in Integration) string {
	if in.Token.Template == "" {
		return DefaultTemplate
	}
	return in.Token.Template
}

func withToken(params map[string]string, token string) map[string]string {
	values := make(map[string]string, len(params)+1)
	for k, v := range params {
		values[k] = v
	}
	values["token"] = token
	return values
}

// MaskToken shows only the last 4 characters of a token.
func MaskToken(t string) string {
	if len(t) <= 8 {
		return "••••"
	}
	return "••••" + t[len(t)-4:]
}
