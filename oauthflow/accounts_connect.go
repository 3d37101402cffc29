package oauthflow

import (
	"context"
	"errors"
	"time"
)

// Lifetimes of a connection.
const (
	// FlowLifetime is how long a consent may take, from leaving Airlock to
	// the callback.
	FlowLifetime = 10 * time.Minute
	// ConnectLinkLifetime is how long a connect link works.
	ConnectLinkLifetime = 30 * time.Minute
	// linkClaimTTL bounds a connect link's claim when the process dies
	// during the exchange (which itself ends within the outbound timeout).
	linkClaimTTL = 2 * time.Minute
)

// errNoSecret: an (imported) integration cannot connect until its client
// secret is set.
var errNoSecret = &Error{Code: CodeConflict, Message: "this integration has no client secret yet: set it on the integration before connecting accounts"}

// ConnectRequest is who connects an account and in which browser.
type ConnectRequest struct {
	// Session is the hash of the browser session a flow is bound to. It is
	// asked for only when a flow starts, so a caller can save a session
	// that has none just then.
	Session func() (string, error)
}

// ConnectResult is where a connection went.
type ConnectResult struct {
	// AuthURL is the provider's consent page (authorization code).
	AuthURL string
	// ClientCredentials: a token was asked for at once; Failure says why
	// none came.
	ClientCredentials bool
	Failure           error
}

// Connect starts a connection: for authorization code a pending flow bound
// to the browser session and the consent URL to send it to; for client
// credentials a token at once.
func (a *Accounts) Connect(ctx context.Context, id string, r ConnectRequest) (ConnectResult, error) {
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return ConnectResult{}, err
	}
	switch {
	case in.StaticCredentials():
		return ConnectResult{}, conflict("This account connects with its credentials: set them (PUT /api/v1/accounts/"+id+"/credentials or the account page's form).", nil)
	case in.Type() == AuthCustomToken:
		_, ferr := a.mgr.Refresh(ctx, acct, in, ReasonConnect)
		a.changed(acct.ID)
		return ConnectResult{ClientCredentials: true, Failure: ferr}, nil
	case in.OAuth2.GrantType == GrantClientCredentials:
		return ConnectResult{ClientCredentials: true, Failure: a.connectNow(ctx, acct, in)}, nil
	}
	u, err := a.startFlow(ctx, acct, in, "", r.Session)
	return ConnectResult{AuthURL: u}, err
}

// connectNow requests a client-credentials token.
func (a *Accounts) connectNow(ctx context.Context, acct Account, in Integration) error {
	if !in.OAuth2.ClientSecretSet {
		return errNoSecret
	}
	_, err := a.mgr.Refresh(ctx, acct, in, ReasonConnect)
	a.changed(acct.ID)
	return err
}

// startFlow creates a pending authorization-code flow and returns the
// provider's authorization URL. The token endpoint is resolved now, with the
// account's values, and recorded with the flow: the callback exchanges the
// code there and nowhere else.
func (a *Accounts) startFlow(ctx context.Context, acct Account, in Integration, linkHash string, session func() (string, error)) (string, error) {
	if !in.OAuth2.ClientSecretSet {
		return "", errNoSecret
	}
	state, err := NewState()
	if err != nil {
		return "", err
	}
	verifier := NewVerifier()
	authURL, err := AuthorizationURL(in, acct.Values(), a.o.CallbackURL, state, verifier)
	if err != nil {
		return "", conflict("The authorization endpoint cannot be built from this account's values: "+err.Error()+". Edit the account's parameter values.", err)
	}
	tokenURL, err := flowTokenURL(in, acct.Values())
	if err != nil {
		return "", conflict("The token endpoint cannot be built from this account's values: "+err.Error()+". Edit the account's parameter values.", err)
	}
	sessionHash, err := session()
	if err != nil {
		return "", err
	}
	now := a.o.Now()
	err = a.st.CreateFlow(ctx, state, Flow{SessionHash: sessionHash, AccountID: acct.ID, IntegrationID: in.ID, Verifier: verifier,
		RedirectURI: a.o.CallbackURL, TokenURL: tokenURL, Realm: a.o.Realm, ConnectLink: linkHash,
		CreatedAt: now, ExpiresAt: now.Add(FlowLifetime)})
	if err != nil {
		return "", err
	}
	return authURL, nil
}

// ConnectLink makes a link with which someone who is not a console user
// connects the account: its URL and when it stops working. Only an
// authorization-code account has one.
func (a *Accounts) ConnectLink(ctx context.Context, id, actor string) (string, time.Time, error) {
	acct, err := a.account(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	in, err := a.st.GetIntegrationByID(ctx, acct.IntegrationID)
	if err != nil {
		return "", time.Time{}, err
	}
	if in.OAuth2.GrantType != GrantAuthorizationCode {
		return "", time.Time{}, conflict("This account uses client credentials: it connects without a person signing in, so it has no connect link.", nil)
	}
	return a.newLink(ctx, acct, actor)
}

func (a *Accounts) newLink(ctx context.Context, acct Account, actor string) (string, time.Time, error) {
	token := randomToken()
	l, err := a.st.CreateConnectLink(ctx, token, acct.ID, actor, ConnectLinkLifetime)
	if err != nil {
		return "", time.Time{}, err
	}
	return a.o.PublicURL + "/connect/" + token, l.ExpiresAt, nil
}

// OpenLink starts the flow of a connect link in the browser that opened it
// and returns the consent URL. Refusals carry a title for a page of their
// own.
func (a *Accounts) OpenLink(ctx context.Context, token string, session func() (string, error)) (string, error) {
	link, err := a.st.GetConnectLink(ctx, token)
	switch {
	case errors.Is(err, ErrLinkSpent):
		return "", &Error{Code: CodeGone, Title: "This link was already used",
			Message: "The account was connected with this link. If it needs connecting again, ask for a new link.", Err: err}
	case errors.Is(err, ErrNotFound):
		return "", &Error{Code: CodeNotFound, Title: "This link does not work",
			Message: "The link is mistyped or expired (links work for 30 minutes). Ask the person who sent it for a new one.", Err: err}
	case err != nil:
		return "", err
	}
	acct, err := a.st.Account(ctx, link.AccountID)
	if err != nil {
		return "", err
	}
	in, err := a.st.GetIntegrationByID(ctx, acct.IntegrationID)
	if err != nil {
		return "", err
	}
	if in.OAuth2.GrantType != GrantAuthorizationCode {
		return "", &Error{Code: CodeConflict, Title: "Nothing to sign in to",
			Message: "This account uses client credentials and connects without a person signing in."}
	}
	u, err := a.startFlow(ctx, acct, in, link.TokenHash, session)
	if err != nil {
		return "", &Error{Code: CodeConflict, Title: "Cannot connect yet", Message: err.Error(), Err: err}
	}
	return u, nil
}
