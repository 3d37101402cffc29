package handlers

import (
	"airlock/oauthflow/benchload"

	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// Size of the seeded console store.
const (
	seedIntegrations = 1000
	seedAccounts     = 10000
	seedActivity     = 10 // request rows per account, on top of the connection's
)

// seedConsole fills the store through its exported methods: integrations,
// accounts (every other one connected, one in a hundred of those needing
// a reconnect, with an open alert), and activity. It returns the id of a
// connected account that has history, for the account page.
func seedConsole(b *testing.B, st *store.Store, integrations, accounts int) string {
	b.Helper()
	ctx := context.Background()
	ins := make([]oauthflow.Integration, integrations)
	for i := range ins {
		in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: fmt.Sprintf("int%04d", i), Name: fmt.Sprintf("Integration %d", i),
			Parameters: []oauthflow.Parameter{{Name: "tenant"}},
			OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: "https://idp.example/{tenant}/authorize",
				TokenURL: "https://idp.example/{tenant}/token", ClientID: "client", ClientSecret: "seeded-client-secret"},
			APIBaseURLs: []string{"https://api.example/{tenant}/"}})
		if err != nil {
			b.Fatal(err)
		}
		ins[i] = in
	}
	now := time.Now()
	var picked string
	var acts []store.Activity
	for i := range accounts {
		in := ins[i%len(ins)]
		r, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: fmt.Sprintf("acct-%05d", i),
			Parameters: map[string]string{"tenant": fmt.Sprintf("t%05d", i)}})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 || i == accounts/2 {
			picked = r.ID
		}
		if i%2 == 1 {
			continue
		}
		tok := oauthflow.Token{AccessToken: "at-" + r.ID, RefreshToken: "rt-" + r.ID, TokenType: "Bearer", Expiry: now.Add(time.Hour), ObtainedAt: now,
			Scopes: []string{"read"}}
		if _, err := st.SaveToken(ctx, r.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 50 {
			if err := st.RecordRefreshFailure(ctx, r.ID, oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring, Status: oauthflow.StatusNeedsReconnect,
				Error: "invalid_grant", Kind: oauthflow.KindInvalidGrant}); err != nil {
				b.Fatal(err)
			}
		}
		for k := range seedActivity {
			acts = append(acts, store.Activity{At: now.Add(time.Duration(k) * time.Second), AccountID: r.ID, Kind: "request", Outcome: "ok",
				Method: "GET", URL: "https://api.example/t/v1/me", Status: 200, DurationMS: 40})
		}
		if len(acts) >= 5000 {
			if err := st.AddActivity(ctx, acts...); err != nil {
				b.Fatal(err)
			}
			acts = acts[:0]
		}
	}
	if err := st.AddActivity(ctx, acts...); err != nil {
		b.Fatal(err)
	}
	return picked
}

// BenchmarkConsolePages times console pages through the real router, signed
// in, on a store seeded with 1,000 integrations and 10,000 accounts (target
// p99 < 20 ms), against the same pages on a store with one integration and
// one account, measured in the same run.
func BenchmarkConsolePages(b *testing.B) {
	t0 := time.Now()
	big := newBenchServer(b)
	bigID := seedConsole(b, big.st, seedIntegrations, seedAccounts)
	b.Logf("seeded %d integrations, %d accounts in %s", seedIntegrations, seedAccounts, time.Since(t0).Round(time.Millisecond))
	small := newBenchServer(b)
	smallID := seedConsole(b, small.st, 1, 1)
	bigC, smallC := big.signedIn(b, store.RoleBuilder), small.signedIn(b, store.RoleBuilder)
	pages := []struct{ name, path string }{
		{"integrations", "/integrations"},
		{"accounts", "/accounts"},
		{"account", "/accounts/{id}"},
		{"accounts-search", "/accounts?q=acct-0999"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			get := func(c *http.Client, base, id string) func() error {
				u := base + strings.Replace(p.path, "{id}", id, 1)
				return func() error {
					req, _ := http.NewRequest(http.MethodGet, u, nil)
					return benchDo(c, req)
				}
			}
			runs := benchload.Compare(b, 1, []benchload.Variant{
				{Name: "empty", Call: get(smallC, small.srv.URL, smallID)},
				{Name: "seeded", Call: get(bigC, big.srv.URL, bigID)},
			})
			empty, seeded := runs[0], runs[1]
			b.ReportMetric(millis(seeded.Pct(50)), "p50-ms")
			b.ReportMetric(millis(seeded.Pct(99)), "p99-ms")
			b.ReportMetric(millis(empty.Pct(50)), "empty-p50-ms")
			b.ReportMetric(float64(seeded.Pct(50))/float64(empty.Pct(50)), "x-empty")
		})
	}
}
