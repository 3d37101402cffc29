package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
)

// seeded is what seedSealed wrote, in clear, to check against afterwards.
type seeded struct {
	secrets  map[int64]string           // integration id → client secret
	tokens   map[string]oauthflow.Token // account id → token
	flows    map[string]string          // state → verifier
	sso      map[string]string          // single sign-on state → verifier
	webhook  string
	hookURL  string
	accounts []string
	creds    map[string]map[string]string // account id → credentials
}

// values is how many sealed values seedSealed wrote.
func (sd seeded) values() int {
	n := len(sd.secrets) + len(sd.flows) + len(sd.sso) + len(sd.creds) + 2 // and the webhook's secret and URL
	for _, t := range sd.tokens {
		n++
		if t.RefreshToken != "" {
			n++
		}
	}
	return n
}

// openSealed opens a store on path (a file, or a PostgreSQL URL) whose
// Sealer writes with current.
func openSealed(t *testing.T, path string, current []byte, previous ...[]byte) *Store {
	t.Helper()
	sealer, err := NewSealer(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openAt(context.Background(), path, Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seedSealed writes values into every sealed column through the store's own
// methods (so their AADs are the writers'): integrations with secrets, accounts
// with tokens (every tenth without a refresh token), pending flows, and the
// webhook secret and URL.
func seedSealed(t *testing.T, s *Store, integrations, accounts, flows int) seeded {
	t.Helper()
	ctx := context.Background()
	sd := seeded{secrets: map[int64]string{}, tokens: map[string]oauthflow.Token{}, flows: map[string]string{}, sso: map[string]string{}, creds: map[string]map[string]string{}}
	var ids []int64
	for i := range integrations {
		in := sampleIntegration(fmt.Sprintf("int%03d", i))
		in.OAuth2.ClientSecret = fmt.Sprintf("client-secret-%03d", i)
		got, err := s.CreateIntegration(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
		sd.secrets[got.ID] = in.OAuth2.ClientSecret
	}
	for i := range accounts {
		a, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: ids[i%len(ids)], Name: fmt.Sprintf("acct%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		tok := oauthflow.Token{AccessToken: fmt.Sprintf("AT-%d", i), RefreshToken: fmt.Sprintf("RT-%d", i), TokenType: "Bearer"}
		if i%10 == 9 {
			tok.RefreshToken = ""
		}
		if _, err := s.SaveToken(ctx, a.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect}); err != nil {
			t.Fatal(err)
		}
		sd.tokens[a.ID] = tok
		sd.accounts = append(sd.accounts, a.ID)
		if i%2 == 0 { // half the accounts have credentials (api_token, basic, custom_token)
			creds := map[string]string{"token": fmt.Sprintf("api-token-%d", i)}
			if err := s.SetAccountCredentials(ctx, a.ID, creds, map[string]string{"token": "…"}, "test"); err != nil {
				t.Fatal(err)
			}
			sd.creds[a.ID] = creds
		}
	}
	// Half the verifiers are single sign-on flows' (oidc_flows).
	for i := range flows / 2 {
		state, verifier := fmt.Sprintf("sso-state-%d", i), fmt.Sprintf("sso-verifier-%d", i)
		if err := s.CreateOIDCFlow(ctx, state, "nonce", OIDCFlow{SessionHash: "sess", Verifier: verifier, Next: "/",
			CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		sd.sso[state] = verifier
	}
	for i := range flows - flows/2 {
		state, verifier := fmt.Sprintf("state-%d", i), fmt.Sprintf("verifier-%d", i)
		if err := s.CreateFlow(ctx, state, PendingFlow{SessionHash: "sess", AccountID: sd.accounts[i%len(sd.accounts)],
			IntegrationID: ids[0], Verifier: verifier, RedirectURI: "https://airlock.test/cb", TokenURL: "https://p.test/token",
			Realm: "us", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		sd.flows[state] = verifier
	}
	sd.webhook = "whsec-signing-secret"
	if err := s.SetWebhookSecret(ctx, sd.webhook); err != nil {
		t.Fatal(err)
	}
	sd.hookURL = "https://hooks.example.com/airlock?token=hook-token"
	if err := s.SetWebhookURL(ctx, sd.hookURL); err != nil {
		t.Fatal(err)
	}
	return sd
}

// checkOpensWithOnly opens the database at path with a Sealer that has only
// key and reads every seeded value back through the store's readers.
func checkOpensWithOnly(t *testing.T, path string, key []byte, sd seeded) {
	t.Helper()
	ctx := context.Background()
	s := openSealed(t, path, key)
	if n := countSealedWith(t, s, s.sealer); n != sd.values() {
		t.Errorf("values sealed with the new key: got %d, want %d", n, sd.values())
	}
	for id, want := range sd.secrets {
		if got, err := s.IntegrationSecret(ctx, id); err != nil || got != want {
			t.Fatalf("client secret of integration %d: got %q (%v), want %q", id, got, err, want)
		}
	}
	for id, want := range sd.tokens {
		got, err := s.LoadToken(ctx, id)
		if err != nil || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken {
			t.Fatalf("token of %s: got %q/%q (%v), want %q/%q", id, got.AccessToken, got.RefreshToken, err, want.AccessToken, want.RefreshToken)
		}
	}
	for id, want := range sd.creds {
		if got, err := s.AccountCredentials(ctx, id); err != nil || got["token"] != want["token"] {
			t.Fatalf("credentials of %s: got %v (%v), want %v", id, got, err, want)
		}
	}
	for state, want := range sd.flows {
		if f, err := s.TakeFlow(ctx, state, "sess"); err != nil || f.Verifier != want {
			t.Fatalf("verifier of %s: got %q (%v), want %q", state, f.Verifier, err, want)
		}
	}
	for state, want := range sd.sso {
		if f, err := s.TakeOIDCFlow(ctx, state, "sess"); err != nil || f.Verifier != want {
			t.Fatalf("single sign-on verifier of %s: got %q (%v), want %q", state, f.Verifier, err, want)
		}
	}
	if got, err := s.GetWebhook(ctx); err != nil || got.Secret != sd.webhook || got.URL != sd.hookURL {
		t.Fatalf("webhook: got secret %q and URL %q (%v), want %q and %q", got.Secret, got.URL, err, sd.webhook, sd.hookURL)
	}
}

// countSealedWith counts the values in every sealed column that use sealer's current key.
func countSealedWith(t *testing.T, s *Store, sealer *Sealer) int {
	t.Helper()
	n := 0
	for _, c := range sealedColumns {
		rows, err := s.read.Query(fmt.Sprintf("SELECT %s FROM %s WHERE %s IS NOT NULL", c.column, c.table, c.column))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v []byte
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if sealer.SealedWithCurrent(v) {
				n++
			}
		}
		rows.Close()
	}
	return n
}

func TestResealAllResealsEveryValueUnderTheNewKey(t *testing.T) {
	path := newLocation(t)
	oldKey, newKey := testKey(1), testKey(2)
	s := openSealed(t, path, oldKey)
	// 20 secrets + 400 access + 360 refresh tokens + 200 credentials + 218 verifiers + the webhook secret and URL.
	sd := seedSealed(t, s, 20, 400, 218)
	if sd.values() != 1200 {
		t.Fatalf("seeded %d values, want 1200", sd.values())
	}
	to, _ := NewSealer(newKey)
	var calls, lastDone, lastTotal int
	r, err := s.ResealAll(context.Background(), to, 64, func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total })
	if err != nil {
		t.Fatal(err)
	}
	if want := (Resealed{Total: 1200, Resealed: 1200}); r != want {
		t.Errorf("result: got %+v, want %+v", r, want)
	}
	if lastDone != 1200 || lastTotal != 1200 || calls < 1200/64 {
		t.Errorf("progress: got %d calls ending at %d/%d, want at least %d ending at 1200/1200", calls, lastDone, lastTotal, 1200/64)
	}
	s.Close()
	checkOpensWithOnly(t, path, newKey, sd)
	// The old key alone no longer opens anything.
	old := openSealed(t, path, oldKey)
	if _, err := old.IntegrationSecret(context.Background(), 1); !errors.Is(err, ErrUnseal) {
		t.Errorf("old key after rotation: got %v, want ErrUnseal", err)
	}
}

func TestResealAllResumesAfterInterruption(t *testing.T) {
	path := newLocation(t)
	oldKey, newKey := testKey(1), testKey(2)
	s := openSealed(t, path, oldKey)
	sd := seedSealed(t, s, 5, 100, 50)
	to, _ := NewSealer(newKey)

	ctx, cancel := context.WithCancel(context.Background())
	first, err := s.ResealAll(ctx, to, 20, func(done, total int) {
		if done >= 60 {
			cancel() // as if the operator pressed Ctrl-C after a few batches
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: got %v, want context.Canceled", err)
	}
	if first.Resealed < 60 || first.Resealed >= sd.values() || first.Skipped != 0 {
		t.Fatalf("interrupted run: got %+v, want 60 or more of %d resealed and none skipped", first, sd.values())
	}
	if n := countSealedWith(t, s, to); n != first.Resealed {
		t.Errorf("committed under the new key after the interruption: got %d, want %d", n, first.Resealed)
	}

	var lastDone int
	second, err := s.ResealAll(context.Background(), to, 20, func(done, total int) { lastDone = done })
	if err != nil {
		t.Fatal(err)
	}
	want := Resealed{Total: sd.values(), Resealed: sd.values() - first.Resealed, Skipped: first.Resealed}
	if second != want {
		t.Errorf("resumed run: got %+v, want %+v", second, want)
	}
	if lastDone != sd.values() {
		t.Errorf("resumed run progress: got %d done, want %d", lastDone, sd.values())
	}
	third, err := s.ResealAll(context.Background(), to, 20, nil)
	if err != nil || third.Skipped != sd.values() || third.Resealed != 0 {
		t.Errorf("run after completion: got %+v (%v), want all %d skipped", third, err, sd.values())
	}
	s.Close()
	checkOpensWithOnly(t, path, newKey, sd)
}

func TestResealAllValueItCannotOpen(t *testing.T) {
	keyA, keyB, unknown := testKey(1), testKey(2), testKey(3)
	for _, c := range sealedColumns {
		for _, damaged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s damaged=%v", c.name(), damaged), func(t *testing.T) {
				ctx := context.Background()
				path := newLocation(t)
				s := openSealed(t, path, keyA)
				seedSealed(t, s, 1, 2, 2)
				var key any
				if err := s.read.QueryRow(fmt.Sprintf("SELECT %s FROM %s WHERE %s IS NOT NULL ORDER BY %s LIMIT 1", c.key, c.table, c.column, c.key)).Scan(&key); err != nil {
					t.Fatal(err)
				}
				var bad []byte
				if damaged {
					s.read.QueryRow(fmt.Sprintf("SELECT %s FROM %s WHERE %s = ?", c.column, c.table, c.key), key).Scan(&bad)
					bad[len(bad)-1] ^= 1
				} else {
					other, _ := NewSealer(unknown)
					bad, _ = other.Seal([]byte("sealed elsewhere"), c.aad(keyText(key)))
				}
				if _, err := s.write.Exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", c.table, c.column, c.key), bad, key); err != nil {
					t.Fatal(err)
				}
				to, _ := NewSealer(keyB)
				_, err := s.ResealAll(ctx, to, 10, nil)
				if !errors.Is(err, ErrUnseal) {
					t.Fatalf("got %v, want ErrUnseal", err)
				}
				wants := []string{c.name(), c.key + "=" + keyText(key)}
				if damaged {
					wants = append(wants, "damaged", c.damaged)
				} else {
					wants = append(wants, "add the key it was sealed with to AIRLOCK_PREVIOUS_ENCRYPTION_KEYS", KeyID(unknown))
				}
				for _, w := range wants {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if damaged {
					return
				}
				// The fix the error names works: with the key among the previous ones, the run completes.
				s.Close()
				fixed := openSealed(t, path, keyA, unknown)
				if r, err := fixed.ResealAll(ctx, to, 10, nil); err != nil || r.Done() != r.Total {
					t.Errorf("with the unknown key added: got %+v (%v), want every value done", r, err)
				}
			})
		}
	}
}

func TestSealedColumnsCoverEveryBlobColumn(t *testing.T) {
	s := openTest(t)
	listed := map[string]sealedColumn{}
	for _, c := range sealedColumns {
		listed[c.name()] = c
	}
	pks := map[string]string{}
	for _, c := range schemaColumns(t, s) {
		if c.PK {
			pks[c.Table] = c.Name
		}
		name := c.Table + "." + c.Name
		if c.Type == "blob" {
			if _, ok := listed[name]; !ok {
				t.Errorf("%s is a BLOB column missing from sealedColumns: add it (with its AAD) so key rotation re-seals it", name)
			}
			delete(listed, name)
		}
	}
	for name := range listed {
		t.Errorf("sealedColumns lists %s, which is not a BLOB column of the schema", name)
	}
	for _, c := range sealedColumns {
		if pks[c.table] != c.key {
			t.Errorf("%s: key column got %q, want the primary key %q", c.name(), c.key, pks[c.table])
		}
	}
}
