package handlers

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestEchoedCredentialsNeverReachMessages is the attack of issue 11 point 4:
// a token endpoint that echoes the request's Authorization header in its
// error_description put the HTTP Basic value (base64 of client id:secret)
// into last_error (which viewers see), the log, activity.detail and
// alerts.reason, and so into webhooks and backups. Here the token and the
// revocation endpoints echo every credential they get, and a callback
// carries them in error_description; no encoding of any reaches a message,
// a response, the log or the database, and the messages still say what
// went wrong.
func TestEchoedCredentialsNeverReachMessages(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	secret := "cs/echo+" + randomToken()
	echo := ts.provider(fakeprovider.Options{EchoCredentials: true, ClientSecret: secret})
	if err := ts.store.SetWebhookURL(ctx, "http://127.0.0.1:1/hook"); err != nil { // alerts queue webhook payloads
		t.Fatal(err)
	}
	admin := ts.apiKey(store.RoleAdmin)
	withSecret := func(in *oauthflow.Integration) { in.OAuth2.ClientSecret = secret }

	// Client credentials: the token is requested when the account is created.
	ts.integrationFor(echo, "echocc", oauthflow.GrantClientCredentials, fakeprovider.Options{}, withSecret)
	r := ts.api("POST", "/api/v1/integrations/echocc/accounts", admin, `{"name": "machine"}`)
	if r.status != 201 || !strings.Contains(r.body, `"status":"error"`) || !strings.Contains(r.body, "invalid_client") {
		t.Fatalf("client-credentials account: got %d %s, want 201, error, invalid_client", r.status, r.body)
	}

	// Authorization code: a stored token set refreshed and revoked at the echo.
	code := ts.integrationFor(echo, "echocode", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, withSecret)
	acct := ts.account(code, "person", nil)
	tok := oauthflow.Token{AccessToken: "at-echo-" + randomToken(), RefreshToken: "rt-echo-" + randomToken(), TokenType: "Bearer",
		Expiry: ts.clock.Now().Add(time.Hour), ObtainedAt: ts.clock.Now(),
		Endpoints: oauthflow.Endpoints{Token: echo.TokenURL(), Revoke: echo.RevokeURL()}}
	if _, err := ts.store.SaveToken(ctx, acct.ID, -1, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		t.Fatal(err)
	}
	ts.h.accounts.Invalidate(acct.ID) // the token was saved behind the service's back
	r = ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", admin, "")
	if !strings.Contains(r.body, "invalid_client") || !strings.Contains(r.body, "[redacted]") {
		t.Errorf("refresh: got %d %s, want invalid_client with the credentials redacted", r.status, r.body)
	}
	c := ts.signedIn(store.RoleAdmin)
	c.get("/accounts/" + acct.ID)
	c.post("/accounts/"+acct.ID+"/refresh", nil, "HX-Request", "true") // the console logs a failed refresh
	viewer := ts.signedIn(store.RoleViewer)
	viewer.get("/accounts/" + acct.ID)
	ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", admin, "")

	// A callback whose error_description carries them.
	other := ts.account(code, "callback", nil)
	authURL, _ := url.Parse(c.startConnect(t, other.ID))
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(fakeprovider.DefaultClientID) + ":" + url.QueryEscape(secret)))
	q := url.Values{"state": {authURL.Query().Get("state")}, "error": {"access_denied"},
		"error_description": {"you sent Basic " + basic + " and " + secret}}
	if r := c.get(CallbackPath + "?" + q.Encode()); r.status != 400 || !strings.Contains(r.body, "access_denied") {
		t.Errorf("callback with an error: got %d, want 400 naming access_denied", r.status)
	}
	viewer.get("/accounts/" + other.ID)
	ts.activity.Flush(ctx)

	haystacks := map[string]string{"the log": ts.logs.String()}
	for i, b := range ts.captured.all() {
		haystacks[b.method+" "+b.path+" #"+strconvFormat(int64(i))] = string(b.body)
	}
	acts, _, _ := ts.store.ListActivity(ctx, store.ActivityFilter{}, 200, "")
	for _, a := range acts {
		haystacks["activity "+a.Kind] += a.Detail + "\n"
	}
	for _, id := range []string{acct.ID, other.ID} {
		alerts, _ := ts.store.ListAlerts(ctx, id, false, 50)
		for _, a := range alerts {
			haystacks["alert "+a.Kind] += a.Reason + "\n"
		}
	}
	deliveries, _ := ts.store.ListDeliveries(ctx, 100)
	for _, d := range deliveries {
		haystacks["webhook payload"] += d.Payload + "\n"
	}
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(ts.store.Path() + suffix); err == nil {
			haystacks["the database file "+filepath.Base(ts.store.Path())+suffix] = string(b)
		}
	}
	if !strings.Contains(haystacks["the log"], "manual refresh failed") || !strings.Contains(haystacks["activity refresh_failed"], "invalid_client") || !strings.Contains(haystacks["activity disconnected"], "revocation failed") ||
		haystacks["webhook payload"] == "" || !strings.Contains(haystacks["alert error"], "invalid_client") {
		t.Fatalf("the flows did not record what they should: %q", haystacks)
	}
	id := fakeprovider.DefaultClientID
	forms := map[string]string{
		"the client secret":                secret,
		"the client secret, query-escaped": url.QueryEscape(secret),
		"the Basic value":                  basic,
		"the Basic value of the raw pair":  base64.StdEncoding.EncodeToString([]byte(id + ":" + secret)),
		"the access token":                 tok.AccessToken,
		"the refresh token":                tok.RefreshToken,
	}
	for what, s := range forms {
		for where, h := range haystacks {
			if strings.Contains(h, s) {
				t.Errorf("%s contains %s", where, what)
			}
		}
	}
}
