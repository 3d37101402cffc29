package oauthflow

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// MaxReplayBody is the largest request body the proxy keeps for a retry
// after a rejected token; a larger one streams through and is not retried.
const MaxReplayBody = 1 << 20

// Headers of the proxy: Airlock reads the first on the way in, sets the
// second on the way out.
const (
	// HeaderBaseURL names which of the integration's API base URLs a proxied
	// request goes to (the first when absent).
	HeaderBaseURL = "Airlock-Base-URL"
	// HeaderRefreshed says the token was refreshed first: expiring or rejected.
	HeaderRefreshed = "Airlock-Refreshed"
)

// ProxyRequest is a request the proxy forwards as it came: Path (escaped,
// "" or beginning with "/") is joined to the chosen API base URL.
type ProxyRequest struct {
	Method   string
	Path     string
	RawQuery string
	// Base is the Airlock-Base-URL header: "" for the first base URL.
	Base   string
	Header http.Header // the caller's headers; Forward filters them
	Body   io.Reader   // nil for none
	// ContentLength is -1 when unknown (chunked).
	ContentLength int64
}

// ProxyResponse is the upstream's answer with its body still to read. The
// caller streams Body and must call Close, which records the request.
type ProxyResponse struct {
	Status int
	Header http.Header // without hop-by-hop headers
	Body   io.Reader
	// RefreshReason is ReasonExpiring or ReasonRejected when the token was
	// refreshed for this request, else "".
	RefreshReason string
	close         func(err error)
}

// Close ends the response and records it; err is what went wrong while
// streaming the body, if anything.
func (p *ProxyResponse) Close(err error) { p.close(err) }

// Proxy sends a request through the account as it came — method, path below
// the API base URL, query, filtered headers, streamed body — with the rules
// of Request: dot segments refused, the URL under the base URLs, request
// parameters, the token (refreshed first inside its window), the dial guard.
// A rejected answer refreshes the token and retries once when the body was
// at most MaxReplayBody. Redirects come back, never followed.
func (a *Accounts) Proxy(ctx context.Context, id string, req ProxyRequest) (*ProxyResponse, error) {
	acct, in, err := a.target(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := usable(acct); err != nil {
		return nil, err
	}
	resp, err := a.o.Runner.proxy(ctx, acct, in, req)
	if err == nil && resp.rejectedTwice {
		a.rejectedTwice(ctx, acct, resp.Status)
	}
	if err != nil {
		return nil, err
	}
	a.recovered(ctx, acct, in, in.Rejected(resp.Status))
	return &resp.ProxyResponse, nil
}

// proxyResponse is a ProxyResponse with what Accounts must know of it.
type proxyResponse struct {
	ProxyResponse
	rejectedTwice bool
}

// proxy is Do for a streamed request.
func (r *Runner) proxy(ctx context.Context, a Account, in Integration, req ProxyRequest) (*proxyResponse, error) {
	method := req.Method
	rec := RequestRecord{Account: a, IntegrationKey: in.Key, Method: method}
	target, err := r.proxyTarget(a, in, req)
	if err != nil {
		return nil, err // refused before anything was sent: not recorded, as in Do
	}
	rec.URL = withoutQueryValues(target)
	body, replay, err := replayable(req.Body, req.ContentLength)
	if err != nil {
		rec.Err = err.Error()
		r.record(rec)
		return nil, &UpstreamError{Err: err}
	}
	tr, err := r.opts.Manager.Token(ctx, a, in)
	if err != nil {
		rec.Err = err.Error()
		r.record(rec)
		return nil, err
	}
	start := time.Now()
	resp, err := r.proxySend(ctx, a, in, method, target, req, body, tr.Token)
	out := &proxyResponse{}
	if err == nil && replay != nil {
		resp, tr, err = r.proxyRetry(ctx, a, in, target, req, resp, tr, replay, out)
		rec.RejectedTwice = out.rejectedTwice
	}
	if err != nil {
		rec.Err = err.Error()
		r.record(rec)
		return nil, err
	}
	if tr.Refreshed {
		out.RefreshReason = tr.Reason
		rec.RefreshReason = tr.Reason
	}
	out.Status, out.Header, out.Body = resp.StatusCode, withoutHopHeaders(resp.Header), resp.Body
	out.close = func(serr error) {
		resp.Body.Close()
		rec.Status, rec.Duration = resp.StatusCode, time.Since(start)
		if serr != nil {
			rec.Err = "the answer's body broke off: " + classifySendError(resp.Request, serr).Error()
		}
		r.record(rec)
		if r.opts.Observe != nil {
			r.opts.Observe(in, resp.StatusCode, rec.Duration)
		}
	}
	return out, nil
}

// proxyRetry refreshes the token and sends the request again, once, when
// the first answer rejected it (a rejected status or a rejected_responses
// rule); it returns the answer to pass back and the token that got it.
func (r *Runner) proxyRetry(ctx context.Context, a Account, in Integration, target *url.URL, req ProxyRequest,
	resp *http.Response, tr TokenResult, replay func() io.Reader, out *proxyResponse) (*http.Response, TokenResult, error) {
	rejected, err := proxyRejected(in, resp)
	if err != nil {
		resp.Body.Close()
		return nil, tr, classifySendError(resp.Request, err)
	}
	if !rejected {
		return resp, tr, nil
	}
	tr2, rerr := r.opts.Manager.Rejected(ctx, a, in, tr.Token.Version, resp.StatusCode)
	if rerr != nil {
		return resp, tr, nil // the first answer goes back as it came
	}
	drain(resp.Body)
	resp, err = r.proxySend(ctx, a, in, req.Method, target, req, replay(), tr2.Token)
	if err != nil {
		return nil, tr2, err
	}
	if out.rejectedTwice, err = proxyRejected(in, resp); err != nil {
		resp.Body.Close()
		return nil, tr2, classifySendError(resp.Request, err)
	}
	return resp, tr2, nil
}

// proxyTarget is the chosen base URL joined with the request's path and
// query, then checked as every request is.
func (r *Runner) proxyTarget(a Account, in Integration, req ProxyRequest) (*url.URL, error) {
	base, err := r.chooseBase(a, in, req.Base)
	if err != nil {
		return nil, err
	}
	raw := strings.TrimSuffix(base.Scheme+"://"+base.Host+base.EscapedPath(), "/") + req.Path
	if req.Path == "" {
		raw = base.Scheme + "://" + base.Host + base.EscapedPath()
	}
	if q := base.RawQuery; q != "" && req.RawQuery != "" {
		raw += "?" + q + "&" + req.RawQuery
	} else if q+req.RawQuery != "" {
		raw += "?" + q + req.RawQuery
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &RequestError{Field: "path", Msg: "The path or query cannot be read as part of a URL: " + err.Error(), Err: err}
	}
	return r.allowed(a, in, u)
}

// chooseBase is the first API base URL, or the one the caller named: one of
// the integration's (as written or filled in), or any absolute http(s) URL
// when they are ["*"].
func (r *Runner) chooseBase(a Account, in Integration, named string) (*url.URL, error) {
	named = strings.TrimSpace(named)
	if AllowsAnyOrigin(in) {
		if named == "" {
			return nil, &RequestError{Field: HeaderBaseURL, Msg: "This integration allows any API origin: name the base URL to call in the " + HeaderBaseURL + " header."}
		}
		u, err := url.Parse(named)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &RequestError{Field: HeaderBaseURL, Msg: HeaderBaseURL + " must be an absolute http(s) URL such as https://api.example.com/v1."}
		}
		return u, nil
	}
	if len(in.APIBaseURLs) == 0 {
		return nil, &RequestError{Field: "url", Msg: "This integration has no API base URLs: add the API's origin."}
	}
	for i, u := range r.bases.get(in, a.Values()) {
		tmpl := in.APIBaseURLs[i]
		if u == nil {
			continue
		}
		if named == "" || named == tmpl || strings.TrimSuffix(named, "/") == strings.TrimSuffix(u.String(), "/") {
			return u, nil
		}
	}
	if named == "" {
		return nil, &RequestError{Field: "url", Msg: "The integration's API base URL cannot be filled in with this account's parameters."}
	}
	return nil, &RequestError{Field: HeaderBaseURL, Msg: named + " is not one of this integration's API base URLs (" + strings.Join(in.APIBaseURLs, ", ") + ")."}
}

// proxySend makes one attempt; the response's body is the caller's to close.
func (r *Runner) proxySend(ctx context.Context, a Account, in Integration, method string, target *url.URL, req ProxyRequest, body io.Reader, tok Token) (*http.Response, error) {
	// Built on an empty URL and given the target itself, rather than
	// formatting the target for NewRequest to parse it again.
	hreq, err := http.NewRequestWithContext(ctx, method, "", body)
	if err != nil {
		return nil, &RequestError{Field: "method", Msg: "The request cannot be built: " + err.Error(), Err: err}
	}
	u := *target
	hreq.URL = &u
	hreq.ContentLength = req.ContentLength
	if body == nil || body == http.NoBody {
		hreq.ContentLength, hreq.Body = 0, http.NoBody
	} else if br, ok := body.(*bytes.Reader); ok {
		hreq.ContentLength = int64(br.Len())
	}
	hreq.Header = ForwardHeaders(req.Header)
	if err := setHeaderParams(hreq.Header, a, in); err != nil {
		return nil, err
	}
	value, err := tokenValue(in, a.Values(), tok.AccessToken)
	if err != nil {
		return nil, err
	}
	setToken(hreq, in, value)
	resp, err := r.proxyClient().Do(hreq)
	if err != nil {
		return nil, classifySendError(hreq, err)
	}
	return resp, nil
}

// proxyClient is the API client's transport that follows no redirect and
// leaves compression to the caller (Accept-Encoding passes through; the
// answer comes back encoded as it was), with no total timeout: a stream
// may last. Connect and header timeouts still hold.
func (r *Runner) proxyClient() *http.Client {
	r.proxyOnce.Do(func() {
		rt := r.opts.HTTP.Transport
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone()
			t.DisableCompression = true
			rt = t
		}
		r.proxyHTTP = &http.Client{Transport: rt, CheckRedirect: noRedirect}
	})
	return r.proxyHTTP
}

// replayable reads up to MaxReplayBody of body: a body that ends within it
// comes back with a function that replays it; a longer one comes back as a
// stream of what was read and the rest, and no replay.
func replayable(body io.Reader, length int64) (io.Reader, func() io.Reader, error) {
	if body == nil || body == http.NoBody || length == 0 {
		return nil, func() io.Reader { return nil }, nil
	}
	if length > MaxReplayBody {
		return body, nil, nil
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, MaxReplayBody+1))
	if err != nil {
		return nil, nil, err
	}
	if n > MaxReplayBody {
		return io.MultiReader(bytes.NewReader(buf.Bytes()), body), nil, nil
	}
	b := buf.Bytes()
	replay := func() io.Reader { return bytes.NewReader(b) }
	return replay(), replay, nil
}

// drain reads a little of a body before closing it, so the connection can
// carry the retry.
func drain(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1), which belong to
// one connection and are never forwarded.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ForwardHeaders are the caller's headers that the proxy sends on: not the
// hop-by-hop ones (nor those Connection names), not Host, not Cookie, not
// Authorization (it carries the Airlock key) and no Airlock-* header.
func ForwardHeaders(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for k, v := range in {
		if dropped(k) || len(k) >= 8 && strings.EqualFold(k[:8], "airlock-") {
			continue
		}
		out[k] = v
	}
	for _, c := range in["Connection"] {
		for name := range strings.SplitSeq(c, ",") {
			delete(out, textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)))
		}
	}
	return out
}

func dropped(k string) bool {
	switch k {
	case "Host", "Cookie", "Authorization":
		return true
	}
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// withoutHopHeaders is the upstream's answer's headers as the proxy passes
// them back: without the hop-by-hop ones.
func withoutHopHeaders(h http.Header) http.Header {
	for _, c := range h["Connection"] {
		for name := range strings.SplitSeq(c, ",") {
			delete(h, textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)))
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	return h
}
