package handlers

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// holdWriteLock takes the database's write lock from another connection
// (as a second program would) until the returned function is called.
func holdWriteLock(t *testing.T, st *store.Store) func() {
	t.Helper()
	db, err := sql.Open("sqlite", st.Path())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(context.Background(), nil)
	if err == nil {
		_, err = tx.Exec("INSERT INTO write_probe (id, at) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET at = at + 1")
	}
	if err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	return func() { tx.Rollback(); db.Close() }
}

func (ts *testServer) readyz() response {
	ts.t.Helper()
	return ts.newClient().get("/readyz")
}

var droppedRE = regexp.MustCompile(`(?m)^airlock_activity_dropped_total (\d+)`)

// TestStorageFaultsAreVisibleAndSurvivable: while another connection holds
// the write lock past the busy timeout, a request with a valid token still
// goes out (its activity dropped and counted), a write answers 503
// storage_unavailable, /readyz answers 503 with the reason, and once the lock
// is gone /readyz is ready again by itself.
func TestStorageFaultsAreVisibleAndSurvivable(t *testing.T) {
	ts := newTestServerWith(t, store.Options{BusyTimeout: 100 * time.Millisecond})
	ts.metrics.WatchActivity(ts.activity)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
		t.Fatalf("before the fault: got %d %s", st, code)
	}
	if r := ts.readyz(); r.status != 200 {
		t.Fatalf("readyz before the fault: %d %s", r.status, r.body)
	}
	release := holdWriteLock(t, ts.store)
	defer release()
	for range 3 {
		if st, code := ts.requestStatus(key, acct.ID, p.APIURL()+"me"); st != 200 {
			t.Errorf("request with a valid token while writes fail: got %d %s, want 200", st, code)
		}
	}
	ts.clock.Add(time.Minute) // the minute is over: its summary row is due, and refused
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/connect-link", key, "")
	var e apiError
	json.Unmarshal([]byte(r.body), &e)
	if r.status != 503 || e.Error.Code != "storage_unavailable" || !strings.Contains(e.Error.Message, "SQLITE_BUSY") {
		t.Errorf("a write while writes fail: got %d %s, want 503 storage_unavailable naming SQLITE_BUSY", r.status, r.body)
	}
	if r := ts.readyz(); r.status != 503 || !strings.Contains(r.body, "write lock") {
		t.Errorf("readyz while writes fail: got %d %q, want 503 with the reason", r.status, r.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := droppedRE.FindStringSubmatch(ts.newClient().get("/metrics").body)
		if n, _ := strconv.Atoi(m[1]); m != nil && n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("airlock_activity_dropped_total: got %v, want the minute's summary row", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	release()
	for deadline = time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r := ts.readyz(); r.status == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("readyz after the fault: still %d %q", r.status, r.body)
		}
	}
	if strings.Contains(ts.logs.String(), "status=500") {
		t.Errorf("a storage fault was answered 500:\n%s", ts.logs)
	}
}

// TestTokenUnavailableIs503: a token endpoint in an outage is 503
// token_unavailable once the token has expired — never needs_reconnect —
// and no failure at all while the token is valid.
func TestTokenUnavailableIs503(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, nil)
	key := ts.apiKey(store.RoleBuilder)
	p.SetTokenFault(fakeprovider.Fault{Status: 503, Body: "<html>down</html>"})
	ts.clock.Add(40 * time.Minute) // inside the window, valid
	if st, code := ts.upstreamStatus(key, acct.ID, p.APIURL()+"me"); st != 200 || code != 200 {
		t.Errorf("valid token during the outage: got %d (upstream %d), want the upstream's 200", st, code)
	}
	ts.mgr.Wait(context.Background()) // its background refresh fails before the clock moves on
	ts.clock.Add(21 * time.Minute)    // expired
	st, e := ts.requestError(key, acct.ID, p.APIURL()+"me")
	if st != 503 || e.Code != "token_unavailable" || !strings.Contains(e.Message, "503") {
		t.Errorf("expired token during the outage: got %d %+v, want 503 token_unavailable with the endpoint's answer", st, e)
	}
	if st, e := ts.requestError(key, acct.ID, p.APIURL()+"me"); st != 503 || e.Code != "token_unavailable" || !strings.Contains(e.Message, "next attempt") {
		t.Errorf("while backing off: got %d %+v (%d token calls), want a fast 503 token_unavailable saying when the next attempt is due", st, e, p.TokenCalls())
	}
}

// TestClientHangUpIsNotAnError: a client that gives up on a slow API is
// neither an ERROR line nor a 502 upstream_unreachable.
func TestClientHangUpIsNotAnError(t *testing.T) {
	ts := newTestServer(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	_, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, func(in *oauthflow.Integration) {
		in.APIBaseURLs = []string{slow.URL + "/"}
	})
	key := ts.apiKey(store.RoleBuilder)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.srv.URL+"/api/v1/accounts/"+acct.ID+"/request", strings.NewReader(`{"url": "`+slow.URL+`/x"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want the client to give up", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.logs.String(), "status=499") {
		if time.Now().After(deadline) {
			t.Fatalf("no 499 line in the log:\n%s", ts.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := ts.logs.String()
	if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "upstream_unreachable") || strings.Contains(logs, "status=502") {
		t.Errorf("a client hang-up was logged as an error or a 502:\n%s", logs)
	}
}

// TestAccountPageShowsMinutesAndStreaks: the account page shows a minute's
// requests as one row (count, classes, percentiles) and a failure streak as
// one row with its attempts.
func TestAccountPageShowsMinutesAndStreaks(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	for range 3 {
		ts.requestStatus(key, acct.ID, p.APIURL()+"me")
	}
	ts.clock.Add(time.Minute)
	ts.activity.Flush(context.Background())
	for n := 1; n <= 2; n++ {
		ev := oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring, Kind: oauthflow.KindTemporary, Error: "the token endpoint answered 503",
			Backoff: oauthflow.Backoff{Failures: n, Next: ts.clock.Now().Add(time.Second), LastError: "503"}}
		if err := ts.store.RecordRefreshFailure(context.Background(), acct.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	body := ts.signedIn(store.RoleViewer).get("/accounts/" + acct.ID).body
	for _, want := range []string{"requests, per minute", "3 requests</strong>: 2xx 3; p50 ", "2 attempts in a row, the last"} {
		if !strings.Contains(body, want) {
			t.Errorf("account page: no %q", want)
		}
	}
	if n := strings.Count(body, "refresh failed"); n != 1 {
		t.Errorf("account page: %d refresh failure rows, want 1 for the streak", n)
	}
}

func TestAccessLogCanBeTurnedOff(t *testing.T) {
	for _, off := range []bool{false, true} {
		ts := newTestServer(t, func(d *Deps) { d.Config.NoAccessLog = off })
		ts.newClient().get("/signin")
		if got := strings.Contains(ts.logs.String(), "msg=request"); got == off {
			t.Errorf("AIRLOCK_ACCESS_LOG=%v: a request line logged: %v", !off, got)
		}
	}
}
