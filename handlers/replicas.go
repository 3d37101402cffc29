package handlers

// Several replicas on one PostgreSQL database: what another replica changes
// reaches this one's caches through these (main wires them to the store's
// change notifications).

// AllAccountsChanged drops every account the request path remembers: an
// integration changed on another replica, or its notifications may have
// been lost.
func (h *Handler) AllAccountsChanged() { h.reqs.forgetAll() }

// APIKeyChanged drops an API key another replica disabled or deleted, so a
// request with it is refused at once rather than after keyCacheTTL.
func (h *Handler) APIKeyChanged(hash string) { h.keys.forget(hash) }

// AllAPIKeysChanged drops every cached API key (notifications may have been lost).
func (h *Handler) AllAPIKeysChanged() {
	h.keys.mu.Lock()
	defer h.keys.mu.Unlock()
	clear(h.keys.m)
}
