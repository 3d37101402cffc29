package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// The replica tests run three airlock processes on one PostgreSQL database
// behind no load balancer but the test itself (it picks the replica of
// each request), against a fake provider that rotates refresh tokens and
// revokes the whole chain when a spent one comes back.

// TestReplicasOneRefreshForAThousandCallers: 1,000 callers at once, spread
// over three replicas, on an account whose token is inside its refresh
// window: every caller is served, and the token endpoint is called once —
// one replica refreshes under the lease, the others wait for its token in
// the database. The account was connected through a link opened on one
// replica whose callback reached another.
func TestReplicasOneRefreshForAThousandCallers(t *testing.T) {
	rs := newReplicaSet(t, 3, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 100 * time.Millisecond})
	rs.integration()
	id, link := rs.account(0, "prod")
	rs.connect(link, 1, 2)
	for i := range rs.procs {
		if got := rs.request(i, id); got != "200/200" {
			t.Fatalf("request on replica %d before: got %s, want 200/200", i, got)
		}
	}
	refreshes := rs.provider.RefreshCalls()
	rs.advance(40 * time.Minute) // 20 min left: inside the 30 min window, far from expiry
	const callers = 1000
	results := make([]string, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for n := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[n] = rs.request(n%len(rs.procs), id)
		}()
	}
	close(start)
	wg.Wait()
	rs.settle()
	failed := map[string]int{}
	for _, r := range results {
		if r != "200/200" {
			failed[r]++
		}
	}
	if len(failed) > 0 {
		t.Errorf("callers not served: %v, want every one 200/200", failed)
	}
	if got := rs.provider.RefreshCalls() - refreshes; got != 1 {
		t.Errorf("token endpoint calls for %d callers on %d replicas: got %d, want 1", callers, len(rs.procs), got)
	}
	if got := rs.provider.InvalidGrants(); got != 0 {
		t.Errorf("invalid_grant answers: got %d, want 0", got)
	}
	issued := rs.provider.IssuedAccessTokens()
	for i := range rs.procs {
		if got := rs.request(i, id); got != "200/200" {
			t.Errorf("request on replica %d after: got %s", i, got)
		}
		if got := rs.provider.LastAPIRequest().Header.Get("Authorization"); got != "Bearer "+issued[len(issued)-1] {
			t.Errorf("replica %d after the refresh does not send the new token", i)
		}
	}
}

// replicaStressSize is oauthflow's rotation stress size: a third of a
// simulated day in `make test`, a whole one with AIRLOCK_STRESS=1.
func replicaStressSize() (span, step time.Duration, perStep int) {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return 24 * time.Hour, 2 * time.Minute, 100
	}
	return 8 * time.Hour, 10 * time.Minute, 60
}

// TestReplicasRotationUnderLoad: 50 workers send requests through 20
// accounts with 20-minute tokens, spread over three replicas, over a
// simulated day (a third of one in `make test`), against a provider that
// rotates the refresh token at every refresh and revokes the chain when a
// spent one is presented. One spent twice shows up as invalid_grant and an
// account needing a reconnect: there must be none. The clock moves between
// rounds, once no replica has a refresh under way.
func TestReplicasRotationUnderLoad(t *testing.T) {
	const (
		accounts = 20
		workers  = 50
		ttl      = 20 * time.Minute
		window   = ttl / 2
	)
	span, step, perStep := replicaStressSize()
	rs := newReplicaSet(t, 3, fakeprovider.Options{AccessTTL: ttl, RotateRefreshTokens: true, RefreshDelay: 2 * time.Millisecond})
	rs.integration()
	ids := make([]string, accounts)
	for i := range ids {
		var link string
		ids[i], link = rs.account(i%3, fmt.Sprintf("acct%02d", i))
		rs.connect(link, i%3, (i+1)%3)
	}
	connectCalls := rs.provider.TokenCalls()
	var mu sync.Mutex
	failures := map[string]int{}
	for elapsed := time.Duration(0); elapsed < span; elapsed += step {
		jobs := make(chan int, perStep)
		for n := range perStep {
			jobs <- n
		}
		close(jobs)
		var round sync.WaitGroup
		for range workers {
			round.Go(func() {
				for n := range jobs {
					if r := rs.request(n%3, ids[n%accounts]); r != "200/200" {
						mu.Lock()
						failures[r]++
						mu.Unlock()
					}
				}
			})
		}
		// Every request of the round answered (a request still on its way
		// when the clock moves can start a refresh that the jump expires the
		// lease of: settle), then their background refreshes finished.
		round.Wait()
		rs.settle()
		rs.advance(step)
	}
	total := int(span/step) * perStep
	if len(failures) > 0 {
		t.Errorf("failed requests of %d: %v, want none", total, failures)
	}
	if got := rs.provider.InvalidGrants(); got != 0 {
		t.Errorf("invalid_grant answers: got %d, want 0", got)
	}
	if got := rs.provider.ChainRevocations(); got != 0 {
		t.Errorf("chain revocations: got %d, want 0", got)
	}
	for _, id := range ids {
		if a := rs.accountOn(0, id); a.Status != oauthflow.StatusConnected {
			t.Errorf("account %s: got %s (%s), want connected", id, a.Status, deref(a.LastError))
		}
	}
	refreshes := rs.provider.TokenCalls() - connectCalls
	want := float64(span) / float64(max(step, window))
	perAccount := float64(refreshes) / accounts
	if perAccount < want*0.95 || perAccount > want*1.05 {
		t.Errorf("refreshes per account: got %.1f (%d in all), want %.0f ± 5%%", perAccount, refreshes, want)
	}
	t.Logf("%d requests by %d workers on 3 replicas, %d refreshes (%.1f per account), simulated %s", total, workers, refreshes, perAccount, span)
}

func (rs *replicaSet) accountOn(i int, id string) crashAccount {
	rs.t.Helper()
	var a crashAccount
	if got := rs.api(i, "GET", "/api/v1/accounts/"+id, "", &a); got != http.StatusOK {
		rs.t.Fatalf("get account %s on replica %d: got %d", id, i, got)
	}
	return a
}

// replicaLeaseTTL is the refresh lease of the kill test: the real 30 s with
// AIRLOCK_STRESS=1, 5 s in `make test`.
func replicaLeaseTTL() (time.Duration, []string) {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return oauthflow.DefaultLeaseTTL, nil
	}
	return 5 * time.Second, []string{"AIRLOCK_TEST_LEASE_TTL=5s"}
}

// TestReplicasKilledLeaseHolder: the replica holding an account's refresh
// lease is killed with SIGKILL just before it calls the token endpoint.
// Another replica's refresh waits for the dead one's lease to expire, then
// calls the token endpoint once, with the refresh token the dead one never
// spent: the account stays connected, nothing is lost, and no request after
// that calls the token endpoint again (no refresh loop).
func TestReplicasKilledLeaseHolder(t *testing.T) {
	lease, extra := replicaLeaseTTL()
	rs := newReplicaSet(t, 3, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, extra...)
	rs.integration()
	id, link := rs.account(0, "prod")
	rs.connect(link, 0, 1)
	rs.procs[0].stop(t)
	holder := rs.start(0, "AIRLOCK_FAULT="+oauthflow.FaultBeforeTokenRequest)
	refreshes := rs.provider.RefreshCalls()
	go func() { // the request dies with the process
		req, _ := http.NewRequest("POST", holder.URL+"/api/v1/accounts/"+id+"/refresh", nil)
		req.Header.Set("Authorization", "Bearer "+rs.adminKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-holder.marker:
	case <-time.After(30 * time.Second):
		t.Fatalf("replica 0 did not reach %s within 30 s\n%s", oauthflow.FaultBeforeTokenRequest, holder.stderr.String())
	}
	holder.kill()
	killed := time.Now()
	var a crashAccount
	if got := rs.api(1, "POST", "/api/v1/accounts/"+id+"/refresh", "", &a); got != http.StatusOK || a.Status != oauthflow.StatusConnected {
		t.Fatalf("refresh on replica 1 after the kill: got %d %s (%s), want 200 connected", got, a.Status, deref(a.LastError))
	}
	took := time.Since(killed)
	if took < lease/2 || took > lease+5*time.Second {
		t.Errorf("refresh on replica 1 finished %s after the kill, want after the dead replica's %s lease expired and soon after", took.Round(100*time.Millisecond), lease)
	}
	if got := rs.provider.RefreshCalls() - refreshes; got != 1 {
		t.Errorf("token endpoint calls: got %d, want 1 (replica 1's; the dead replica never called)", got)
	}
	if got := rs.provider.InvalidGrants(); got != 0 {
		t.Errorf("invalid_grant answers: got %d, want 0", got)
	}
	calls := rs.provider.TokenCalls()
	for _, i := range []int{1, 2, 1, 2} {
		if got := rs.request(i, id); got != "200/200" {
			t.Errorf("request on replica %d: got %s, want 200/200", i, got)
		}
	}
	time.Sleep(2 * time.Second)
	if got := rs.provider.TokenCalls() - calls; got != 0 {
		t.Errorf("token endpoint calls after the refresh: got %d, want 0", got)
	}
}

// TestReplicasSeeChangesWithinASecond: a disconnect, an integration edit,
// an API key disabled and a user disabled on replica A stop their effect
// on replica B within a second, although B had just cached the account,
// the integration and the key (for 2 s and 30 s).
func TestReplicasSeeChangesWithinASecond(t *testing.T) {
	rs := newReplicaSet(t, 2, fakeprovider.Options{AccessTTL: time.Hour})
	const a, b = 0, 1
	key := rs.integration()
	first, link := rs.account(a, "first")
	rs.connect(link, a, a)
	second, link := rs.account(a, "second")
	rs.connect(link, a, a)

	within := func(what string, effect func() bool) {
		t.Helper()
		start := time.Now()
		for !effect() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s on replica A: still no effect on replica B after 5 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s on replica A: replica B followed after %s, want within 1 s", what, took.Round(10*time.Millisecond))
		}
	}

	if got := rs.request(b, first); got != "200/200" {
		t.Fatalf("request on B: got %s", got)
	}
	// The provider fails the revocation, so the token still works there:
	// only B's knowing of the disconnect can stop its requests.
	rs.provider.FailNextRevoke(http.StatusServiceUnavailable, 10)
	if got := rs.api(a, "POST", "/api/v1/accounts/"+first+"/disconnect", "", nil); got != http.StatusOK {
		t.Fatalf("disconnect on A: got %d", got)
	}
	within("a disconnect", func() bool { return rs.request(b, first) != "200/200" })

	if got := rs.request(b, second); got != "200/200" {
		t.Fatalf("request on B: got %s", got)
	}
	var in map[string]any
	rs.api(a, "GET", "/api/v1/integrations/"+key, "", &in)
	in["api_base_urls"] = []string{rs.provider.APIURL() + "elsewhere/"}
	body, _ := json.Marshal(in)
	if got := rs.api(a, "PUT", "/api/v1/integrations/"+key, string(body), nil); got != http.StatusOK {
		t.Fatalf("edit the integration on A: got %d", got)
	}
	within("an integration edit", func() bool { return rs.request(b, second) != "200/200" })

	// An API key, cached by B, disabled in A's console by a signed-in admin.
	rs.user("ada@example.com", store.RoleAdmin, "a long enough password")
	rs.user("bob@example.com", store.RoleAdmin, "another long password")
	admin := rs.browser()
	rs.signIn(admin, a, "ada@example.com", "a long enough password")
	keyID, builderKey := rs.builderKey()
	whoami := func() int { return rs.api(b, "GET", "/api/v1/whoami", "", nil, builderKey) }
	if got := whoami(); got != http.StatusOK {
		t.Fatalf("whoami on B with the builder key: got %d", got)
	}
	if resp := rs.form(admin, a, "/settings", fmt.Sprintf("/settings/api-keys/%d/disable", keyID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable the key on A: got %d", resp.StatusCode)
	}
	within("an API key disabled", func() bool { return whoami() == http.StatusUnauthorized })

	// A user signed in on B, disabled on A.
	bob := rs.browser()
	rs.signIn(bob, b, "bob@example.com", "another long password")
	home := func() int {
		resp, err := bob.Get(rs.procs[b].URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := home(); got != http.StatusOK {
		t.Fatalf("bob's home page on B: got %d", got)
	}
	if resp := rs.form(admin, a, "/users", fmt.Sprintf("/users/%d", rs.userID("bob@example.com")), url.Values{"action": {"disable"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable bob on A: got %d", resp.StatusCode)
	}
	within("a user disabled", func() bool { return home() != http.StatusOK })
}

// builderKey makes a builder API key with the command line and returns its
// id and text.
func (rs *replicaSet) builderKey() (int64, string) {
	rs.t.Helper()
	var out strings.Builder
	if err := run(rs.t.Context(), []string{"apikey", "create", "--name", "builder", "--role", store.RoleBuilder},
		envMap(map[string]string{"AIRLOCK_DATABASE_URL": rs.dbURL}), nil, &out, &strings.Builder{}); err != nil {
		rs.t.Fatal(err)
	}
	st := rs.openStore()
	keys, err := st.ListAPIKeys(context.Background())
	if err != nil || len(keys) == 0 || keys[0].Name != "builder" {
		rs.t.Fatalf("api keys: %+v (%v)", keys, err)
	}
	return keys[0].ID, strings.TrimSpace(out.String())
}

func (rs *replicaSet) userID(email string) int64 {
	rs.t.Helper()
	u, err := rs.openStore().GetUserByEmail(context.Background(), email)
	if err != nil {
		rs.t.Fatal(err)
	}
	return u.ID
}

// openStore opens the set's database from the test, for reading.
func (rs *replicaSet) openStore() *store.Store {
	rs.t.Helper()
	st, err := store.OpenPostgres(context.Background(), rs.dbURL, store.Options{ReadConns: 1})
	if err != nil {
		rs.t.Fatal(err)
	}
	rs.t.Cleanup(func() { st.Close() })
	return st
}

// TestReplicasShareSessionsAndFlows: a user signed in on replica A is
// signed in on B and C too; a connection started from B's console
// completes through C's callback (the pending flow and the browser session
// are in the database), and one started from a connect link on C through
// A's.
func TestReplicasShareSessionsAndFlows(t *testing.T) {
	rs := newReplicaSet(t, 3, fakeprovider.Options{AccessTTL: time.Hour})
	rs.integration()
	rs.user("ada@example.com", store.RoleAdmin, "a long enough password")
	b := rs.browser()
	rs.signIn(b, 0, "ada@example.com", "a long enough password")
	for i := range rs.procs {
		resp, err := b.Get(rs.procs[i].URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("home page on replica %d, signed in on replica 0: got %d, want 200", i, resp.StatusCode)
		}
	}
	id, _ := rs.account(0, "console")
	resp := rs.form(b, 1, "/accounts/"+id, "/accounts/"+id+"/connect", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect on replica 1: got %d, want a redirect to the provider", resp.StatusCode)
	}
	rs.approve(b, resp, 2, "/accounts/"+id)
	if a := rs.accountOn(0, id); a.Status != oauthflow.StatusConnected {
		t.Errorf("account connected from replica 1's console through replica 2's callback: got %s", a.Status)
	}
	linked, link := rs.account(1, "link")
	rs.connect(link, 2, 0)
	if a := rs.accountOn(1, linked); a.Status != oauthflow.StatusConnected {
		t.Errorf("account connected from a link on replica 2 through replica 0's callback: got %s", a.Status)
	}
}

// TestReplicasDeliverEachWebhookOnce: deliveries queued in the outbox are
// claimed item by item (SKIP LOCKED): with three replicas polling it, each
// is sent once. (Three pollers seldom collide in time; the store's
// TestClaimDeliveriesNeverHandsOneOutTwice makes them collide.)
func TestReplicasDeliverEachWebhookOnce(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev store.WebhookEvent
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		received[ev.Reason]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	rs := newReplicaSet(t, 3, fakeprovider.Options{})
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(rs.setting("AIRLOCK_ENCRYPTION_KEY"), "AIRLOCK_ENCRYPTION_KEY="))
	sealer, _ := store.NewSealer(key)
	st, err := store.OpenPostgres(context.Background(), rs.dbURL, store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetWebhookURL(context.Background(), hook.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	const n = 15
	for i := range n {
		if _, err := st.QueueTestEvent(context.Background(), fmt.Sprint("event ", i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, err := st.ListDeliveries(context.Background(), 2*n)
		if err != nil {
			t.Fatal(err)
		}
		delivered := 0
		for _, d := range ds {
			if d.Status == store.DeliveryDelivered {
				delivered++
			}
		}
		if delivered == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of %d within 30 s", delivered, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a second send would come within a poll
	mu.Lock()
	defer mu.Unlock()
	if len(received) != n {
		t.Errorf("events received: got %d distinct, want %d", len(received), n)
	}
	for reason, c := range received {
		if c != 1 {
			t.Errorf("%s: received %d times, want once", reason, c)
		}
	}
}

// setting is the set's "AIRLOCK_X=v" entry for name.
func (rs *replicaSet) setting(name string) string {
	for _, kv := range rs.env {
		if strings.HasPrefix(kv, name+"=") {
			return kv
		}
	}
	return ""
}
