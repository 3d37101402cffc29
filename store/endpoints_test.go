package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"airlock/oauthflow"
)

// TestMigrationGivesEmptyBaseURLsAnyOrigin: an empty (or missing) list used
// to mean any host; migration 0007 makes it ["*"] so nothing that worked
// stops working, and leaves real lists alone.
func TestMigrationGivesEmptyBaseURLsAnyOrigin(t *testing.T) {
	sqliteOnly(t, "migration 0007 of a SQLite database made before it (PostgreSQL's schema starts after it)")
	s := openTest(t)
	ctx := context.Background()
	lists := map[string][]string{"empty": {}, "missing": nil, "listed": {"https://api.acme.test/"}}
	for key, urls := range lists {
		in := sampleIntegration(key)
		in.APIBaseURLs = urls
		if _, err := s.CreateIntegration(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// As the binary before 0007 stored them: [] and no member at all.
	for _, q := range []string{
		`UPDATE integrations SET config = json_set(config, '$.api_base_urls', json('[]')) WHERE key = 'empty'`,
		`UPDATE integrations SET config = json_remove(config, '$.api_base_urls') WHERE key = 'missing'`,
		`DELETE FROM schema_migrations WHERE version = 7`,
	} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	path, sealer := s.path, s.sealer
	s.Close()
	s, err := Open(ctx, path, Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string][]string{"empty": {"*"}, "missing": {"*"}, "listed": {"https://api.acme.test/"}}
	for key, w := range want {
		in, err := s.GetIntegration(ctx, key)
		if err != nil || !slices.Equal(in.APIBaseURLs, w) {
			t.Errorf("%s: got %q (%v), want %q", key, in.APIBaseURLs, err, w)
		}
	}
}

func TestTokenEndpointsAndParameterChanges(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	in, err := s.CreateIntegration(ctx, sampleIntegration("acme"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "a", Parameters: map[string]string{"serverName": "eu"}})
	s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "b", Parameters: map[string]string{"serverName": "eu"}})
	s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "c", Parameters: map[string]string{"serverName": "us"}})
	ep := oauthflow.Endpoints{Token: "https://eu.acme.test/token", Revoke: "https://eu.acme.test/revoke"}
	tok := oauthflow.Token{AccessToken: "at", RefreshToken: "rt", ObtainedAt: time.Now(), Endpoints: ep}
	if _, err := s.SaveToken(ctx, a.ID, -1, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadToken(ctx, a.ID); err != nil || got.Endpoints != ep {
		t.Errorf("loaded endpoints: got %+v (%v), want %+v", got.Endpoints, err, ep)
	}
	if err := s.RecordTokenEndpoints(ctx, a.ID, oauthflow.Endpoints{Token: "https://other/"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadToken(ctx, a.ID); got.Endpoints != ep {
		t.Errorf("recording over recorded endpoints changed them: %+v", got.Endpoints)
	}
	if legacy, err := s.TokensWithoutEndpoints(ctx); err != nil || len(legacy) != 0 {
		t.Errorf("tokens without endpoints: %v (%v), want none", legacy, err)
	}
	sets, err := s.AccountParameterSets(ctx, in.ID)
	if err != nil || len(sets) != 2 {
		t.Errorf("parameter sets: got %v (%v), want the 2 distinct ones", sets, err)
	}
	upd, err := s.ReplaceAccountParameters(ctx, a.ID, "a2", map[string]string{"serverName": "ap"}, true, "the parameters changed: revoked", "test")
	if err != nil {
		t.Fatal(err)
	}
	if upd.Name != "a2" || upd.Parameters["serverName"] != "ap" || upd.Status != oauthflow.StatusNeedsReconnect || upd.HasRefreshToken {
		t.Errorf("after the change: %+v, want renamed, new values, needs_reconnect, no token", upd.Account)
	}
	if _, err := s.LoadToken(ctx, a.ID); !errors.Is(err, oauthflow.ErrNoToken) {
		t.Errorf("token after the change: %v, want none", err)
	}
	if _, err := s.SaveToken(ctx, a.ID, tok.Version+1, tok, oauthflow.RefreshEvent{}); !errors.Is(err, oauthflow.ErrTokenConflict) {
		t.Errorf("a refresh started before the change saved: %v, want a conflict", err)
	}
	acts, _, _ := s.ListActivity(ctx, ActivityFilter{AccountID: a.ID}, 10, "")
	if len(acts) == 0 || acts[0].Kind != "disconnected" || acts[0].Outcome != "revoked" || acts[0].Actor != "test" {
		t.Errorf("activity: %+v, want a disconnection by test, revoked", acts)
	}
	if alerts, _ := s.ListAlerts(ctx, a.ID, true, 5); len(alerts) != 1 || alerts[0].Kind != AlertNeedsReconnect {
		t.Errorf("alerts: %+v, want one needs_reconnect", alerts)
	}
}
