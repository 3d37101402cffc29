package handlers

import (
	"context"
	"errors"
	"sync"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// requestCache keeps what the request API needs of an account — the account
// row and its integration with the client secret opened — in memory, so a
// request through an account reads nothing from SQLite (the API key and the
// token have caches of their own). Without it every request ran three
// queries, and preparing them was most of Airlock's time per request.
//
// Every write this process makes to an account or an integration drops the
// entries it touches (forgetAccount, forgetAll), and so does a request whose
// token could not be had or was refreshed, since the token manager may have
// changed the account's status. What another process changes is seen within
// requestCacheTTL: an account disconnected by another Airlock keeps sending
// requests for up to that long. The secret stays in memory no longer than
// the entry; it is never logged.
type requestCache struct {
	mu sync.Mutex
	m  map[string]requestEntry
	// gen counts invalidations: a load that began before one is not cached,
	// so a slow read cannot put back what a write just dropped.
	gen uint64
}

type requestEntry struct {
	acct    store.AccountRow
	in      oauthflow.Integration
	fetched time.Time
}

const (
	requestCacheTTL = 2 * time.Second
	requestCacheMax = 10000 // bounds memory; past it the cache starts over
)

func (rc *requestCache) get(id string, now time.Time) (requestEntry, uint64, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.m[id]
	if !ok || now.Sub(e.fetched) >= requestCacheTTL || now.Before(e.fetched) {
		return requestEntry{}, rc.gen, false
	}
	return e, rc.gen, true
}

// put caches e unless something was invalidated since gen was read.
func (rc *requestCache) put(id string, e requestEntry, gen uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if gen != rc.gen {
		return
	}
	if rc.m == nil || len(rc.m) >= requestCacheMax {
		rc.m = map[string]requestEntry{}
	}
	rc.m[id] = e
}

// forgetAccount drops one account; call it after the write, not before.
func (rc *requestCache) forgetAccount(id string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen++
	delete(rc.m, id)
}

// forgetAll drops everything: after an integration changes, every account
// of it is stale, and integration writes are rare.
func (rc *requestCache) forgetAll() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen++
	clear(rc.m)
}

// requestTarget is the route's account and its integration with the client
// secret, from the cache when it can; a missing account is the API's 404.
func (h *Handler) requestTarget(ctx context.Context, id string) (store.AccountRow, oauthflow.Integration, error) {
	e, gen, ok := h.reqs.get(id, h.now())
	if ok {
		return e.acct, e.in, nil
	}
	r, err := h.store.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, oauthflow.Integration{}, apiErr("not_found", "No account has the id "+id+".", nil)
	}
	if err != nil {
		return r, oauthflow.Integration{}, err
	}
	in, err := h.store.IntegrationWithSecret(ctx, r.IntegrationID)
	if err != nil {
		return r, in, err
	}
	h.reqs.put(id, requestEntry{acct: r, in: in, fetched: h.now()}, gen)
	return r, in, nil
}

// accountChanged reports whether a request's outcome may have changed the
// account's row: a refresh (saved, or failed and recorded), a token that
// could not be had, a second rejection. A refused URL or an API that did
// not answer leaves the account as it was.
func accountChanged(resp *oauthflow.Response, err error) bool {
	if err != nil {
		var re *oauthflow.RequestError
		var ue *oauthflow.UpstreamError
		return !errors.As(err, &re) && !errors.As(err, &ue)
	}
	return resp.Refreshed || resp.Attempts > 1 || resp.RefreshNote != ""
}

// accountWritten drops what this process remembers of an account whose
// parameters or tokens were just changed: its cached token and its entry in
// the request cache.
func (h *Handler) accountWritten(id string) {
	h.mgr.Forget(id)
	h.reqs.forgetAccount(id)
}

// AccountChanged tells the handler that something outside it (the keep-alive
// worker) changed an account, so the request path reads it afresh.
func (h *Handler) AccountChanged(accountID string) {
	h.reqs.forgetAccount(accountID)
}
