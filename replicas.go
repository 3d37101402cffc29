package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

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

// hooks are what a test build (-tags faultinject) may change in a server:
// its clock (nil: time.Now), its refresh lease (0: the default) and a
// handler in front of its routes (nil: none), which may wait for the token
// manager's refreshes (settle). Normal builds have none.
type hooks struct {
	now      func() time.Time
	leaseTTL time.Duration
	wrap     func(next http.Handler, settle func(context.Context) error) http.Handler
}

func (h hooks) handler(next http.Handler, settle func(context.Context) error) http.Handler {
	if h.wrap == nil {
		return next
	}
	return h.wrap(next, settle)
}
