package oauthflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxResponse is how much of an API response the runner keeps.
const DefaultMaxResponse = 1 << 20

// RequestError is a request refused before anything was sent: a malformed
// URL, a URL outside the API base URLs, a refused address. Field is the JSON
// path of the culprit ("url", "headers.X-Foo").
type RequestError struct {
	Field string
	Msg   string
	Err   error
}

func (e *RequestError) Error() string { return e.Msg }
func (e *RequestError) Unwrap() error { return e.Err }

// UpstreamError is a request that was sent but got no answer.
type UpstreamError struct {
	Timeout bool
	// Target is the request that failed, "GET https://host/path" (never
	// the query: it may carry the token); "" when unknown.
	Target string
	Err    error
}

// Error says what went wrong in words a person can act on: the named cause
// (DNS, the dial guard, TLS, a refused connection, a timeout) and the fix,
// not a chain of Go errors; an unnamed cause keeps the error's own text.
func (e *UpstreamError) Error() string {
	d := transportDiagnosis(e.Err)
	switch {
	case d != nil && d.Code == DiagDNS:
		return "The API host " + dnsName(e.Err) + "could not be found (DNS)" + e.at() + ": check the URL"
	case d != nil && d.Code == DiagDialGuard:
		return "Airlock refused to connect to the API" + e.at() + ": its address is loopback, private or link-local (use its public address, or set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true for an API on a private network)"
	case d != nil && d.Code == DiagTLS:
		return "The TLS handshake with the API failed" + e.at() + ": " + strings.TrimPrefix(strings.TrimSuffix(d.Message, "."), "The TLS handshake failed: ")
	case d != nil && d.Code == DiagConnect:
		return "The API refused the connection" + e.at() + ": check the host and port in the URL, and that the API is up"
	case e.Timeout || (d != nil && d.Code == DiagTimeout):
		return "The API did not answer in time" + e.at() + ": check the URL, or try again later"
	}
	return "The API could not be reached: " + e.Err.Error()
}

// at names the failed request in a message: " (GET https://host/path)".
func (e *UpstreamError) at() string {
	if e.Target == "" {
		return ""
	}
	return " (" + e.Target + ")"
}

// dnsName is the host a DNS failure was about, with a trailing space.
func dnsName(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.Name != "" {
		return dnsErr.Name + " "
	}
	return ""
}
func (e *UpstreamError) Unwrap() error { return e.Err }

// Request is what a caller asks the runner to send. URL may hold the
// integration's placeholders; they are filled in with the account's values.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Describe asks for Response.Sent (the request as sent, token masked),
	// which the console shows; the API does not, and skips the cost.
	Describe bool
	// Trace records the request as a trace of kind "request" (masked), for
	// the console's test request only: API requests never set it, so the
	// request path writes nothing more.
	Trace bool
}

// Sent is the request as it went out, with the token masked.
type Sent struct {
	Method string
	URL    string
	Header http.Header
}

// Response is the API's answer and what the runner did to get it.
type Response struct {
	Status        int
	Header        http.Header
	Body          []byte
	Truncated     bool
	Duration      time.Duration
	Refreshed     bool
	RefreshReason string // ReasonExpiring, ReasonRejected or ""
	RefreshNote   string // "expires in 12 min, inside the 30 min window"
	Sent          Sent
	Attempts      int
	// RejectedTwice: the API rejected even the freshly refreshed token.
	RejectedTwice bool
	// RefreshError is set when a rejected answer led to a refresh that
	// failed (RefreshReason is then ReasonRejected and Refreshed false).
	RefreshError *RefreshError
	// TraceID is the request's trace, when it was traced (Request.Trace,
	// or the health check); 0 otherwise.
	TraceID int64
}

// RefreshError is a refresh tried after a rejected answer that failed: its
// error code (as the API's errors have them), its message, and the account's
// status after it (needs_reconnect when the provider refused the refresh token).
type RefreshError struct {
	Code          string
	Message       string
	AccountStatus string
}

// RequestRecord is what the runner reports of each request for the activity
// log: never the token, a header value or the body.
type RequestRecord struct {
	Account        Account
	IntegrationKey string
	Method         string
	URL            string // without query values
	Status         int    // 0 when there was no answer
	Duration       time.Duration
	RefreshReason  string
	// RejectedTwice is set when the API rejected the token again after a
	// refresh: the account should say so.
	RejectedTwice bool
	Err           string
	// Console is set for the console's test requests (Request.Describe),
	// which keep a row of their own in the account's activity.
	Console bool
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Manager *Manager
	// HTTP is the API client: dial guard, timeouts, SameOriginRedirects.
	HTTP *http.Client
	// MaxBody caps the response kept; 0 means DefaultMaxResponse.
	MaxBody int64
	// Record, if set, receives every request (it must not block: the activity
	// log batches its writes off the request path).
	Record func(RequestRecord)
	// Observe, if set, is told of every request (metrics).
	Observe func(in Integration, status int, d time.Duration)
}

// Runner sends requests through an account: base-URL check, request
// parameters, token injection, one refresh-and-retry on rejection. It is safe
// for concurrent use.
type Runner struct {
	opts  RunnerOptions
	bases baseCache
	// proxyHTTP is opts.HTTP's transport as the proxy uses it (proxyClient).
	proxyOnce sync.Once
	proxyHTTP *http.Client
}

// NewRunner builds a Runner.
func NewRunner(o RunnerOptions) *Runner {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxResponse
	}
	return &Runner{opts: o}
}

// Do sends req with the account's token. in must carry the client secret (a
// refresh may be needed).
func (r *Runner) Do(ctx context.Context, a Account, in Integration, req Request) (*Response, error) {
	target, err := r.target(a, in, req)
	if err != nil {
		return nil, err
	}
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	if method == "" {
		method = http.MethodGet
	}
	rec := RequestRecord{Account: a, IntegrationKey: in.Key, Method: method, URL: withoutQueryValues(target), Console: req.Describe}
	tr, err := r.opts.Manager.Token(ctx, a, in)
	if err != nil {
		rec.Err = err.Error()
		r.record(rec)
		return nil, err
	}
	resp, err := r.send(ctx, a, in, method, target, req, tr.Token)
	if err == nil && in.RejectedResponse(resp.Status, resp.Header, resp.Body) {
		rejected := resp.Status
		if tr2, rerr := r.opts.Manager.Rejected(ctx, a, in, tr.Token.Version, rejected); rerr == nil {
			tr = tr2
			if resp, err = r.send(ctx, a, in, method, target, req, tr.Token); err == nil {
				resp.Attempts = 2
				resp.RejectedTwice = in.RejectedResponse(resp.Status, resp.Header, resp.Body)
				rec.RejectedTwice = resp.RejectedTwice
			}
		} else {
			resp.RefreshNote = fmt.Sprintf("%d from the API; the refresh failed: %v", rejected, rerr)
			// Tried and failed: the caller must hear of the attempt, or it
			// cannot tell "no refresh needed" from "the account is now broken".
			resp.RefreshReason = ReasonRejected
			resp.RefreshError = &RefreshError{Code: ErrorOf(rerr).Code, Message: rerr.Error()}
		}
	}
	if err != nil {
		rec.Err = err.Error()
		r.record(rec)
		return nil, err
	}
	if tr.Refreshed {
		resp.Refreshed, resp.RefreshReason, resp.RefreshNote = true, tr.Reason, tr.Note
	} else if tr.Note != "" && resp.RefreshNote == "" {
		resp.RefreshNote = tr.Note
	}
	rec.Status, rec.Duration, rec.RefreshReason = resp.Status, resp.Duration, resp.RefreshReason
	r.record(rec)
	if r.opts.Observe != nil {
		r.opts.Observe(in, resp.Status, resp.Duration)
	}
	return resp, nil
}

func (r *Runner) record(rec RequestRecord) {
	if r.opts.Record != nil {
		r.opts.Record(rec)
	}
}

// target expands the URL, checks it against the API base URLs, and adds the
// integration's query request parameters.
func (r *Runner) target(a Account, in Integration, req Request) (*url.URL, error) {
	if strings.TrimSpace(req.URL) == "" {
		return nil, &RequestError{Field: "url", Msg: "Enter the URL to call, for example https://api.example.com/v1/me."}
	}
	u, err := ExpandURL(req.URL, a.Values())
	if err != nil {
		return nil, &RequestError{Field: "url", Msg: "The URL is not valid: " + err.Error(), Err: err}
	}
	return r.allowed(a, in, u)
}

// allowed checks a URL ready to send — no traversal in its path, under the
// API base URLs — and adds the integration's query request parameters: the
// request API and the proxy both end here.
func (r *Runner) allowed(a Account, in Integration, u *url.URL) (*url.URL, error) {
	if msg := pathProblem(u); msg != "" {
		// A server would resolve them and leave the base path (tenantA/../tenantB).
		return nil, &RequestError{Field: "url", Msg: msg}
	}
	if err := r.bases.check(in, a.Values(), u); err != nil {
		return nil, err
	}
	var q url.Values
	for i, rp := range in.RequestParameters {
		if rp.In != InQuery {
			continue
		}
		if q == nil {
			q = u.Query()
		}
		v, err := Expand(rp.Value, a.Values())
		if err != nil {
			return nil, &RequestError{Field: fmt.Sprintf("request_parameters[%d].value", i), Msg: err.Error(), Err: err}
		}
		q.Set(rp.Name, v)
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// expandBases fills in the base URL templates, one URL per template; one
// that cannot be filled in is nil and allows nothing.
func expandBases(tmpls []string, values map[string]string) []*url.URL {
	out := make([]*url.URL, len(tmpls))
	for i, tmpl := range tmpls {
		if base, err := ExpandURL(tmpl, values); err == nil {
			out[i] = base
		}
	}
	return out
}

func checkAgainst(bases []*url.URL, u *url.URL) error {
	for _, base := range bases {
		if base != nil && sameOrigin(base, u) && underPath(base.Path, u.Path) {
			return nil
		}
	}
	allowed := make([]string, 0, len(bases))
	for _, base := range bases {
		if base != nil {
			allowed = append(allowed, base.String())
		}
	}
	return &RequestError{Field: "url", Msg: fmt.Sprintf("%s is outside this integration's API base URLs (%s): the token is sent only there.",
		u.Scheme+"://"+u.Host+u.Path, strings.Join(allowed, ", "))}
}

// underPath reports whether path is base or below it, on a segment boundary.
func underPath(base, path string) bool {
	if base == "" || base == "/" {
		return true
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return path+"/" == base || strings.HasPrefix(path, base)
}

// withoutQueryValues keeps a URL's query names but drops their values.
func withoutQueryValues(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment = ""
	if c.RawQuery != "" {
		q := c.Query()
		names := make([]string, 0, len(q))
		for k := range q {
			names = append(names, url.QueryEscape(k)+"=")
		}
		slices.Sort(names)
		c.RawQuery = strings.Join(names, "&")
	}
	return c.String()
}

// send makes one attempt with the given token.
func (r *Runner) send(ctx context.Context, a Account, in Integration, method string, target *url.URL, req Request, tok Token) (*Response, error) {
	u := *target
	ctx = withRedirectScope(ctx, func(to *url.URL) error { return r.bases.check(in, a.Values(), to) })
	hreq, sent, err := r.build(ctx, a, in, method, &u, req, tok)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := r.opts.HTTP.Do(hreq)
	if err != nil {
		err = classifySendError(hreq, err)
		traceAPIStep(ctx, in, a, tok, hreq, start, nil, nil, false, err)
		return nil, err
	}
	defer resp.Body.Close()
	body, truncated, err := readCapped(resp.Body, r.opts.MaxBody)
	if err != nil {
		err = classifySendError(hreq, err)
		traceAPIStep(ctx, in, a, tok, hreq, start, resp, nil, false, err)
		return nil, err
	}
	traceAPIStep(ctx, in, a, tok, hreq, start, resp, body, truncated, nil)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, Truncated: truncated,
		Duration: time.Since(start), Sent: sent, Attempts: 1}, nil
}

func classifySendError(req *http.Request, err error) error {
	// *url.Error prints the whole URL, query included: with the token in the
	// query (or an api_key the caller passed) it would reach the API answer,
	// the activity log and the server log. Keep only scheme, host and path.
	target := req.Method + " " + safeURL(req.URL)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", target, ue.Err)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &UpstreamError{Timeout: true, Target: target, Err: err}
	}
	if errors.Is(err, ErrRefusedAddress) {
		return &RequestError{Field: "url", Msg: err.Error(), Err: err}
	}
	return &UpstreamError{Target: target, Err: err}
}

// readCapped reads at most max bytes; the rest is drained a little (so the
// connection can be reused) and dropped.
func readCapped(rd io.Reader, max int64) ([]byte, bool, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rd, max+1))
	if err != nil {
		return nil, false, err
	}
	if n <= max {
		return buf.Bytes(), false, nil
	}
	io.CopyN(io.Discard, rd, 256<<10)
	return buf.Bytes()[:max], true, nil
}
