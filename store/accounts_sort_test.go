package store

import (
	"context"
	"strings"
	"testing"

	"airlock/oauthflow"
)

// TestListAccountsSortsAndPages: the console's orders page with a keyset
// cursor, ties broken by id, and the count matches the filter.
func TestListAccountsSortsAndPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	in, err := s.CreateIntegration(ctx, sampleIntegration("acme"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, name := range []string{"delta", "Alpha", "charlie", "bravo", "echo"} {
		a, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: name, Parameters: map[string]string{"serverName": name}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = a.ID
		if i%2 == 0 {
			if err := s.SetAccountStatus(ctx, a.ID, oauthflow.StatusError, "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := func(f AccountFilter, limit int) []string {
		var names []string
		cursor := ""
		for range 10 {
			rows, next, err := s.ListAccounts(ctx, f, limit, cursor)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			for _, r := range rows {
				names = append(names, r.Name)
			}
			if next == "" {
				return names
			}
			cursor = next
		}
		t.Fatalf("%+v: more than 10 pages", f)
		return nil
	}
	if got, want := strings.Join(all(AccountFilter{Sort: "name"}, 2), ","), "Alpha,bravo,charlie,delta,echo"; got != want {
		t.Errorf("by name, 2 a page: got %s, want %s", got, want)
	}
	byStatus := all(AccountFilter{Sort: "status"}, 2)
	if len(byStatus) != 5 || byStatus[0] == "" {
		t.Fatalf("by status: got %v", byStatus)
	}
	// error < pending: the three in error come first.
	for _, n := range byStatus[:3] {
		if n != "delta" && n != "charlie" && n != "echo" {
			t.Errorf("by status: got %v, want the accounts in error first", byStatus)
		}
	}
	if got := all(AccountFilter{}, 2); len(got) != 5 {
		t.Errorf("by id: got %d accounts over the pages, want 5", len(got))
	}
	if got := all(AccountFilter{Sort: "refreshed"}, 1); len(got) != 5 {
		t.Errorf("by last refresh, 1 a page: got %v, want all 5", got)
	}
	n, err := s.CountAccountsMatching(ctx, AccountFilter{Status: oauthflow.StatusError})
	if err != nil || n != 3 {
		t.Errorf("count in error: got %d, %v, want 3", n, err)
	}
	if _, _, err := s.ListAccounts(ctx, AccountFilter{Sort: "name"}, 2, "bm90LWEtY3Vyc29y"); err == nil {
		t.Error("a cursor without a sort value was accepted")
	}
}
