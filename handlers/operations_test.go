package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

func TestMetricsAfterRefreshFailureAndRequest(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, func(i *oauthflow.Integration) {
		i.Parameters = []oauthflow.Parameter{{Name: "tenant"}}
	})
	ctx := context.Background()
	ts.store.UpdateAccount(ctx, acct.ID, acct.Name, map[string]string{"tenant": "secret-tenant-value"})
	ts.store.SetAccountStatus(ctx, acct.ID, oauthflow.StatusConnected, "")
	key := ts.apiKey(store.RoleBuilder)
	if r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, ""); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	p.FailNextToken(503, `{"error":"temporarily_unavailable"}`, 1)
	ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
	if r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`); r.status != 200 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	r := ts.newClient().get("/metrics")
	if r.status != 200 {
		t.Fatalf("/metrics from loopback: %d", r.status)
	}
	for _, want := range []string{
		`airlock_token_refreshes_total{integration="fake",outcome="ok"} 1`,
		`airlock_token_refreshes_total{integration="fake",outcome="temporary_error"} 1`,
		`airlock_token_refresh_seconds_count 2`,
		`airlock_outbound_requests_total{code_class="2xx",integration="fake"} 1`,
		`airlock_outbound_request_seconds_count 1`,
		`airlock_accounts{status="connected"} 1`,
		`airlock_pending_flows 0`,
		`airlock_http_requests_total{code="200",route="/api/v1/accounts/:id/refresh"} 2`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	tok, _ := ts.store.LoadToken(ctx, acct.ID)
	for _, secret := range append(p.IssuedAccessTokens(), append(p.IssuedRefreshTokens(), "secret-tenant-value", acct.ID, tok.AccessToken)...) {
		if strings.Contains(r.body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
}

func TestMetricsRefusedToRemotePeersWithoutAnAdminKey(t *testing.T) {
	ts := newTestServer(t)
	scrape := func(key string) int {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = "203.0.113.9:40000"
		req.Header.Set("X-Forwarded-For", "127.0.0.1") // never believed for this check
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		ts.srv.Config.Handler.ServeHTTP(w, req)
		return w.Code
	}
	if got := scrape(""); got != http.StatusForbidden {
		t.Errorf("remote peer, no key: got %d, want 403", got)
	}
	if got := scrape(ts.apiKey(store.RoleBuilder)); got != http.StatusForbidden {
		t.Errorf("remote peer, builder key: got %d, want 403", got)
	}
	if got := scrape(ts.apiKey(store.RoleAdmin)); got != http.StatusOK {
		t.Errorf("remote peer, admin key: got %d, want 200", got)
	}
	// A reverse proxy on the same host relays from loopback: not local.
	if r := ts.newClient().get("/metrics", "X-Forwarded-For", "198.51.100.7"); r.status != http.StatusForbidden {
		t.Errorf("loopback peer relaying for a remote client: got %d, want 403", r.status)
	}
}

// receiver is a webhook endpoint that records deliveries and answers from a script.
type receiver struct {
	mu       sync.Mutex
	srv      *httptest.Server
	bodies   []string
	sigs     []string
	statuses []int // answers, in order; then 200
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.sigs = append(rc.sigs, r.Header.Get(SignatureHeader))
		status := 200
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) events() []store.WebhookEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []store.WebhookEvent
	for _, b := range rc.bodies {
		var e store.WebhookEvent
		json.Unmarshal([]byte(b), &e)
		out = append(out, e)
	}
	return out
}

// verify checks a signature the way a receiver would.
func verifySignature(secret, header, body string) bool {
	parts := strings.Split(header, ",")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "t=") || !strings.HasPrefix(parts[1], "sha256=") {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.TrimPrefix(parts[0], "t=") + "." + body))
	return hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(strings.TrimPrefix(parts[1], "sha256=")))
}

// drain sends due deliveries, moving the clock past each retry delay.
func (ts *testServer) drain(rounds int) {
	for range rounds {
		if err := ts.h.SendDueWebhooks(context.Background()); err != nil {
			ts.t.Fatal(err)
		}
		ts.clock.Add(40 * time.Second)
	}
}

func TestAlertWebhookNeedsReconnectRetriesAndRecovery(t *testing.T) {
	ts := newTestServer(t)
	rc := newReceiver(t, 500, 500)
	ctx := context.Background()
	ts.store.SetWebhookURL(ctx, rc.srv.URL+"/hook")
	ts.store.SetWebhookSecret(ctx, "whsec_test")
	p, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, nil)
	key := ts.apiKey(store.RoleBuilder)

	p.RevokeAll()
	ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
	ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "") // already needs_reconnect: no second alert
	ts.drain(5)
	evs := rc.events()
	if len(evs) != 3 {
		t.Fatalf("attempts received: got %d, want 3 (500, 500, 200)", len(evs))
	}
	for i, e := range evs {
		if e.Event != "account.needs_reconnect" || e.AccountID != acct.ID || e.Integration != "fake" || e.Status != oauthflow.StatusNeedsReconnect || e.Reason == "" || e.At == "" {
			t.Errorf("attempt %d: %+v", i, e)
		}
		if !verifySignature("whsec_test", rc.sigs[i], rc.bodies[i]) {
			t.Errorf("attempt %d: signature %q does not verify", i, rc.sigs[i])
		}
	}
	ds, _ := ts.store.ListDeliveries(ctx, 10)
	if len(ds) != 1 || ds[0].Status != store.DeliveryDelivered || ds[0].Attempts != 3 || ds[0].LastStatus != 200 {
		t.Errorf("deliveries: %+v, want one delivered after 3 attempts", ds)
	}
	// Dashboard and navigation show the alert.
	c := ts.signedIn(store.RoleBuilder)
	home := c.get("/")
	if !strings.Contains(home.body, `data-alert="needs_reconnect"`) || !strings.Contains(home.body, `class="count"`) {
		t.Error("the dashboard does not show the open alert and its count")
	}
	// Reconnecting recovers the account: the alert closes and account.recovered goes out.
	cb, _ := p.Approve(c.startConnect(t, acct.ID))
	c.follow(t, cb)
	ts.drain(2)
	evs = rc.events()
	if last := evs[len(evs)-1]; last.Event != "account.recovered" || last.Status != oauthflow.StatusConnected {
		t.Errorf("after reconnecting: last event %+v, want account.recovered", last)
	}
	if open, _ := ts.store.ListAlerts(ctx, acct.ID, true, 10); len(open) != 0 {
		t.Errorf("open alerts after recovery: %d", len(open))
	}
}

func TestRefreshFailingAlertAfterThreeTemporaryFailuresAndAcknowledge(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, nil)
	key := ts.apiKey(store.RoleBuilder)
	p.FailNextToken(503, `{"error":"temporarily_unavailable"}`, 3)
	for i := range 3 {
		ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
		open, _ := ts.store.ListAlerts(context.Background(), acct.ID, true, 10)
		if want := map[bool]int{true: 1, false: 0}[i == 2]; len(open) != want {
			t.Errorf("after %d failures: %d open alerts, want %d", i+1, len(open), want)
		}
	}
	open, _ := ts.store.ListAlerts(context.Background(), acct.ID, true, 10)
	if len(open) != 1 || open[0].Kind != store.AlertRefreshFailing {
		t.Fatalf("alerts: %+v", open)
	}
	c := ts.signedIn(store.RoleBuilder)
	c.get("/accounts/" + acct.ID)
	if r := c.post("/alerts/"+strconv.FormatInt(open[0].ID, 10)+"/ack", nil); r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", r.status)
	}
	if open, _ := ts.store.ListAlerts(context.Background(), acct.ID, true, 10); len(open) != 0 {
		t.Error("the acknowledged alert is still open")
	}
}

func TestShortTTLAlert(t *testing.T) {
	ts := newTestServer(t)
	_, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Minute, RotateRefreshTokens: true}, nil)
	open, _ := ts.store.ListAlerts(context.Background(), acct.ID, true, 10)
	if len(open) != 1 || open[0].Kind != store.AlertShortTTL {
		t.Errorf("alerts after connecting with 2-minute tokens: %+v, want short_ttl", open)
	}
}
