package handlers

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

// TestWebhookURLMasked: a webhook URL whose path and query hold a token is
// stored sealed, shown masked in Settings, and named masked in the errors of
// failed deliveries — wherever the delivery failed (refused by the dial guard,
// connection refused, a receiver that does not answer HTTP).
func TestWebhookURLMasked(t *testing.T) {
	for _, tc := range []struct{ name, base, want string }{
		{"connection refused", "http://127.0.0.1:1", "POST http://127.0.0.1:1/…"},
		{"dial guard", "http://169.254.169.254", "POST http://169.254.169.254/…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			ctx := context.Background()
			const pathToken, queryToken = "T0pathsecret9f3a", "q7querysecret2b1e"
			hook := tc.base + "/services/" + pathToken + "?token=" + queryToken + "&x=1"
			admin := ts.signedIn(store.RoleAdmin)
			admin.get("/settings")
			if got := admin.post("/settings/webhook", url.Values{"url": {hook}}); got.status != http.StatusSeeOther {
				t.Fatalf("save the URL: got %d\n%s", got.status, got.body)
			}
			in := oauthflow.Integration{Key: "hooked", Name: "Hooked", OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantClientCredentials,
				TokenURL: "http://127.0.0.1:1/token", ClientID: "c", ClientSecret: "s", ClientAuth: oauthflow.ClientAuthBasic},
				Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: oauthflow.InHeader}}
			created, err := ts.store.CreateIntegration(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			broken := ts.account(created, "broken", nil)
			ev := oauthflow.RefreshEvent{Reason: oauthflow.ReasonManual, Error: "revoked", Kind: oauthflow.KindInvalidGrant, Status: oauthflow.StatusNeedsReconnect}
			if err := ts.store.RecordRefreshFailure(ctx, broken.ID, ev); err != nil {
				t.Fatal(err)
			}
			ts.drain(2)
			ds, _ := ts.store.ListDeliveries(ctx, 10)
			if len(ds) != 1 || ds[0].Attempts != 2 || !strings.Contains(ds[0].LastError, tc.want) {
				t.Fatalf("deliveries: got %+v, want one tried twice, its error naming %s", ds, tc.want)
			}
			page := admin.get("/settings")
			if !strings.Contains(page.body, tc.base+"/…") {
				t.Errorf("settings do not show the masked URL %s/…", tc.base)
			}
			haystacks := map[string]string{"the delivery error": ds[0].LastError, "the settings page": page.body, "the log": ts.logs.String()}
			for _, suffix := range []string{"", "-wal"} {
				b, _ := os.ReadFile(ts.store.Path() + suffix)
				haystacks["the database file"+suffix] = string(b)
			}
			for where, text := range haystacks {
				for _, secret := range []string{pathToken, queryToken} {
					if strings.Contains(text, secret) {
						t.Errorf("%s holds %s of the webhook URL", where, secret)
					}
				}
			}
			if got, err := ts.store.GetWebhook(ctx); err != nil || got.URL != hook {
				t.Errorf("stored URL: got %q (%v), want %q", got.URL, err, hook)
			}
		})
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://hooks.example.com", "https://hooks.example.com/…"},
		{"https://hooks.example.com/a", "https://hooks.example.com/…"},
		{"https://hooks.slack.com/services/T000/B000/XXXXabcd", "https://hooks.slack.com/…abcd"},
		{"https://h.example.com:8443/hook?token=secret-wxyz", "https://h.example.com:8443/…wxyz"},
		{"http://[::1]:9/x?y=z", "http://[::1]:9/…"},
	}
	for _, tt := range tests {
		if got := maskURL(tt.in); got != tt.want {
			t.Errorf("maskURL(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
