package oauthflow

import (
	"testing"
	"time"
)

func TestRequestCacheDropsLoadsThatRacedAWrite(t *testing.T) {
	var rc accountCache
	now := time.Now()
	_, gen, ok := rc.get("a", now)
	if ok {
		t.Fatal("empty cache answered")
	}
	rc.forget("a") // a write lands while the load is under way
	rc.put("a", cacheEntry{fetched: now}, gen)
	if _, _, ok := rc.get("a", now); ok {
		t.Error("a load older than a write was cached")
	}
	_, gen, _ = rc.get("a", now)
	rc.put("a", cacheEntry{fetched: now}, gen)
	if _, _, ok := rc.get("a", now.Add(AccountsCacheTTL-time.Millisecond)); !ok {
		t.Error("entry gone before its TTL")
	}
	if _, _, ok := rc.get("a", now.Add(AccountsCacheTTL)); ok {
		t.Error("entry still served at its TTL")
	}
	rc.forgetAll()
	if _, _, ok := rc.get("a", now); ok {
		t.Error("forgetAll kept an entry")
	}
}
