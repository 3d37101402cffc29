package handlers

import (
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestShortLifetimeSaidOnce: a token that lives under five minutes opens an
// alert and is a token warning; the account page says it once.
func TestShortLifetimeSaidOnce(t *testing.T) {
	ts := newTestServer(t)
	_, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Minute}, nil)
	page := ts.signedIn(store.RoleViewer).get("/accounts/" + acct.ID)
	if n := strings.Count(page.body, "The token lives only"); n != 1 {
		t.Errorf("the short lifetime is said %d times on the account page, want once", n)
	}
}
