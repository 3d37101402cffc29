package handlers

import (
	"airlock/oauthflow/benchload"

	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// requestStatus sends a GET through the request API and returns the HTTP
// status and, for an error answer, its code.
func (ts *testServer) requestStatus(key, accountID, target string) (int, string) {
	ts.t.Helper()
	st, e := ts.requestError(key, accountID, target)
	return st, e.Code
}

func (ts *testServer) requestError(key, accountID, target string) (int, apiErrorBody) {
	ts.t.Helper()
	r := ts.api("POST", "/api/v1/accounts/"+accountID+"/request", key, `{"url": "`+target+`"}`)
	var e apiError
	json.Unmarshal([]byte(r.body), &e)
	return r.status, e.Error
}

func TestRequestPathReadsNothingFromTheDatabase(t *testing.T) {
	// No activity log: its batched writes are not on the request path.
	ts := newTestServer(t, func(d *Deps) { d.Activity = nil })
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Fatalf("warm-up request: got %d %s, want 200", st, code)
	}
	// With the database closed, only what is cached can answer: the API key,
	// the account, the integration with its secret, and the token.
	ts.store.Close()
	if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Errorf("request with the database closed: got %d %s, want 200 from the caches", st, code)
	}
}

func TestRequestCacheSeesOtherWritersWithinItsTTL(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	if st, _ := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Fatalf("warm-up request: got %d, want 200", st)
	}
	// Another process disconnects the account: this one does not hear of it.
	if err := ts.store.SetAccountStatus(context.Background(), acct.ID, oauthflow.StatusDisconnected, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Errorf("within the TTL: got %d, want 200 (the cached account)", st)
	}
	ts.clock.Add(oauthflow.AccountsCacheTTL)
	if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 409 || code != "needs_reconnect" {
		t.Errorf("after the TTL: got %d %s, want 409 needs_reconnect", st, code)
	}
}

func TestRequestCacheForgetsOnEveryWrite(t *testing.T) {
	cases := []struct {
		name   string
		write  func(ts *testServer, key string, acct store.AccountRow, in oauthflow.Integration, p *fakeprovider.Provider)
		status int
		code   string
		msg    string // part of the message: which check refused
	}{
		{"api disconnect", func(ts *testServer, key string, acct store.AccountRow, _ oauthflow.Integration, _ *fakeprovider.Provider) {
			ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", key, "")
		}, 409, "needs_reconnect", "The account is disconnected"},
		{"api delete", func(ts *testServer, key string, acct store.AccountRow, _ oauthflow.Integration, _ *fakeprovider.Provider) {
			ts.api("DELETE", "/api/v1/accounts/"+acct.ID, key, "")
		}, 404, "not_found", "No account"},
		{"console disconnect", func(ts *testServer, _ string, acct store.AccountRow, _ oauthflow.Integration, _ *fakeprovider.Provider) {
			c := ts.signedIn(store.RoleBuilder)
			c.get("/accounts/" + acct.ID)
			c.post("/accounts/"+acct.ID+"/disconnect", url.Values{})
		}, 409, "needs_reconnect", "The account is disconnected"},
		{"refresh that loses the grant", func(ts *testServer, key string, acct store.AccountRow, _ oauthflow.Integration, p *fakeprovider.Provider) {
			p.RevokeAll()
			ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
		}, 409, "needs_reconnect", "needs to be reconnected"},
		{"integration narrowed", func(ts *testServer, key string, _ store.AccountRow, in oauthflow.Integration, p *fakeprovider.Provider) {
			in.APIBaseURLs = []string{p.APIURL() + "v2/"} // the same origin, a narrower path: no admin needed
			b, _ := json.Marshal(in)
			if r := ts.api("PUT", "/api/v1/integrations/"+in.Key, key, string(b)); r.status != 200 {
				ts.t.Fatalf("PUT: %d %s", r.status, r.body)
			}
		}, 422, "invalid_fields", "outside this integration's API base URLs"},
		{"integration deleted", func(ts *testServer, key string, _ store.AccountRow, in oauthflow.Integration, _ *fakeprovider.Provider) {
			ts.api("DELETE", "/api/v1/integrations/"+in.Key, key, "")
		}, 404, "not_found", "No account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			p, in, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
			key := ts.apiKey(store.RoleBuilder)
			if st, _ := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
				t.Fatalf("warm-up request: got %d, want 200", st)
			}
			tc.write(ts, key, acct, in, p)
			calls := p.APICalls()
			st, e := ts.requestError(key, acct.ID, p.APIURL()+"me")
			if st != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("request right after: got %d %s %q, want %d %s saying %q", st, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
			if p.APICalls() != calls {
				t.Errorf("the API was called %d times after the write, want 0", p.APICalls()-calls)
			}
		})
	}
}

// upstreamStatus sends a GET through the request API and returns Airlock's
// status and, when it is 200, the API's own.
func (ts *testServer) upstreamStatus(key, accountID, target string) (int, int) {
	ts.t.Helper()
	r := ts.api("POST", "/api/v1/accounts/"+accountID+"/request", key, `{"url": "`+target+`"}`)
	var out requestOutput
	json.Unmarshal([]byte(r.body), &out)
	return r.status, out.Status
}

func TestRequestCacheAndTheTokenManagersVerdict(t *testing.T) {
	for _, where := range []string{"request", "keep-alive"} {
		t.Run(where, func(t *testing.T) {
			ts := newTestServer(t)
			p, in, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
			key := ts.apiKey(store.RoleBuilder)
			if st, _ := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
				t.Fatalf("warm-up request: got %d, want 200", st)
			}
			p.RevokeAll()
			if where == "keep-alive" {
				// The verdict is reached outside the handlers, by the token
				// manager, which tells the accounts service: the very next
				// request is refused before any network call.
				full, err := ts.store.IntegrationWithSecret(context.Background(), in.ID)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ts.mgr.Refresh(context.Background(), acct.Account, full, oauthflow.ReasonKeepalive); err == nil {
					t.Fatal("keep-alive refresh of a revoked grant succeeded")
				}
				apiCalls, tokenCalls := p.APICalls(), p.TokenCalls()
				if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 409 || code != "needs_reconnect" {
					t.Errorf("request after keep-alive's verdict: got %d %s, want 409 needs_reconnect", st, code)
				}
				if p.APICalls() != apiCalls || p.TokenCalls() != tokenCalls {
					t.Errorf("request after keep-alive's verdict reached the provider: %d API, %d token calls, want none", p.APICalls()-apiCalls, p.TokenCalls()-tokenCalls)
				}
				return
			}
			// The next request still goes out with the old token (the cached
			// account says connected); the API answers 401 and the retry's
			// refresh fails, spending the dead grant once.
			tokenCalls := p.TokenCalls()
			if st, up := ts.upstreamStatus(key, acct.ID, p.APIURL()+"me"); st != 200 || up != 401 {
				t.Fatalf("request with a dead grant: got %d carrying %d, want 200 carrying 401", st, up)
			}
			if spent := p.TokenCalls() - tokenCalls; (where == "request" && spent != 1) || (where == "keep-alive" && spent != 0) {
				t.Errorf("token endpoint calls for the dead grant: got %d", spent)
			}
			// That outcome dropped the cached account: the request after it
			// is refused by usable() before any network call.
			apiCalls, tokenCalls := p.APICalls(), p.TokenCalls()
			if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 409 || code != "needs_reconnect" {
				t.Errorf("next request: got %d %s, want 409 needs_reconnect", st, code)
			}
			if p.APICalls() != apiCalls || p.TokenCalls() != tokenCalls {
				t.Errorf("next request reached the provider: %d API, %d token calls, want none", p.APICalls()-apiCalls, p.TokenCalls()-tokenCalls)
			}
		})
	}
}

// BenchmarkRequestTarget is the request API's lookup of an account and its
// integration with the secret: the store reads the cache replaces
// (GetAccount, then IntegrationWithSecret; timed for ns/op, being the slow
// one) against a cache hit, in the same run.
func BenchmarkRequestTarget(b *testing.B) {
	api := benchUpstream(b)
	bs := newBenchServer(b)
	id, _ := bs.benchConnected(b, api.URL)
	ctx := context.Background()
	if _, err := bs.h.accounts.Get(ctx, id); err != nil {
		b.Fatal(err)
	}
	fromStore := func() error {
		r, err := bs.st.GetAccount(ctx, id)
		if err != nil {
			return err
		}
		_, err = bs.h.store.IntegrationWithSecret(ctx, r.IntegrationID)
		return err
	}
	cached := func() error { _, err := bs.h.accounts.Get(ctx, id); return err }
	runs := benchload.Compare(b, 1, []benchload.Variant{{Name: "cache", Call: cached}, {Name: "store", Call: fromStore}})
	cache, reads := runs[0], runs[1]
	b.ReportMetric(benchload.Micros(reads.Pct(50)), "store-p50-µs")
	b.ReportMetric(benchload.Micros(cache.Pct(50)), "cached-p50-µs")
	b.ReportMetric(float64(reads.Pct(50))/float64(max(1, cache.Pct(50))), "x-cached")
}

func TestRequestCacheUnderConcurrentRequestsAndWrites(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				ts.requestStatus(key, acct.ID, p.APIURL()+"me")
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			ts.api("PATCH", "/api/v1/accounts/"+acct.ID, key, `{"name": "prod-`+strconv.Itoa(i)+`"}`)
		}
	})
	wg.Wait()
	if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Errorf("after concurrent renames: got %d %s, want 200", st, code)
	}
}
