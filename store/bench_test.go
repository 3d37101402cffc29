package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/store/pgtest"
)

// benchTokenStore is a store holding one connected account with a fresh
// token (access and refresh token both sealed).
func benchTokenStore(b *testing.B) (*store.Store, *store.Sealer, oauthflow.Account, oauthflow.Integration) {
	b.Helper()
	ctx := context.Background()
	sealer, err := store.NewSealer(bytes.Repeat([]byte{3}, store.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	acct := seedBenchToken(b, st)
	in, err := st.GetIntegrationByID(ctx, acct.IntegrationID)
	if err != nil {
		b.Fatal(err)
	}
	return st, sealer, acct, in
}

// seedBenchToken stores the bench integration and one connected account
// with a fresh token in st.
func seedBenchToken(b *testing.B, st *store.Store) oauthflow.Account {
	b.Helper()
	ctx := context.Background()
	in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: "bench", Name: "Bench", OAuth2: oauthflow.OAuth2{
		GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: "https://idp.example/authorize", TokenURL: "https://idp.example/token",
		ClientID: "client", ClientSecret: "bench-client-secret"}})
	if err != nil {
		b.Fatal(err)
	}
	row, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "prod"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := oauthflow.Token{AccessToken: "at-" + string(bytes.Repeat([]byte{'x'}, 40)), RefreshToken: "rt-" + string(bytes.Repeat([]byte{'y'}, 40)),
		TokenType: "Bearer", Expiry: now.Add(time.Hour), ObtainedAt: now, Scopes: []string{"read", "write"}}
	if _, err := st.SaveToken(ctx, row.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		b.Fatal(err)
	}
	return row.Account
}

// BenchmarkTokenLookup is one account's token lookup, per call: from SQLite
// with both values unsealed (LoadToken, what a cache miss costs), against
// the two unseals alone and the token manager's in-memory hit (what every
// request pays once the token is cached), measured in the same run.
func BenchmarkTokenLookup(b *testing.B) {
	st, sealer, acct, in := benchTokenStore(b)
	ctx := context.Background()
	accessAAD, refreshAAD := "tokens.access_token:"+acct.ID, "tokens.refresh_token:"+acct.ID
	sealedA, _ := sealer.Seal([]byte("at-0123456789abcdef0123456789abcdef01234567"), accessAAD)
	sealedR, _ := sealer.Seal([]byte("rt-0123456789abcdef0123456789abcdef01234567"), refreshAAD)
	mgr := oauthflow.NewManager(oauthflow.ManagerOptions{Store: st})
	if _, err := mgr.Token(ctx, acct, in); err != nil { // fills its cache
		b.Fatal(err)
	}
	load := func() error { _, err := st.LoadToken(ctx, acct.ID); return err }
	unseal := func() error {
		if _, err := sealer.Open(sealedA, accessAAD); err != nil {
			return err
		}
		_, err := sealer.Open(sealedR, refreshAAD)
		return err
	}
	cached := func() error { _, err := mgr.Token(ctx, acct, in); return err }
	var loadD, unsealD, cachedD []time.Duration
	timed := func(fn func() error, into *[]time.Duration, n int) {
		for range n {
			t0 := time.Now()
			if err := fn(); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(t0))
		}
	}
	rounds := min(8, b.N)
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		b.StopTimer()
		timed(unseal, &unsealD, n)
		timed(cached, &cachedD, n)
		b.StartTimer()
		timed(load, &loadD, n)
	}
	b.StopTimer()
	b.ReportMetric(micros(pct(loadD, 50)), "p50-µs")
	b.ReportMetric(micros(pct(loadD, 99)), "p99-µs")
	b.ReportMetric(micros(pct(unsealD, 50)), "unseal-p50-µs")
	b.ReportMetric(micros(pct(cachedD, 50)), "cached-p50-µs")
	b.ReportMetric(float64(pct(loadD, 50))/float64(max(1, pct(cachedD, 50))), "x-cached")
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// pct is the p-th percentile of ds (nearest rank); it sorts ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return ds[max(0, min(i-1, len(ds)-1))]
}

// BenchmarkTokenLookupDatabases is LoadToken (one query, both values
// unsealed: what a cache miss of the token manager costs) from PostgreSQL
// against the same from SQLite, alternated in the same run. A replica pays
// it once per account and token, then serves the token from memory.
func BenchmarkTokenLookupDatabases(b *testing.B) {
	ctx := context.Background()
	lite, _, liteAcct, _ := benchTokenStore(b)
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{3}, store.KeySize))
	pg, err := store.OpenPostgres(ctx, pgtest.Database(b), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	pgAcct := seedBenchToken(b, pg)
	var liteD, pgD []time.Duration
	timed := func(st *store.Store, id string, into *[]time.Duration, n int) {
		for range n {
			t0 := time.Now()
			if _, err := st.LoadToken(ctx, id); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(t0))
		}
	}
	rounds := min(8, b.N)
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		b.StopTimer()
		timed(lite, liteAcct.ID, &liteD, n)
		b.StartTimer()
		timed(pg, pgAcct.ID, &pgD, n)
	}
	b.StopTimer()
	b.ReportMetric(micros(pct(pgD, 50)), "postgres-p50-µs")
	b.ReportMetric(micros(pct(pgD, 99)), "postgres-p99-µs")
	b.ReportMetric(micros(pct(liteD, 50)), "sqlite-p50-µs")
	b.ReportMetric(float64(pct(pgD, 50))/float64(max(1, pct(liteD, 50))), "x-sqlite")
}
