package oauthflow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

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
	for i, rp := range in.RequestParameters {
		if rp.In != InHeader {
			continue
		}
		v, err := ExpandHeaderValue(rp.Value, a.Parameters)
		if err != nil {
			return nil, Sent{}, &RequestError{Field: fmt.Sprintf("request_parameters[%d].value", i), Msg: err.Error(), Err: err}
		}
		hreq.Header.Set(rp.Name, v)
	}
	value, masked, err := tokenValue(in, a.Parameters, tok.AccessToken)
	if err != nil {
		return nil, Sent{}, err
	}
	sent := Sent{Method: method, Header: hreq.Header.Clone()}
	name := in.Token.Name
	if name == "" {
		name = DefaultTokenName
	}
	if in.Token.In == InQuery {
		q := hreq.URL.Query()
		q.Set(name, value)
		hreq.URL.RawQuery = q.Encode()
		q.Set(name, masked)
		su := *hreq.URL
		su.RawQuery = q.Encode()
		sent.URL = su.String()
	} else {
		hreq.Header.Set(name, value)
		sent.Header.Set(name, masked)
		sent.URL = hreq.URL.String()
	}
	return hreq, sent, nil
}

// tokenValue fills the integration's template ({token} and parameters) and
// returns the value and the same value with the token masked.
func tokenValue(in Integration, params map[string]string, token string) (string, string, error) {
	tmpl := in.Token.Template
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	values := make(map[string]string, len(params)+1)
	for k, v := range params {
		values[k] = v
	}
	values["token"] = token
	v, err := ExpandHeaderValue(tmpl, values)
	if err != nil {
		return "", "", &RequestError{Field: "token.template", Msg: "The token template cannot be filled: " + err.Error(), Err: err}
	}
	values["token"] = MaskToken(token)
	masked, _ := Expand(tmpl, values)
	return v, masked, nil
}

// MaskToken shows only the last 4 characters of a token.
func MaskToken(t string) string {
	if len(t) <= 8 {
		return "••••"
	}
	return "••••" + t[len(t)-4:]
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// JoinHeader is a header as "Name: value" lines, sorted, for display.
func JoinHeader(h http.Header) string {
	var lines []string
	for k, vs := range h {
		for _, v := range vs {
			lines = append(lines, k+": "+v)
		}
	}
	return strings.Join(sortStrings(lines), "\n")
}
