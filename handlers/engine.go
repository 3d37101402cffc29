package handlers

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// ErrNoSecret means an (imported) integration cannot connect until its
// client secret is set.
var errNoSecret = &oauthflow.Error{Code: oauthflow.CodeConflict, Message: "this integration has no client secret yet: set it on the integration before connecting accounts"}

// connectNow requests a client-credentials token at once.
func (h *Handler) connectNow(ctx context.Context, acct oauthflow.Account, in oauthflow.Integration) error {
	if !in.OAuth2.ClientSecretSet {
		return errNoSecret
	}
	_, err := h.mgr.Refresh(ctx, acct, in, oauthflow.ReasonConnect)
	h.accounts.Invalidate(acct.ID)
	return err
}

// disconnect revokes the account's tokens at the revoke endpoint recorded
// with them (refresh token first), then deletes them locally whatever the
// answer, and records the outcome.
func (h *Handler) disconnect(ctx context.Context, acct oauthflow.Account, in oauthflow.Integration, actor string) (bool, error) {
	defer h.accountWritten(acct.ID)
	defer h.holdLease(ctx, acct.ID)()
	revoked, detail, err := h.revokeStored(ctx, acct, in)
	if err != nil {
		return false, err
	}
	return revoked, h.store.DisconnectAccount(ctx, acct.ID, revoked, detail, actor)
}

// holdLease waits for a refresh under way (here or in another process) to
// finish and holds the account's lease, so the token revoked next is the
// latest one, not one a refresh just replaced. It returns the release.
func (h *Handler) holdLease(ctx context.Context, accountID string) func() {
	holder := "disconnect-" + randomToken()[:12]
	if !h.waitLease(ctx, accountID, holder) {
		return func() {}
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		h.store.ReleaseLease(rctx, accountID, holder)
	}
}

// revokeStored revokes the account's stored tokens where they were obtained
// (the revoke endpoint recorded with them; acct's values fill in the client
// id and secret) and says what happened, for the activity. The caller
// deletes the tokens whatever the answer.
func (h *Handler) revokeStored(ctx context.Context, acct oauthflow.Account, in oauthflow.Integration) (bool, string, error) {
	tok, err := h.store.LoadToken(ctx, acct.ID)
	if errors.Is(err, oauthflow.ErrNoToken) {
		return false, "no token to revoke", nil
	}
	if err != nil {
		return false, "", err
	}
	revoked, rerr := h.tokens.RevokeAll(ctx, in, acct.Parameters, tok)
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

// waitLease takes the account's refresh lease, waiting up to 15 s for a
// refresh that holds it; false means it was not taken (the disconnect goes
// on: the version bump still stops that refresh from saving).
func (h *Handler) waitLease(ctx context.Context, accountID, holder string) bool {
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := h.store.AcquireLease(ctx, accountID, holder, time.Minute)
		if ok || err != nil || time.Now().After(deadline) {
			return ok
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// disconnectAllAccounts disconnects (revoking where possible) every
// account of an integration before the integration is deleted.
func (h *Handler) disconnectAllAccounts(ctx context.Context, in oauthflow.Integration) error {
	full, err := h.store.IntegrationWithSecret(ctx, in.ID)
	if err != nil {
		return err
	}
	// Revocations run a few at a time, so a slow revoke endpoint costs the
	// delete its slowest answer per batch, not the sum over every account.
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	cursor := ""
	for {
		rows, next, err := h.store.ListAccounts(ctx, store.AccountFilter{IntegrationID: in.ID}, 200, cursor)
		if err != nil {
			wg.Wait()
			return err
		}
		for _, r := range rows {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := h.disconnect(ctx, r.Account, full, "integration deleted"); err != nil && !errors.Is(err, store.ErrNotFound) {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}()
		}
		if next == "" {
			wg.Wait()
			return firstErr
		}
		cursor = next
	}
}

// accountWritten drops what this process remembers of an account whose
// parameters or tokens were just changed (after the write: a load racing it
// is not cached).
func (h *Handler) accountWritten(id string) {
	h.mgr.Forget(id)
	h.accounts.Invalidate(id)
}
