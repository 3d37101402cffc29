package oauthflow

import (
	"context"
	"sync"
	"time"
)

// accountCache keeps what the request path needs of an account — the
// account and its integration with the client secret opened — in memory,
// so a request through an account reads nothing from the database (the
// token has the manager's cache, the API key the handlers'). Without it
// every request ran three queries, and preparing them was most of Airlock's
// time per request.
//
// The service drops an account's entry after each of its own writes to it,
// after each token save or failure of the manager (keep-alive included),
// and every entry after an integration write. What another process writes
// arrives through Invalidate, or is seen within AccountsCacheTTL. The
// secret stays in memory no longer than the entry; it is never logged.
type accountCache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
	// gen counts invalidations: a load that began before one is not cached,
	// so a slow read cannot put back what a write just dropped.
	gen uint64
}

type cacheEntry struct {
	acct    Account
	in      Integration
	fetched time.Time
}

// AccountsCacheTTL bounds how long the request path may use an account as
// it was read: a write by another process that sends no notification is
// seen after at most this long.
const AccountsCacheTTL = 2 * time.Second

// accountCacheMax bounds memory; past it the cache starts over.
const accountCacheMax = 10000

func (c *accountCache) get(id string, now time.Time) (cacheEntry, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.Sub(e.fetched) >= AccountsCacheTTL || now.Before(e.fetched) {
		return cacheEntry{}, c.gen, false
	}
	return e, c.gen, true
}

// put caches e unless something was invalidated since gen was read.
func (c *accountCache) put(id string, e cacheEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= accountCacheMax {
		c.m = map[string]cacheEntry{}
	}
	c.m[id] = e
}

// forget drops one account; call it after the write, not before.
func (c *accountCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, id)
}

// forgetAll drops everything: after an integration changes, every account
// of it is stale, and integration writes are rare.
func (c *accountCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// Invalidate drops what the request path remembers of an account, for a
// write another process made to it.
func (a *Accounts) Invalidate(accountID string) { a.cache.forget(accountID) }

// InvalidateAll drops everything the request path remembers, for an
// integration another process changed.
func (a *Accounts) InvalidateAll() { a.cache.forgetAll() }

// Get is an account as the request path reads it: from the cache while
// fresh, else from the store (with its integration, which is cached too).
func (a *Accounts) Get(ctx context.Context, id string) (Account, error) {
	acct, _, err := a.target(ctx, id)
	return acct, err
}

// target is the account and its integration with the client secret, from
// the cache when it can.
func (a *Accounts) target(ctx context.Context, id string) (Account, Integration, error) {
	e, gen, ok := a.cache.get(id, a.o.Now())
	if ok {
		return e.acct, e.in, nil
	}
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return acct, in, err
	}
	a.cache.put(id, cacheEntry{acct: acct, in: in, fetched: a.o.Now()}, gen)
	return acct, in, nil
}
