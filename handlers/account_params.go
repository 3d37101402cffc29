package handlers

import (
	"context"

	"airlock/oauthflow"
	"airlock/store"
)

// saveAccount renames an account and sets its parameter values, for the
// console form and the API alike. Values that change where the account's
// credentials go (a parameter of a credential destination: token, revoke,
// API base or health check URL, the token's parameter name) first revoke its
// tokens at the endpoints recorded with them, with the values they were
// obtained with, and delete them: the account needs a reconnection under its
// new values, and nothing of the old grant is left to be sent to the new
// hosts. Other changes keep the tokens and mark the account needs_reconnect.
func (h *Handler) saveAccount(ctx context.Context, r store.AccountRow, name string, params map[string]string, actor string) (store.AccountRow, error) {
	in, err := h.store.IntegrationWithSecret(ctx, r.IntegrationID)
	if err != nil {
		return r, err
	}
	defer h.accountWritten(r.ID)
	if !oauthflow.DestinationChanged(in, r.Parameters, params) {
		return h.store.UpdateAccount(ctx, r.ID, name, params)
	}
	defer h.holdLease(ctx, r.ID)()
	revoked, detail, err := h.revokeStored(ctx, r.Account, in)
	if err != nil {
		return r, err
	}
	return h.store.ReplaceAccountParameters(ctx, r.ID, name, params, revoked, "the parameters changed: "+detail, actor)
}
