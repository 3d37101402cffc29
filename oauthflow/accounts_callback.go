package oauthflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
)

// CallbackRequest is the realm callback as it arrived.
type CallbackRequest struct {
	Query url.Values
	// SessionHash is the browser session it arrived in.
	SessionHash string
	// User is the signed-in console user; "" for someone who opened a
	// connect link, who is told no details (they are for the console's
	// users, who find them on the account).
	User string
}

// Connected is a completed callback.
type Connected struct {
	Account Account
	ViaLink bool // the flow began at a connect link
	// TraceID is the connect's trace (0 when traces are off); set also
	// when the connect failed after its state was checked.
	TraceID int64
}

// refused is a callback refused before any call to the token endpoint.
func refused(title, msg string, err error) error {
	return &Error{Code: CodeBadRequest, Title: title, Message: msg, Err: err}
}

// CompleteCallback finishes an authorization-code flow. It refuses, without
// calling the token endpoint, a callback whose state is missing, unknown,
// expired, used or from another browser, one carrying an error, one whose
// iss is not the expected issuer, one without a code, and one whose connect
// link is spent or in use in another browser. Otherwise it exchanges the
// code at the token endpoint recorded in the flow, stores the token and
// spends the account's connect links. Refusals carry a title for a page.
func (a *Accounts) CompleteCallback(ctx context.Context, r CallbackRequest) (res Connected, err error) {
	q := r.Query
	if q.Get("state") == "" {
		return Connected{}, refused("The provider sent no state", "The answer from the provider is incomplete, so Airlock cannot tell which connection it belongs to. Start the connection again from the account page.", nil)
	}
	flow, err := a.st.TakeFlow(ctx, q.Get("state"), r.SessionHash)
	if err != nil {
		return Connected{}, flowRefusal(err)
	}
	acct, err := a.st.Account(ctx, flow.AccountID)
	if err != nil {
		return Connected{}, refused("The account is gone", "The account this sign-in was for no longer exists.", err)
	}
	in, err := a.st.IntegrationWithSecret(ctx, flow.IntegrationID)
	if err != nil {
		return Connected{}, err
	}
	var tok Token
	ctx, tr := a.traceConnect(ctx, acct, in, flow, q)
	defer func() {
		res.TraceID = a.endConnect(ctx, tr, err, in, flow, tok)
		if err != nil {
			res.Account = acct // so the page of a failed connect can lead back to it
		}
	}()
	if err := a.checkAnswer(ctx, acct, in, q, r.User); err != nil {
		return Connected{}, err
	}
	if err := a.callbackCaptures(ctx, &acct, in, q); err != nil {
		return Connected{}, err
	}
	release, err := a.claimLink(ctx, flow)
	if err != nil {
		return Connected{}, err
	}
	tok, err = a.exchange(ctx, acct, in, flow, q.Get("code"))
	if err != nil {
		release()
		d := Diagnose(err, DiagnosisContext{Integration: in, Grant: TraceConnect, RedirectURI: flow.RedirectURI, Now: a.o.Now()})
		a.recordCallbackFailure(ctx, acct, Explain(err, d))
		return Connected{}, exchangeRefusal(err, r.User)
	}
	facts, err := a.facts(ctx, acct, in, q, tok, r.User)
	if err != nil {
		release()
		return Connected{}, err
	}
	if _, err := a.mgr.ConnectWith(ctx, acct, in, tok, cmp.Or(r.User, "connect link"), facts); err != nil {
		release()
		return Connected{}, err
	}
	a.changed(acct.ID)
	if err := a.st.SpendConnectLinks(ctx, acct.ID); err != nil {
		return Connected{}, err
	}
	return Connected{Account: acct, ViaLink: flow.ConnectLink != ""}, nil
}

// flowRefusal words why a state took no flow.
func flowRefusal(err error) error {
	switch {
	case errors.Is(err, ErrFlowOtherSession):
		// The flow stays: the browser that started it can still complete it.
		return refused("Started in another browser", "This sign-in was started in a different browser or session, so Airlock refused it. Start the connection again in this browser.", err)
	case errors.Is(err, ErrNotFound):
		return refused("Unknown sign-in", "Airlock did not start this sign-in (or it was cleaned up long ago). Start the connection again from the account page.", err)
	case errors.Is(err, ErrFlowUsed):
		return refused("This sign-in was already used", "Each sign-in link works once. If the account is not connected, start the connection again.", err)
	case errors.Is(err, ErrFlowExpired):
		return refused("This sign-in expired", "More than 10 minutes passed between leaving Airlock and coming back. Start the connection again.", err)
	}
	return err
}

// checkAnswer refuses a provider's error, an unexpected issuer (RFC 9207:
// a mix-up attack sends another provider's answer here) and a missing code.
// Provider text is scrubbed of the account's credentials before it is shown
// or recorded.
func (a *Accounts) checkAnswer(ctx context.Context, acct Account, in Integration, q url.Values, user string) error {
	if perr := q.Get("error"); perr != "" {
		said := perr
		if d := q.Get("error_description"); d != "" {
			said += ": " + d
		}
		said = ScrubProviderText(said, SecretsFor(in, acct.Values(), Token{}))
		if perr == "access_denied" {
			return a.connectCancelled(ctx, acct, said, user)
		}
		msg := "The provider answered " + said
		a.recordCallbackFailure(ctx, acct, msg)
		return refused("The provider did not grant access", msg+". Start the connection again, and approve the access on the provider's page.", nil)
	}
	if in.OAuth2.Issuer != "" && q.Get("iss") != in.OAuth2.Issuer {
		iss := ScrubProviderText(q.Get("iss"), SecretsFor(in, acct.Values(), Token{}))
		msg := "The answer came from issuer \"" + iss + "\", but this integration expects \"" + in.OAuth2.Issuer + "\""
		if q.Get("iss") == "" {
			msg = "The answer carries no iss, but this integration expects issuer \"" + in.OAuth2.Issuer + "\""
		}
		a.recordCallbackFailure(ctx, acct, msg)
		return refused("Wrong issuer", msg+". This can be a mix-up attack; check the integration's expected issuer, then start again.", nil)
	}
	if q.Get("code") == "" {
		return refused("The provider sent no code", "The answer from the provider has no authorization code. Start the connection again.", nil)
	}
	return nil
}

// connectCancelled answers a connect declined on the provider's page
// (access_denied): nothing failed, so it is recorded as a cancelled connect,
// and the account keeps its status and tokens, a working one with no error.
func (a *Accounts) connectCancelled(ctx context.Context, acct Account, said, user string) error {
	if err := a.st.RecordConnectCancelled(ctx, acct.ID, "The provider answered "+said, cmp.Or(user, "connect link")); err != nil {
		a.o.Log.Warn("record cancelled connect", "account_id", acct.ID, "err", err)
	}
	a.changed(acct.ID)
	msg := "Access was declined on the provider's page (it answered " + said + "), so nothing changed."
	if acct.Status == StatusConnected {
		msg += " The account keeps working with the access it had."
	}
	return refused("The connection was cancelled", msg+" To connect, start again and approve the access.", nil)
}

// claimLink claims the connect link that started flow, if any, for its code
// exchange: two browsers that opened one link cannot both exchange. It
// returns the function that gives the claim back when the exchange (or the
// save after it) fails; a success spends the link with the account's others.
func (a *Accounts) claimLink(ctx context.Context, flow Flow) (release func(), err error) {
	if flow.ConnectLink == "" {
		return func() {}, nil
	}
	err = a.st.ClaimConnectLink(ctx, flow.ConnectLink, flow.StateHash, linkClaimTTL)
	switch {
	case errors.Is(err, ErrLinkSpent), errors.Is(err, ErrNotFound):
		return nil, refused("This link was already used", "The account is already connected. If it needs connecting again, ask for a new link.", err)
	case errors.Is(err, ErrLinkInUse):
		return nil, refused("This link is in use", "The account is being connected with this link in another browser right now. If that does not succeed, open the link again.", err)
	case err != nil:
		return nil, err
	}
	return func() {
		rctx, cancel := detached(ctx)
		defer cancel()
		if err := a.st.ReleaseConnectLink(rctx, flow.ConnectLink, flow.StateHash); err != nil {
			a.o.Log.Warn("release connect link", "account_id", flow.AccountID, "err", err)
		}
	}, nil
}

// exchange trades the code at the token endpoint recorded with the flow,
// never one built from the request or from values changed since; the
// revocation and refresh endpoints are the integration's, filled in with the
// account's values (changing those values revokes and deletes the tokens).
func (a *Accounts) exchange(ctx context.Context, acct Account, in Integration, flow Flow, code string) (Token, error) {
	revoke, err := revokeEndpoint(in, acct.Values())
	if err != nil {
		return Token{}, err
	}
	refresh, err := refreshEndpoint(in, acct.Values())
	if err != nil {
		return Token{}, err
	}
	ep := Endpoints{Token: flow.TokenURL, Revoke: revoke, Refresh: refresh}
	if ep.Token == "" { // it uses a callback capture: resolved now, with the value just checked
		u, err := ExpandURL(in.OAuth2.TokenURL, acct.Values())
		if err != nil {
			return Token{}, &TokenError{Kind: KindConfig, Err: fmt.Errorf("build the token URL: %w", err)}
		}
		ep.Token = u.String()
	}
	return a.o.Client.ExchangeCode(ctx, in, acct.Values(), ep, code, flow.Verifier, flow.RedirectURI)
}

// exchangeRefusal words a failed code exchange: a 502 when it may pass, a
// 400 otherwise; the details go to console users only.
func exchangeRefusal(err error, user string) error {
	code := CodeBadRequest
	if Classify(err) == KindTemporary {
		code = CodeUpstreamUnreachable
	}
	msg := err.Error() + ". Check the integration, then start the connection again."
	if user == "" {
		msg = "The provider approved, but Airlock could not complete the connection. Tell the person who sent you the link: the reason is on the account in Airlock."
	}
	return &Error{Code: code, Title: "The connection could not be completed", Message: msg, Err: err}
}

// recordCallbackFailure puts a failed connection on the account and its activity.
func (a *Accounts) recordCallbackFailure(ctx context.Context, acct Account, msg string) {
	ev := RefreshEvent{Reason: ReasonConnect, Error: msg, Kind: KindConfig}
	if err := a.st.RecordRefreshFailure(ctx, acct.ID, ev); err != nil {
		a.o.Log.Warn("record callback failure", "account_id", acct.ID, "err", err)
	}
	a.changed(acct.ID)
}
