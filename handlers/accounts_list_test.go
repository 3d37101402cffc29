package handlers

import (
	"net/http"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestAccountsListSortsByNameWithFiltersAndTotal: the accounts list follows
// names by default (not random ids), sorts by the other columns on request,
// offers the integration and status filters and says how many there are.
func TestAccountsListSortsByNameWithFiltersAndTotal(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	for _, n := range []string{"delta", "Alpha", "charlie", "bravo"} {
		ts.account(in, n, nil)
	}
	c := ts.signedIn(store.RoleViewer)
	r := c.get("/accounts")
	order := []int{strings.Index(r.body, ">Alpha<"), strings.Index(r.body, ">bravo<"), strings.Index(r.body, ">charlie<"), strings.Index(r.body, ">delta<")}
	for i := 1; i < len(order); i++ {
		if order[i-1] < 0 || order[i] < order[i-1] {
			t.Fatalf("accounts not in name order: positions %v", order)
		}
	}
	for _, want := range []string{"4 accounts", `id="accounts-integration"`, `id="accounts-status"`, `id="accounts-sort"`, `<option value="fake"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("accounts page lacks %q", want)
		}
	}
	if r := c.get("/accounts?sort=expiry"); r.status != http.StatusOK {
		t.Errorf("sort by expiry: got %d", r.status)
	}
	if r := c.get("/accounts?sort=bogus"); r.status != http.StatusBadRequest {
		t.Errorf("unknown sort: got %d, want 400", r.status)
	}
	if r := c.get("/accounts?status=connected"); strings.Contains(r.body, "accounts-total") {
		t.Error("no account is connected, yet a total is shown")
	}
}
