package handlers

// Several replicas on one PostgreSQL database: what another replica changes
// reaches this one's caches through these (main wires them to the store's
// change notifications). The accounts service owns the account cache; these
// only pass the notification on to it.

// AccountChanged drops what the request path remembers of an account that
// another replica changed.
func (h *Handler) AccountChanged(id string) { h.accounts.Invalidate(id) }

// AllAccountsChanged drops every account the request path remembers: an
// integration changed on another replica, or its notifications may have
// been lost.
func (h *Handler) AllAccountsChanged() { h.accounts.InvalidateAll() }

// APIKeyChanged drops an API key another replica disabled or deleted, so a
// request with it is refused at once rather than after keyCacheTTL.
func (h *Handler) APIKeyChanged(hash string) { h.keys.forget(hash) }

// AllAPIKeysChanged drops every cached API key (notifications may have been lost).
func (h *Handler) AllAPIKeysChanged() {
	h.keys.mu.Lock()
	defer h.keys.mu.Unlock()
	clear(h.keys.m)
}
