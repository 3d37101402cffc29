package oauthflow

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"
)

// NewAccount is an account to create.
type NewAccount struct {
	Name       string
	Parameters map[string]string
	Actor      string
	// Connect makes it ready at once: a client-credentials account gets its
	// token (a failed request leaves it created, in status error), an
	// authorization-code account a connect link.
	Connect bool
	// Credentials are what an api_token, basic or custom_token account
	// supplies (its integration's credential fields): required there, and
	// the account is connected with them at once.
	Credentials map[string]string
}

// Created is a new account and, for authorization code with Connect, the
// link that connects it.
type Created struct {
	Account    Account
	ConnectURL string
	// Failure says why a custom_token account's first fetch failed: the
	// account is created anyway, in status error.
	Failure error
}

// invalidAccount is the error for an account's field problems.
func invalidAccount(fe FieldErrors) error {
	return &Error{Code: CodeInvalidFields, Message: "Some fields are not valid: see fields.", Fields: fe}
}

// Create adds an account to the integration with the key, after checking
// its name and values (ValidateAccount).
func (a *Accounts) Create(ctx context.Context, integrationKey string, n NewAccount) (Created, error) {
	in, err := a.st.GetIntegration(ctx, integrationKey)
	if CodeOf(err) == CodeNotFound {
		return Created{}, notFound("No integration has the key " + integrationKey + ".")
	}
	if err != nil {
		return Created{}, err
	}
	values := n.Parameters
	if values == nil {
		values = map[string]string{}
	}
	fe := ValidateAccount(in, n.Name, values)
	var creds map[string]string
	if in.UsesCredentials() {
		creds = trimCredentials(n.Credentials)
		for k, msg := range ValidateCredentials(in, creds) {
			if fe == nil {
				fe = FieldErrors{}
			}
			fe[k] = msg
		}
	} else if len(n.Credentials) > 0 {
		fe = FieldErrors{"credentials": "This integration uses OAuth 2.0: its accounts connect with Connect; remove credentials."}
	}
	if fe != nil {
		return Created{}, invalidAccount(fe)
	}
	acct, err := a.st.AddAccount(ctx, Account{IntegrationID: in.ID, Name: n.Name, Parameters: n.Parameters})
	if err == nil && in.UsesCredentials() {
		return a.useCredentials(ctx, acct, in, creds, n.Actor)
	}
	if err != nil || !n.Connect {
		return Created{Account: acct}, err
	}
	var out Created
	if in.OAuth2.GrantType == GrantClientCredentials {
		if in.OAuth2.ClientSecret, err = a.st.IntegrationSecret(ctx, in.ID); err != nil {
			return Created{}, err
		}
		if err := a.connectNow(ctx, acct, in); err != nil {
			if serr := a.st.SetAccountStatus(ctx, acct.ID, StatusError, err.Error()); serr != nil {
				return Created{}, serr
			}
			a.changed(acct.ID)
		}
	} else if out.ConnectURL, _, err = a.newLink(ctx, acct, n.Actor); err != nil {
		return Created{}, err
	}
	out.Account, err = a.st.Account(ctx, acct.ID)
	return out, err
}

// AccountChange renames an account and/or sets its values.
type AccountChange struct {
	Name       *string           // nil keeps the name
	Parameters map[string]string // nil keeps the values
	Actor      string
}

// Updated is an account after a change; Reconnect says the change left it
// needing a reconnection it did not need before.
type Updated struct {
	Account   Account
	Reconnect bool
}

// Update renames an account and sets its values, checked like a new
// account's. Values that change where its credentials go (a parameter of a
// credential destination: token, revoke, API base or health check URL, the
// token's parameter name) first revoke its tokens at the endpoints recorded
// with them, with the values they were obtained with, and delete them: the
// account needs a reconnection under its new values, and nothing of the old
// grant is left to be sent to the new hosts. Other changed values keep the
// tokens and mark the account needs_reconnect.
func (a *Accounts) Update(ctx context.Context, id string, ch AccountChange) (Updated, error) {
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return Updated{}, err
	}
	name, values := acct.Name, acct.Parameters
	if ch.Name != nil {
		name = *ch.Name
	}
	if ch.Parameters != nil {
		values = ch.Parameters
	}
	if fe := ValidateAccount(in, name, values); fe != nil {
		return Updated{}, invalidAccount(fe)
	}
	defer a.written(id) // after the write: a load racing it is not cached
	var upd Account
	if !DestinationChanged(in, acct.Parameters, values) {
		upd, err = a.st.SetAccountValues(ctx, id, name, values)
	} else {
		defer a.holdLease(ctx, id)()
		revoked, detail, rerr := a.revokeStored(ctx, acct, in)
		if rerr != nil {
			return Updated{}, rerr
		}
		upd, err = a.st.ResetAccountValues(ctx, id, name, values, revoked, "the parameters changed: "+detail, ch.Actor)
	}
	if err != nil {
		return Updated{}, err
	}
	return Updated{Account: upd, Reconnect: upd.Status == StatusNeedsReconnect && acct.Status != upd.Status}, nil
}

// Disconnected is an account whose tokens were deleted: whether the
// provider confirmed their revocation, and whether it has an endpoint to.
type Disconnected struct {
	Account        Account
	Revoked        bool
	RevokeEndpoint bool
}

// Disconnect revokes the account's tokens at the revoke endpoint recorded
// with them (refresh token first), then deletes them whatever the answer,
// and records the outcome.
func (a *Accounts) Disconnect(ctx context.Context, id, actor string) (Disconnected, error) {
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return Disconnected{}, err
	}
	revoked, err := a.disconnect(ctx, acct, in, actor)
	return Disconnected{Account: acct, Revoked: revoked, RevokeEndpoint: in.OAuth2.RevokeURL != ""}, err
}

// Delete disconnects the account (revoking its tokens where the provider
// allows it) and removes it.
func (a *Accounts) Delete(ctx context.Context, id, actor string) (Disconnected, error) {
	d, err := a.Disconnect(ctx, id, actor)
	if err != nil {
		return d, err
	}
	if err := a.st.DeleteAccount(ctx, id); err != nil {
		return d, err
	}
	a.written(id)
	return d, nil
}

func (a *Accounts) disconnect(ctx context.Context, acct Account, in Integration, actor string) (bool, error) {
	defer a.written(acct.ID) // after the write: a load racing it is not cached
	defer a.holdLease(ctx, acct.ID)()
	revoked, detail, err := a.revokeStored(ctx, acct, in)
	if err != nil {
		return false, err
	}
	return revoked, a.st.DisconnectAccount(ctx, acct.ID, revoked, detail, actor)
}

// holdLease waits (up to 15 s) for a refresh under way, here or in another
// process, to finish and holds the account's lease, so the token revoked
// next is the latest one, not one a refresh just replaced. It returns the
// release. When the lease is not had, the change goes on: the token
// version it moves on stops that refresh from saving.
func (a *Accounts) holdLease(ctx context.Context, accountID string) func() {
	holder := "disconnect-" + randomToken()[:12]
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := a.st.AcquireLease(ctx, accountID, holder, time.Minute)
		if ok {
			return func() {
				rctx, cancel := detached(ctx)
				defer cancel()
				a.st.ReleaseLease(rctx, accountID, holder)
			}
		}
		if err != nil || time.Now().After(deadline) {
			return func() {}
		}
		select {
		case <-ctx.Done():
			return func() {}
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// revokeStored revokes the account's stored tokens where they were obtained
// (the revoke endpoint recorded with them; acct's values fill in the client
// id and secret) and says what happened, for the activity. The caller
// deletes the tokens whatever the answer.
func (a *Accounts) revokeStored(ctx context.Context, acct Account, in Integration) (bool, string, error) {
	tok, err := a.st.LoadToken(ctx, acct.ID)
	if errors.Is(err, ErrNoToken) {
		return false, "no token to revoke", nil
	}
	if err != nil {
		return false, "", err
	}
	var revoked bool
	var rerr error
	if tok.Endpoints.Revoke != "" { // RevokeAll sends nothing without one: nothing to trace
		revoked, rerr = a.traceRevoke(ctx, acct, in, func(ctx context.Context) (bool, error) {
			return a.o.Client.RevokeAll(ctx, in, acct.Values(), tok)
		})
	}
	switch {
	case tok.Endpoints.Revoke == "" && in.OAuth2.RevokeURL == "":
		return false, "no revoke endpoint: tokens deleted locally", nil
	case tok.Endpoints.Revoke == "":
		return false, "no revoke endpoint was recorded with these tokens (obtained before one was set): tokens deleted locally", nil
	case rerr != nil:
		return false, "revocation failed (" + rerr.Error() + "): tokens deleted locally", nil
	case revoked:
		return true, "revoked at the provider and deleted", nil
	}
	return false, "tokens deleted", nil
}

// disconnectAll disconnects (revoking where possible) every account of an
// integration before the integration is deleted. Revocations run a few at a
// time, so a slow revoke endpoint costs the delete its slowest answer per
// batch, not the sum over every account.
func (a *Accounts) disconnectAll(ctx context.Context, in Integration) error {
	full, err := a.st.IntegrationWithSecret(ctx, in.ID)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	defer wg.Wait()
	for cursor := ""; ; {
		accts, next, err := a.st.IntegrationAccounts(ctx, in.ID, 200, cursor)
		if err != nil {
			return err
		}
		for _, acct := range accts {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, err := a.disconnect(ctx, acct, full, "integration deleted"); err != nil && !errors.Is(err, ErrNotFound) {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			})
		}
		if next == "" {
			wg.Wait()
			return firstErr
		}
		cursor = next
	}
}
