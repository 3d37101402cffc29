package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
)

// auditCtx is a change made by admin 7 from 192.0.2.10.
func auditCtx() context.Context {
	return oauthflow.WithActor(context.Background(), oauthflow.Actor{Kind: oauthflow.ActorUser, ID: "7", Name: "root@example.com", Address: "192.0.2.10"})
}

// allAuditText is every stored column of every audit row, for grepping.
func allAuditText(t *testing.T, s *Store) string {
	t.Helper()
	rows, err := s.read.Query("SELECT actor_kind || actor_id || actor_name || address || object_type || object_id || action || details FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		b.WriteString(v + "\n")
	}
	return b.String()
}

func lastAudit(t *testing.T, s *Store) (AuditEntry, bool) {
	t.Helper()
	rows, _, err := s.ListAudit(context.Background(), AuditFilter{}, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return AuditEntry{}, false
	}
	return rows[0], true
}

// TestAuditRowPerChange: every kind of change writes one row naming the
// actor, the address, the object, the action and what changed, and no
// secret value appears anywhere in the audit table.
func TestAuditRowPerChange(t *testing.T) {
	s := openTest(t)
	ctx := auditCtx()
	const clientSecret, newSecret, tokenParam = "client-secret-AAAA1111", "client-secret-BBBB2222", "static-key-CCCC3333"
	const webhookURL, webhookSecret, accessToken = "https://hooks.example.test/T0KEN-DDDD4444", "whsec-EEEE5555", "access-FFFF6666"
	in := sampleIntegration("acme")
	in.OAuth2.ClientSecret = clientSecret
	var acct AccountRow
	var user User
	var key APIKey
	cases := []struct {
		name, action, object, detail string
		run                          func() error
	}{
		{"integration create", ActionIntegrationCreate, "integration acme", `"oauth2.token_url"`, func() (err error) { in, err = s.CreateIntegration(ctx, in); return }},
		{"integration update", ActionIntegrationUpdate, "integration acme", `"name":{"from":"Acme acme","to":"Acme renamed"},"oauth2.client_secret":"changed","oauth2.token_params.api_key":"changed"`, func() error {
			up := in
			up.Name, up.OAuth2.ClientSecret = "Acme renamed", newSecret
			up.OAuth2.TokenParams = map[string]string{"api_key": tokenParam}
			_, err := s.UpdateIntegration(ctx, "acme", up)
			return err
		}},
		{"account create", ActionAccountCreate, "account", `"parameters.serverName":{"from":null,"to":"prod"}`, func() (err error) {
			acct, err = s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "prod", Parameters: map[string]string{"serverName": "prod"}})
			return
		}},
		{"account parameters", ActionAccountUpdate, "account", `"parameters.serverName":{"from":"prod","to":"stage"}`, func() error {
			_, err := s.UpdateAccount(ctx, acct.ID, "prod", map[string]string{"serverName": "stage"})
			return err
		}},
		{"account connect", ActionAccountConnect, "account", `"scopes"`, func() error {
			_, err := s.SaveToken(ctx, acct.ID, -1, oauthflow.Token{AccessToken: accessToken, RefreshToken: "refresh-GGGG7777", Scopes: []string{"read"}},
				oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
			return err
		}},
		{"connect link", ActionAccountConnectLink, "account", `"expires_at"`, func() error {
			_, err := s.CreateConnectLink(ctx, "link-token-HHHH8888", acct.ID, "root@example.com", time.Hour)
			return err
		}},
		{"account disconnect", ActionAccountDisconnect, "account", `"revoked":true`, func() error {
			return s.DisconnectAccount(ctx, acct.ID, true, "", "root@example.com")
		}},
		{"account reset parameters", ActionAccountUpdate, "account", `"tokens_deleted":false`, func() error {
			_, err := s.ReplaceAccountParameters(ctx, acct.ID, "prod", map[string]string{"serverName": "prod"}, false, "", "root@example.com")
			return err
		}},
		{"account delete", ActionAccountDelete, "account", `"name":"prod"`, func() error { return s.DeleteAccount(ctx, acct.ID) }},
		{"integration delete", ActionIntegrationDelete, "integration acme", `"accounts_deleted":0`, func() error { _, err := s.DeleteIntegration(ctx, "acme"); return err }},
		{"user create", ActionUserCreate, "user", `"role":"builder"`, func() (err error) {
			user, err = s.CreateUser(ctx, "bob@example.com", "$argon2id$hash-IIII9999", RoleBuilder, true)
			return
		}},
		{"user role", ActionUserRole, "user", `"role":{"from":"builder","to":"viewer"}`, func() error { return s.SetUserRole(ctx, user.ID, RoleViewer) }},
		{"user disable", ActionUserDisable, "user", `{}`, func() error { return s.SetUserDisabled(ctx, user.ID, true) }},
		{"user enable", ActionUserEnable, "user", `{}`, func() error { return s.SetUserDisabled(ctx, user.ID, false) }},
		{"user reset password", ActionUserResetPassword, "user", `{}`, func() error { return s.ResetPassword(ctx, user.ID, "$argon2id$temp-JJJJ0000") }},
		{"user change password", ActionUserChangePassword, "user", `{}`, func() error { return s.SetPassword(ctx, user.ID, "$argon2id$new-KKKK1111", false) }},
		{"sign-in", ActionSignIn, "user", `"method":"password"`, func() error { return s.RecordSignIn(ctx, user.ID) }},
		{"user delete", ActionUserDelete, "user", `"email":"bob@example.com"`, func() error { _, err := s.DeleteUser(ctx, user.ID, 7); return err }},
		{"api key create", ActionAPIKeyCreate, "api_key", `"name":"deploy"`, func() (err error) {
			key, err = s.CreateExpiringAPIKey(ctx, "deploy", RoleBuilder, HashAPIKey("alk_LLLL2222"), "2222", "root", time.Now().Add(time.Hour))
			return
		}},
		{"api key disable", ActionAPIKeyDisable, "api_key", `{}`, func() error { _, err := s.DisableAPIKey(ctx, key.ID); return err }},
		{"api key delete", ActionAPIKeyDelete, "api_key", `"name":"deploy"`, func() error { _, err := s.DeleteAPIKey(ctx, key.ID); return err }},
		{"webhook url", ActionSettingChange, "setting webhook_url", `"webhook_url":"changed"`, func() error { return s.SetWebhookURL(ctx, webhookURL) }},
		{"webhook secret", ActionSettingChange, "setting webhook_secret", `"webhook_secret":"changed"`, func() error { return s.SetWebhookSecret(ctx, webhookSecret) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := lastAudit(t, s)
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			e, ok := lastAudit(t, s)
			if !ok || e.ID == before.ID {
				t.Fatalf("no audit row written")
			}
			if e.Action != c.action {
				t.Errorf("action: got %q, want %q", e.Action, c.action)
			}
			if got := strings.TrimSpace(e.ObjectType + " " + e.ObjectID); !strings.HasPrefix(got, c.object) || e.ObjectID == "" {
				t.Errorf("object: got %q, want %q and an id", got, c.object)
			}
			wantID := "7"
			if c.action == ActionSignIn { // a sign-in is the signing-in user's
				wantID = strconv.FormatInt(user.ID, 10)
			}
			if e.Actor.Kind != oauthflow.ActorUser || e.Actor.ID != wantID || e.Actor.Address != "192.0.2.10" {
				t.Errorf("actor: got %+v, want user %s from 192.0.2.10", e.Actor, wantID)
			}
			if !strings.Contains(string(e.Details), c.detail) {
				t.Errorf("details: got %s, want it to contain %s", e.Details, c.detail)
			}
			if time.Since(e.At) > time.Minute {
				t.Errorf("at: got %v, want now", e.At)
			}
		})
	}
	text := allAuditText(t, s)
	for _, secret := range []string{clientSecret, newSecret, tokenParam, webhookURL, "T0KEN", webhookSecret, accessToken, "refresh-GGGG7777",
		"link-token-HHHH8888", hashID("link-token-HHHH8888"), "IIII9999", "JJJJ0000", "KKKK1111", "LLLL2222", HashAPIKey("alk_LLLL2222")} {
		if strings.Contains(text, secret) {
			t.Errorf("the audit log holds the secret %q:\n%s", secret, text)
		}
	}
}

// TestAuditFailedChangeWritesNoRow: a change that fails writes no audit
// row, and an audit row that cannot be written undoes its change — the two
// share one transaction.
func TestAuditFailedChangeWritesNoRow(t *testing.T) {
	s := openTest(t)
	ctx := auditCtx()
	admin, err := s.CreateUser(ctx, "root@example.com", "h", RoleAdmin, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateIntegration(ctx, sampleIntegration("acme")); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: 1, Name: "prod", Parameters: map[string]string{"serverName": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	failing := []struct {
		name string
		run  func() error
	}{
		{"demote the last admin", func() error { return s.SetUserRole(ctx, admin.ID, RoleViewer) }},
		{"disable the last admin", func() error { return s.SetUserDisabled(ctx, admin.ID, true) }},
		{"delete the last admin", func() error { _, err := s.DeleteUser(ctx, admin.ID, 99); return err }},
		{"taken email", func() error { _, err := s.CreateUser(ctx, "root@example.com", "h", RoleViewer, false); return err }},
		{"taken integration key", func() error { _, err := s.CreateIntegration(ctx, sampleIntegration("ACME")); return err }},
		{"rekey an integration in use", func() error {
			in := sampleIntegration("other")
			_, err := s.UpdateIntegration(ctx, "acme", in)
			return err
		}},
		{"account of no integration", func() error {
			_, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: 999, Name: "x"})
			return err
		}},
		{"unknown account", func() error { return s.DeleteAccount(ctx, "acc_missing") }},
		{"unknown api key", func() error { _, err := s.DeleteAPIKey(ctx, 999); return err }},
		{"stale token version", func() error {
			_, err := s.SaveToken(ctx, a.ID, 41, oauthflow.Token{AccessToken: "x"}, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
			return err
		}},
	}
	before, _ := lastAudit(t, s)
	for _, c := range failing {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err == nil {
				t.Fatal("the change succeeded; want it refused")
			}
			if e, _ := lastAudit(t, s); e.ID != before.ID {
				t.Errorf("got audit row %s %s, want none", e.Action, e.Details)
			}
		})
	}
	t.Run("audit write fails", func(t *testing.T) {
		if _, err := s.write.Exec("DROP TABLE audit_log"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "eve@example.com", "h", RoleAdmin, false); err == nil {
			t.Fatal("created a user whose audit row could not be written")
		}
		if _, err := s.GetUserByEmail(ctx, "eve@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want the user rolled back (ErrNotFound)", err)
		}
		if err := s.SetUserRole(ctx, admin.ID, RoleAdmin); err == nil {
			t.Error("changed a role whose audit row could not be written")
		}
	})
}

// TestAuditNeedsAnActor: background work (a refresh, keep-alive) carries no
// actor and writes no row; a refresh by a request that does carry one is
// upkeep, not a change, and writes none either.
func TestAuditNeedsAnActor(t *testing.T) {
	s := openTest(t)
	a := newAccount(t, s) // without an actor
	for _, ctx := range []context.Context{context.Background(), auditCtx()} {
		if _, err := s.SaveToken(ctx, a.ID, -1, oauthflow.Token{AccessToken: "x"}, oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring}); err != nil {
			t.Fatal(err)
		}
	}
	if e, ok := lastAudit(t, s); ok {
		t.Errorf("got audit row %s, want none", e.Action)
	}
}

// TestAuditFiltersAndPages: filters by actor, object and time, newest first,
// in pages.
func TestAuditFiltersAndPages(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := openTest(t)
	s.now = func() time.Time { return clock }
	alice := oauthflow.WithActor(context.Background(), oauthflow.Actor{Kind: oauthflow.ActorUser, ID: "1", Name: "alice@example.com", Address: "127.0.0.1"})
	key := oauthflow.WithActor(context.Background(), oauthflow.Actor{Kind: oauthflow.ActorAPIKey, ID: "3", Name: "deploy", Address: "127.0.0.2"})
	for i := range 5 {
		ctx := alice
		if i%2 == 1 {
			ctx = key
		}
		if _, err := s.CreateIntegration(ctx, sampleIntegration("int"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(24 * time.Hour)
	}
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name string
		f    AuditFilter
		want []string
	}{
		{"everything, newest first", AuditFilter{}, []string{"int4", "int3", "int2", "int1", "int0"}},
		{"actor by email part", AuditFilter{Actor: "ALICE"}, []string{"int4", "int2", "int0"}},
		{"actor by key name", AuditFilter{Actor: "deploy"}, []string{"int3", "int1"}},
		{"actor by id", AuditFilter{Actor: "3"}, []string{"int3", "int1"}},
		{"object", AuditFilter{ObjectType: AuditIntegration, ObjectID: "int2"}, []string{"int2"}},
		{"other object type", AuditFilter{ObjectType: AuditUser}, nil},
		{"since", AuditFilter{Since: day(4)}, []string{"int4", "int3"}},
		{"until", AuditFilter{Until: day(3)}, []string{"int1", "int0"}},
		{"between", AuditFilter{Since: day(2), Until: day(4)}, []string{"int2", "int1"}},
		{"a like wildcard is literal", AuditFilter{Actor: "%"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			cursor := ""
			for page := 0; page < 10; page++ {
				rows, next, err := s.ListAudit(context.Background(), c.f, 2, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, r.ObjectID)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if _, _, err := s.ListAudit(context.Background(), AuditFilter{}, 2, "garbage"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad cursor: got %v, want ErrNotFound", err)
	}
}

// TestPruneAudit deletes rows past the retention and keeps the rest.
func TestPruneAudit(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t)
	s.now = func() time.Time { return clock }
	ctx := auditCtx()
	for _, k := range []string{"old", "edge", "new"} {
		if _, err := s.CreateIntegration(ctx, sampleIntegration(k)); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(100 * 24 * time.Hour)
	}
	// Now 300 days after "old"; a 250-day retention drops "old" only.
	n, err := s.PruneAudit(context.Background(), 250*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("pruned: got %d, want 1", n)
	}
	rows, _, err := s.ListAudit(context.Background(), AuditFilter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.ObjectID)
	}
	if strings.Join(got, ",") != "new,edge" {
		t.Errorf("kept: got %v, want [new edge]", got)
	}
}
