package oauthflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// tracedAccounts is the accounts service over e with traces on.
func tracedAccounts(e *engine) *oauthflow.Accounts {
	m := tracedManager(e)
	hc := oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(e.t)}}, oauthflow.SameOriginRedirects)
	return oauthflow.NewAccounts(oauthflow.AccountsOptions{Store: e.store, Manager: m, Client: e.client,
		Runner: oauthflow.NewRunner(oauthflow.RunnerOptions{Manager: m, HTTP: hc}), CallbackURL: "http://127.0.0.1:1/cb",
		PublicURL: "http://127.0.0.1:1", Now: e.clock.Now})
}

// TestTraceTestRequestAndHealthCheck: the console's test request (Trace
// set) and the health check leave traces of their own kinds with the token
// and a secret header masked; an API request (no Trace) leaves none.
func TestTraceTestRequestAndHealthCheck(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 2 * time.Hour}, oauthflow.GrantAuthorizationCode)
	e.in.HealthCheck = &oauthflow.HealthCheck{Method: "GET", URL: e.provider.APIURL() + "me", ExpectStatus: 200}
	if _, err := e.store.UpdateIntegration(context.Background(), e.in.Key, e.in); err != nil {
		t.Fatal(err)
	}
	tok := e.connect()
	acc := tracedAccounts(e)
	ctx := context.Background()
	apiKey := "xk-live-0123456789abcdef"
	h := http.Header{"X-Api-Key": {apiKey}, "Accept": {"application/json"}}
	if _, err := acc.Request(ctx, e.acct.ID, oauthflow.Request{Method: "GET", URL: e.provider.APIURL() + "me", Header: h}); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := e.store.ListTraces(ctx, e.acct.ID, 10, ""); len(list) != 0 {
		t.Fatalf("an API request left %d traces, want none", len(list))
	}
	resp, err := acc.Request(ctx, e.acct.ID, oauthflow.Request{Method: "GET", URL: e.provider.APIURL() + "me", Header: h, Describe: true, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := lastTrace(t, e)
	if tr.Kind != oauthflow.TraceTestRequest || tr.Outcome != oauthflow.TraceOK || resp.TraceID != tr.ID || len(tr.Steps) != 1 {
		t.Fatalf("test request trace: got %+v (response's id %d), want one ok step of kind request", tr, resp.TraceID)
	}
	st := tr.Steps[0]
	if got, want := st.Request.Headers["Authorization"], "Bearer "+oauthflow.Mask(tok.AccessToken); got != want {
		t.Errorf("Authorization: got %q, want %q", got, want)
	}
	if got, want := st.Request.Headers["X-Api-Key"], oauthflow.Mask(apiKey); got != want {
		t.Errorf("X-Api-Key: got %q, want %q", got, want)
	}
	if st.Request.Headers["Accept"] != "application/json" || st.Response == nil || st.Response.Status != 200 {
		t.Errorf("step: got %+v, want Accept plain and the 200 answer", st)
	}
	raw, _ := json.Marshal(tr)
	for _, s := range []string{tok.AccessToken, tok.RefreshToken, apiKey, fakeprovider.DefaultClientSecret} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the trace holds the secret %q", s)
		}
	}
	if err := acc.CheckHealth(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	tr = lastTrace(t, e)
	if tr.Kind != oauthflow.TraceHealthCheck || tr.Outcome != oauthflow.TraceOK || len(tr.Steps) != 1 || tr.Steps[0].Name != "health check" {
		t.Fatalf("health check trace: got %+v", tr)
	}
	e.provider.FailNextAPI(500, 1)
	if err := acc.CheckHealth(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	tr = lastTrace(t, e)
	if tr.Outcome != oauthflow.TraceFailed || tr.Diagnosis == nil || tr.Diagnosis.Code != oauthflow.DiagHealthStatus ||
		!strings.Contains(tr.Diagnosis.Hint, "health_check.expect_status") {
		t.Errorf("failing health check trace: got %+v, diagnosis %+v", tr, tr.Diagnosis)
	}
}

// TestDiagnosisRefusedRefreshToken: a refresh token refused after two
// rotations is diagnosed with its age, the last successful refresh and the
// rotations, and the diagnosis is the account's last_error and its alert's
// reason.
func TestDiagnosisRefusedRefreshToken(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	m := tracedManager(e)
	ctx := context.Background()
	for range 2 {
		e.clock.Add(time.Hour)
		if _, err := m.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(3 * time.Hour)
	e.provider.FailNextToken(400, `{"error":"invalid_grant"}`, 1)
	if _, err := m.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); err == nil {
		t.Fatal("refresh: got no error, want invalid_grant")
	}
	d := lastTrace(t, e).Diagnosis
	if d == nil || d.Code != oauthflow.DiagInvalidGrantRefresh || !strings.Contains(d.Hint, "reconnect") {
		t.Fatalf("diagnosis: got %+v, want invalid_grant with a reconnect hint", d)
	}
	for _, want := range []string{"The refresh token is 3h0m0s old", "The last successful refresh or connect was 3h0m0s ago", "rotated 2 times"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("message: got %q, want it to contain %q", d.Message, want)
		}
	}
	acct, err := e.store.GetAccount(ctx, e.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(acct.LastError, "Diagnosis (invalid_grant)") || !strings.Contains(acct.LastError, "rotated 2 times") {
		t.Errorf("last_error: got %q, want the diagnosis", acct.LastError)
	}
	alerts, err := e.store.ListAlerts(ctx, e.acct.ID, true, 10)
	if err != nil || len(alerts) == 0 || !strings.Contains(alerts[0].Reason, "Fix: the provider revoked or expired the refresh token") {
		t.Errorf("alerts: got %+v, %v; want a needs_reconnect alert whose reason has the fix", alerts, err)
	}
}

// TestDiagnosisConnectWithoutRefreshToken: a connect that got no refresh
// token succeeds, and its trace carries the offline-access hint.
func TestDiagnosisConnectWithoutRefreshToken(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{NoRefreshToken: true}, oauthflow.GrantAuthorizationCode)
	acc := tracedAccounts(e)
	ctx := context.Background()
	session := func() (string, error) { return "session-hash", nil }
	res, err := acc.Connect(ctx, e.acct.ID, oauthflow.ConnectRequest{Session: session})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := e.provider.Approve(res.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	done, err := acc.CompleteCallback(ctx, oauthflow.CallbackRequest{Query: u.Query(), SessionHash: "session-hash", User: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	tr := lastTrace(t, e)
	d := tr.Diagnosis
	if tr.Kind != oauthflow.TraceConnect || done.TraceID != tr.ID || d == nil || d.Code != oauthflow.DiagNoRefreshToken ||
		!strings.Contains(d.Hint, "offline_access") || !strings.Contains(d.Hint, "access_type=offline") || !strings.Contains(d.Hint, "prompt=consent") {
		t.Fatalf("connect trace: got kind %q id %d (callback's %d), diagnosis %+v; want the offline access hint", tr.Kind, tr.ID, done.TraceID, d)
	}
}
