package oauthflow

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// secretHeaderWords mark a header of a traced API request whose value is a
// credential even though its name does not end in token, secret… (X-API-Key,
// X-Auth, X-Signature).
var secretHeaderWords = []string{"key", "auth", "secret", "token", "password", "passwd", "signature", "session", "credential", "cookie"}

// secretHeader reports whether an API request header named so carries a
// credential.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return sensitiveName(n)
}

// apiMasker masks an API request through the account: the access token
// (in whatever template or query parameter carried it), the values of the
// integration's header request parameters, and any header whose name says
// it holds a credential.
func apiMasker(in Integration, a Account, tok Token, sent http.Header) (*masker, map[string]bool) {
	s := SecretsFor(in, a.Values(), tok)
	secretNames := map[string]bool{}
	if in.Token.In != InQuery {
		secretNames[http.CanonicalHeaderKey(cmpOr(in.Token.Name, DefaultTokenName))] = true
	}
	for _, rp := range in.RequestParameters {
		if rp.In != InHeader {
			continue
		}
		secretNames[http.CanonicalHeaderKey(rp.Name)] = true
		if v, err := ExpandHeaderValue(rp.Value, a.Values()); err == nil {
			s.Values = append(s.Values, v)
		}
	}
	for k, vs := range sent { // a credential the caller typed, echoed anywhere in the answer
		if ck := http.CanonicalHeaderKey(k); secretNames[ck] || secretHeader(ck) {
			for _, v := range vs {
				s.Values = append(s.Values, v)
				if _, cred, ok := strings.Cut(v, " "); ok {
					s.Values = append(s.Values, cred)
				}
			}
		}
	}
	return newMasker(s), secretNames
}

// apiRequest is req as a request trace shows it: masked by m, and every
// header named in secret (or looking like a credential) masked whole, its
// scheme kept for an Authorization-like value.
func apiRequest(m *masker, secret map[string]bool, req *http.Request) TraceRequest {
	tr := m.request(req)
	for k := range tr.Headers {
		ck := http.CanonicalHeaderKey(k)
		if ck == "Authorization" || ck == "Proxy-Authorization" || (!secret[ck] && !secretHeader(ck)) {
			continue
		}
		v := strings.Join(req.Header.Values(k), ", ")
		if scheme, cred, ok := strings.Cut(v, " "); ok && !strings.Contains(cred, " ") && len(scheme) < 12 {
			tr.Headers[k] = scheme + " " + Mask(cred)
		} else {
			tr.Headers[k] = Mask(v)
		}
	}
	return tr
}

// traceAPIStep records one attempt of a traced API request (the console's
// test request or the health check) in ctx's trace; it does nothing for an
// untraced request, which is every request of the API.
func traceAPIStep(ctx context.Context, in Integration, a Account, tok Token, hreq *http.Request, start time.Time,
	resp *http.Response, body []byte, truncated bool, err error) {
	tr := tracerFrom(ctx)
	if tr == nil {
		return
	}
	name := "test request"
	if tr.t.Kind == TraceHealthCheck { // set once, before any step
		name = "health check"
	}
	m, secret := apiMasker(in, a, tok, hreq.Header)
	step := TraceStep{Name: name, At: start, Duration: time.Since(start), Request: apiRequest(m, secret, hreq)}
	if resp != nil {
		step.Response = m.response(resp.StatusCode, resp.Header, body)
		step.Response.BodyTruncated = step.Response.BodyTruncated || truncated
		for k := range step.Response.Headers {
			if ck := http.CanonicalHeaderKey(k); secret[ck] || (secretHeader(ck) && ck != "Content-Type") {
				step.Response.Headers[k] = Mask(strings.Join(resp.Header.Values(k), ", "))
			}
		}
	}
	if err != nil {
		step.Error = m.text(err.Error())
	}
	tr.add(step)
}

// runTraced runs send inside a trace of kind (TraceTestRequest or
// TraceHealthCheck) when traces are on and saves it, its id in the
// Response; failed reports, from send's answer, why the trace failed (nil
// when it did not) and the diagnosis, when it knows better than Diagnose.
func (a *Accounts) runTraced(ctx context.Context, kind string, acct Account, in Integration,
	send func(context.Context) (*Response, error), failed func(*Response, error) (*Diagnosis, error)) (*Response, error) {
	if a.mgr.opts.Traces == nil {
		return send(ctx)
	}
	tctx, tr := startTrace(ctx, kind, acct, in, a.o.Now)
	resp, err := send(tctx)
	switch {
	case err != nil:
		tr.note("not answered: " + err.Error())
	case resp.Refreshed:
		tr.note(fmt.Sprintf("the token was refreshed first (%s): %s", resp.RefreshReason, resp.RefreshNote))
	}
	if err == nil && resp.RejectedTwice {
		tr.note("the API rejected even the freshly refreshed token: recorded on the account")
	}
	d, ferr := failed(resp, err)
	if ferr != nil && d == nil {
		d = Diagnose(ferr, DiagnosisContext{Integration: in, Grant: kind, Now: a.o.Now()})
	}
	id := saveTrace(ctx, a.mgr.opts.Traces, a.o.Log, tr.finish(ferr, d))
	if resp != nil {
		resp.TraceID = id
	}
	return resp, err
}

// requestFailure is when a console test request's trace failed: no answer,
// or a rejection even after a refresh. Any other answer is the API's to give.
func requestFailure(resp *Response, err error) (*Diagnosis, error) {
	switch {
	case err != nil:
		return nil, err
	case resp.RejectedTwice:
		return rejectedTwiceDiagnosis(resp.Status), fmt.Errorf("the API answered %d even with a freshly refreshed token", resp.Status)
	}
	return nil, nil
}

func rejectedTwiceDiagnosis(status int) *Diagnosis {
	return &Diagnosis{Code: DiagRejectedTwice, Message: fmt.Sprintf("The API answered %d even with a freshly refreshed token.", status),
		Hint: "check the scopes granted (oauth2.scope, then reconnect) and the integration's token settings (token.name, token.in, token.template)"}
}
