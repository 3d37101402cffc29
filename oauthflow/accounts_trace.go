package oauthflow

import (
	"context"
	"net/http"
	"net/url"
)

// traceConnect starts the trace of a callback's connect, with the
// authorization redirect (as far as it is known: the flow keeps neither the
// state nor the challenge) and the callback as received, masked. It returns
// ctx unchanged and a nil tracer when traces are off.
func (a *Accounts) traceConnect(ctx context.Context, acct Account, in Integration, flow Flow, q url.Values) (context.Context, *tracer) {
	if a.mgr.opts.Traces == nil {
		return ctx, nil
	}
	ctx, tr := startTrace(ctx, TraceConnect, acct, in, a.o.Now)
	m := newMasker(SecretsFor(in, acct.Values(), Token{}))
	auth := in.OAuth2.AuthorizationURL
	if u, err := ExpandURL(in.OAuth2.AuthorizationURL, acct.Values()); err == nil {
		auth = m.url(u)
	}
	tr.add(TraceStep{Name: "authorization redirect", At: flow.CreatedAt,
		Request: TraceRequest{Method: http.MethodGet, URL: auth},
		Note:    "the browser was sent to the provider with redirect_uri " + flow.RedirectURI})
	cb := a.o.CallbackURL
	if enc := q.Encode(); enc != "" {
		cb += "?" + m.query(enc)
	}
	tr.add(TraceStep{Name: "callback", At: a.o.Now(), Request: TraceRequest{Method: http.MethodGet, URL: cb}})
	return ctx, tr
}

// endConnect finishes and saves a connect's trace and returns its id (0
// when traces are off). A connect that got no refresh token for a grant
// that renews with one carries that diagnosis even though it succeeded.
func (a *Accounts) endConnect(ctx context.Context, tr *tracer, err error, in Integration, flow Flow, tok Token) int64 {
	if tr == nil {
		return 0
	}
	var d *Diagnosis
	switch {
	case err != nil:
		d = Diagnose(err, DiagnosisContext{Integration: in, Grant: TraceConnect, RedirectURI: flow.RedirectURI, Now: a.o.Now()})
	case tok.AccessToken != "" && tok.RefreshToken == "":
		d = &Diagnosis{Code: DiagNoRefreshToken, Message: "The provider issued no refresh token: the account works until the access token expires, then needs a reconnect.", Hint: offlineHint}
		tr.note("connected without a refresh token")
	default:
		tr.note("connected: token saved")
	}
	return saveTrace(ctx, a.mgr.opts.Traces, a.o.Log, tr.finish(err, d))
}

// traceRevoke runs revoke inside a revoke trace of the account (when traces
// are on) and saves it.
func (a *Accounts) traceRevoke(ctx context.Context, acct Account, in Integration, revoke func(context.Context) (bool, error)) (bool, error) {
	if a.mgr.opts.Traces == nil {
		return revoke(ctx)
	}
	tctx, tr := startTrace(ctx, TraceRevoke, acct, in, a.o.Now)
	revoked, err := revoke(tctx)
	var d *Diagnosis
	if err != nil {
		d = Diagnose(err, DiagnosisContext{Integration: in, Grant: TraceRevoke, Now: a.o.Now()})
	}
	tr.note("the tokens are deleted locally whatever the answer")
	saveTrace(ctx, a.mgr.opts.Traces, a.o.Log, tr.finish(err, d))
	return revoked, err
}
