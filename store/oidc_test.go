package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestSignInOIDCUserFindsBySubject: a single sign-on user is found by the
// provider's issuer and subject, never by email: a password user with the
// same email stays a different user, as does the same subject at another
// issuer. Each sign-in sets the email and role; a disabled user is left as
// it is for the caller to refuse.
func TestSignInOIDCUserFindsBySubject(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	pw, err := s.CreateUser(ctx, "ada@example.com", "hash", RoleAdmin, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, SettingSetupCode, "code-hash"); err != nil {
		t.Fatal(err)
	}
	id := OIDCIdentity{Issuer: "https://idp.example", Subject: "sub-1", Email: "Ada@Example.com", Role: RoleViewer}
	u, created, err := s.SignInOIDCUser(ctx, id)
	if err != nil || !created || u.ID == pw.ID || u.Email != "ada@example.com" || !u.SSO() || u.PasswordHash != "" {
		t.Fatalf("first sign-in: got %+v created=%v (%v), want a new single sign-on user", u, created, err)
	}
	if _, err := s.GetSetting(ctx, SettingSetupCode); !errors.Is(err, ErrNotFound) {
		t.Errorf("setup code after the first single sign-on user: got %v, want ErrNotFound", err)
	}
	if got, err := s.GetUserByEmail(ctx, "ada@example.com"); err != nil || got.ID != pw.ID {
		t.Errorf("password lookup by email: got user %d (%v), want the password user %d", got.ID, err, pw.ID)
	}
	id.Role, id.Email = RoleBuilder, "ada.l@example.com"
	again, created, err := s.SignInOIDCUser(ctx, id)
	if err != nil || created || again.ID != u.ID || again.Role != RoleBuilder || again.Email != "ada.l@example.com" {
		t.Errorf("second sign-in: got %+v created=%v (%v), want the same user with the new role and email", again, created, err)
	}
	other, created, _ := s.SignInOIDCUser(ctx, OIDCIdentity{Issuer: "https://other.example", Subject: "sub-1", Email: "x@example.com", Role: RoleViewer})
	if !created || other.ID == u.ID {
		t.Errorf("same subject at another issuer: got user %d created=%v, want a new user", other.ID, created)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	id.Role = RoleAdmin
	dis, _, err := s.SignInOIDCUser(ctx, id)
	if err != nil || !dis.Disabled() || dis.Role != RoleBuilder {
		t.Errorf("disabled user: got %+v (%v), want it disabled and unchanged", dis, err)
	}
	if err := s.SetPassword(ctx, u.ID, "new-hash", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("a password for a single sign-on user: got %v, want ErrNotFound", err)
	}
}

// TestTakeOIDCFlow: a state works once, in the session that started it,
// within its lifetime; the nonce is checked against its hash.
func TestTakeOIDCFlow(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s := openSealedAt(t, clock)
	ctx := context.Background()
	f := OIDCFlow{SessionHash: "sess", Verifier: "the-verifier", Next: "/accounts", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.CreateOIDCFlow(ctx, "state-1", "nonce-1", f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeOIDCFlow(ctx, "state-1", "another-session"); !errors.Is(err, ErrFlowOtherSession) {
		t.Errorf("another session: got %v, want ErrFlowOtherSession", err)
	}
	got, err := s.TakeOIDCFlow(ctx, "state-1", "sess")
	if err != nil || got.Verifier != "the-verifier" || got.Next != "/accounts" {
		t.Fatalf("owner: got %+v (%v)", got, err)
	}
	if !got.NonceMatches("nonce-1") || got.NonceMatches("nonce-2") || got.NonceMatches("") {
		t.Error("NonceMatches: want only nonce-1")
	}
	if _, err := s.TakeOIDCFlow(ctx, "state-1", "sess"); !errors.Is(err, ErrFlowUsed) {
		t.Errorf("again: got %v, want ErrFlowUsed", err)
	}
	if _, err := s.TakeOIDCFlow(ctx, "state-unknown", "sess"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: got %v, want ErrNotFound", err)
	}
	if err := s.CreateOIDCFlow(ctx, "state-2", "n", f); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := s.TakeOIDCFlow(ctx, "state-2", "sess"); !errors.Is(err, ErrFlowExpired) {
		t.Errorf("after 10 minutes: got %v, want ErrFlowExpired", err)
	}
	now = now.Add(25 * time.Hour)
	if n, err := s.SweepOIDCFlows(ctx); err != nil || n != 2 {
		t.Errorf("sweep a day after expiry: got %d (%v), want 2", n, err)
	}
	var plain int
	s.read.QueryRow("SELECT COUNT(*) FROM oidc_flows WHERE state_hash = 'state-1' OR verifier = 'the-verifier' OR nonce_hash = 'nonce-1'").Scan(&plain)
	if plain != 0 {
		t.Error("a state, nonce or verifier is stored in plain text")
	}
}

func openSealedAt(t *testing.T, now func() time.Time) *Store {
	t.Helper()
	sealer, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return openWith(t, Options{Sealer: sealer, Now: now})
}

// TestDeleteAndResetUser: deleting ends the user's sessions, never removes
// oneself or the last enabled admin, and ids are not given again; a reset
// sets a temporary password and ends the sessions in one go.
func TestDeleteAndResetUser(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a, _ := s.CreateUser(ctx, "a@example.com", "h", RoleAdmin, false)
	b, _ := s.CreateUser(ctx, "b@example.com", "h", RoleBuilder, false)
	for _, u := range []User{a, b} {
		if err := s.insertSession(ctx, hashID("session-of-"+u.Email), map[any]any{SessionUserKey: u.ID}, time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteUser(ctx, a.ID, a.ID); !errors.Is(err, ErrSelf) {
		t.Errorf("delete oneself: got %v, want ErrSelf", err)
	}
	if _, err := s.DeleteUser(ctx, a.ID, b.ID); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("delete the last admin: got %v, want ErrLastAdmin", err)
	}
	if err := s.ResetPassword(ctx, b.ID, "temp-hash"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, b.ID); got.PasswordHash != "temp-hash" || !got.MustChangePassword {
		t.Errorf("after reset: got %+v, want the temporary hash to be changed at sign-in", got)
	}
	if n, _ := s.CountSessions(ctx); n != 1 {
		t.Errorf("sessions after the reset: got %d, want 1 (a's)", n)
	}
	if _, err := s.DeleteUser(ctx, b.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted user: got %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteUser(ctx, b.ID, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete again: got %v, want ErrNotFound", err)
	}
	c, _ := s.CreateUser(ctx, "c@example.com", "h", RoleViewer, false)
	if c.ID <= b.ID {
		t.Errorf("new user id %d after deleting %d: ids must not be reused", c.ID, b.ID)
	}
	if err := s.RecordSignIn(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, c.ID); got.LastSignInAt.IsZero() {
		t.Error("last sign-in not recorded")
	}
}

// TestAPIKeyExpiryAndDelete: an expiring key reports Expired from its
// instant; a deleted key is gone and hands back its hash for the caches.
func TestAPIKeyExpiryAndDelete(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	k, err := s.CreateExpiringAPIKey(ctx, "ci", RoleViewer, "hash-1", "abcd", "test", exp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, "hash-1")
	if err != nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("expiry: got %v (%v), want %v", got.ExpiresAt, err, exp)
	}
	if got.Expired(exp.Add(-time.Millisecond)) || !got.Expired(exp) {
		t.Error("Expired: want false just before, true at the instant")
	}
	never, _ := s.CreateAPIKey(ctx, "forever", RoleViewer, "hash-2", "efgh", "test")
	if never.Expired(time.Now().AddDate(100, 0, 0)) {
		t.Error("a key without expiry expired")
	}
	del, err := s.DeleteAPIKey(ctx, k.ID)
	if err != nil || del.Hash != "hash-1" {
		t.Fatalf("delete: got %+v (%v)", del, err)
	}
	if _, err := s.APIKeyByHash(ctx, "hash-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteAPIKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete again: got %v, want ErrNotFound", err)
	}
}

// TestQueueTestEvent: without a webhook URL there is nothing to queue; with
// one, an account.test delivery is pending like an alert's.
func TestQueueTestEvent(t *testing.T) {
	s := openSealedAt(t, nil)
	ctx := context.Background()
	if _, err := s.QueueTestEvent(ctx, "by ada"); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("without a URL: got %v, want ErrNoWebhook", err)
	}
	if err := s.SetWebhookURL(ctx, "https://hooks.example.com/x"); err != nil {
		t.Fatal(err)
	}
	d, err := s.QueueTestEvent(ctx, "by ada")
	if err != nil || d.Event != EventTest || d.Status != DeliveryPending {
		t.Fatalf("queued: got %+v (%v)", d, err)
	}
	claimed, err := s.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].ID != d.ID {
		t.Errorf("claim: got %v (%v), want the test delivery", claimed, err)
	}
}

// TestMigrationsKeepUsersAndKeys: a database made before migrations 0013 and
// 0014 keeps its users (ids, emails, hashes, roles, flags), their sessions
// and its API keys, which become password users and keys that never expire.
func TestMigrationsKeepUsersAndKeys(t *testing.T) {
	sqliteOnly(t, "migrations 0013 and 0014 of a SQLite database made before them (PostgreSQL's schema starts after them)")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "airlock.db")
	db, err := openPool(path, 1, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{write: db, now: time.Now}
	if _, err := db.Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	all, _ := loadMigrations()
	for _, m := range all {
		if m.version < 13 {
			if err := old.applyMigration(ctx, db, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{
		"INSERT INTO users (id, email, password_hash, role, must_change_password, disabled_at, created_at, updated_at) VALUES (7, 'ada@example.com', '$argon2id$a', 'admin', 0, 0, 1, 2)",
		"INSERT INTO users (id, email, password_hash, role, must_change_password, disabled_at, created_at, updated_at) VALUES (9, 'bob@example.com', '$argon2id$b', 'viewer', 1, 5, 3, 4)",
		"INSERT INTO sessions (id_hash, user_id, kind, data, created_at, last_seen_at, expires_at) VALUES ('s', 9, 'console', '{}', 1, 1, 99999999999999)",
		"INSERT INTO api_keys (name, role, key_hash, last4, created_at) VALUES ('ci', 'builder', 'kh', 'abcd', 1)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 {
		t.Fatalf("users: got %d (%v), want 2", len(us), err)
	}
	want := []User{
		{ID: 7, Email: "ada@example.com", PasswordHash: "$argon2id$a", Role: RoleAdmin, CreatedAt: fromMillis(1), UpdatedAt: fromMillis(2)},
		{ID: 9, Email: "bob@example.com", PasswordHash: "$argon2id$b", Role: RoleViewer, MustChangePassword: true, DisabledAt: fromMillis(5), CreatedAt: fromMillis(3), UpdatedAt: fromMillis(4)},
	}
	for i, u := range us {
		if u != want[i] {
			t.Errorf("user %d: got %+v, want %+v", i, u, want[i])
		}
	}
	if n, _ := s.CountSessions(ctx); n != 1 {
		t.Errorf("sessions: got %d, want 1", n)
	}
	if k, err := s.APIKeyByHash(ctx, "kh"); err != nil || !k.ExpiresAt.IsZero() {
		t.Errorf("api key: got %+v (%v), want it kept with no expiry", k, err)
	}
	if _, err := s.CreateUser(ctx, "ADA@example.com", "h", RoleViewer, false); !errors.Is(err, ErrConflict) {
		t.Errorf("a second password user with ada's email: got %v, want ErrConflict", err)
	}
	if u, _ := s.CreateUser(ctx, "new@example.com", "h", RoleViewer, false); u.ID <= 9 {
		t.Errorf("new user id: got %d, want above 9", u.ID)
	}
}
