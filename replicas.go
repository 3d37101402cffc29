package main

import (
	"context"
	"log/slog"

	"airlock/handlers"
	"airlock/oauthflow"
	"airlock/store"
)

// listenToReplicas drops what this replica caches of the rows other
// replicas change, as they commit (on PostgreSQL; on SQLite there are no
// other replicas and it returns at once). An account's change also drops
// the token the manager holds for it; a lost notification connection drops
// everything the request path caches, until it is listening again.
func listenToReplicas(ctx context.Context, st *store.Store, h *handlers.Handler, mgr *oauthflow.Manager, log *slog.Logger) {
	st.ListenChanges(ctx, store.ChangeListener{
		Changed: func(c store.Change) {
			switch {
			case c.Integrations:
				h.AllAccountsChanged()
			case c.APIKeyHash != "":
				h.APIKeyChanged(c.APIKeyHash)
			case c.AccountID != "":
				mgr.Forget(c.AccountID)
				h.AccountChanged(c.AccountID)
			}
		},
		Lost: func() {
			h.AllAccountsChanged()
			h.AllAPIKeysChanged()
		},
		Warn: func(msg string, err error) { log.Warn(msg, "err", err) },
	})
}
