package main

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"airlock/oauthflow"
)

// The crash tests kill -9 a real Airlock process at each fault point of a
// refresh (a binary built with -tags faultinject blocks there after printing
// a marker), restart it, and check what a crash may and may not leave behind.

// crashKills is how many processes the crash test kills: one per fault point
// in `make test`, at least 20 in `make stress`.
func crashKills() int {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return 21
	}
	return 3
}

var faultPoints = []string{oauthflow.FaultBeforeTokenRequest, oauthflow.FaultAfterTokenResponse, oauthflow.FaultAfterCommit}

// TestCrashDuringRefresh kills the process at each fault point of a refresh
// of an account whose provider rotates refresh tokens, and restarts it:
// a committed token is intact and usable, a lost answer leaves the account
// working on its old token and then clearly needs_reconnect (the provider
// saw the old refresh token again) — never a refresh loop — and the database
// passes PRAGMA integrity_check.
func TestCrashDuringRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	ce := newCrashEnv(t)
	p := ce.start(t, "")
	accountID, link := ce.setup(t, p)
	p.stop(t)
	for i := range crashKills() {
		point := faultPoints[i%len(faultPoints)]
		t.Run(fmt.Sprintf("%02d_%s", i, point), func(t *testing.T) {
			ce.crashAt(t, point, accountID, link)
			link = ""
		})
		if t.Failed() {
			break
		}
	}
}

// crashAt runs one kill: connect if needed, refresh with the fault set, kill
// -9 at the marker, check the database, restart, check the account.
func (ce *crashEnv) crashAt(t *testing.T, point, accountID, link string) {
	p := ce.start(t, point)
	if a := ce.account(t, p, accountID); a.Status != oauthflow.StatusConnected {
		ce.connect(t, p, accountID, link)
	}
	var before struct {
		AccessToken string `json:"access_token"`
	}
	if got := ce.api(t, p, "GET", "/api/v1/accounts/"+accountID+"/token", "", &before); got != http.StatusOK {
		t.Fatalf("token before the refresh: got %d", got)
	}
	refreshes, invalid := ce.provider.RefreshCalls(), ce.provider.InvalidGrants()
	ce.killDuringRefresh(t, p, point, accountID)

	tok := ce.stored(t, accountID)
	wantCalls := 1 // the provider answered before the kill
	if point == oauthflow.FaultBeforeTokenRequest {
		wantCalls = 0
	}
	if got := ce.provider.RefreshCalls() - refreshes; got != wantCalls {
		t.Errorf("refresh calls before the kill: got %d, want %d", got, wantCalls)
	}
	committed := point == oauthflow.FaultAfterCommit
	if (tok.AccessToken != before.AccessToken) != committed {
		t.Errorf("stored token after the kill: changed=%v, want changed=%v", tok.AccessToken != before.AccessToken, committed)
	}
	if issued := ce.provider.IssuedAccessTokens(); committed && tok.AccessToken != issued[len(issued)-1] {
		t.Error("the committed token is not the provider's last answer")
	}

	p = ce.start(t, "")
	lost := point == oauthflow.FaultAfterTokenResponse
	ce.afterRestart(t, p, accountID, tok, lost)
	wantInvalid := 0
	if lost {
		wantInvalid = 1 // the replaced refresh token, presented once
	}
	if got := ce.provider.InvalidGrants() - invalid; got != wantInvalid {
		t.Errorf("invalid_grant answers after the restart: got %d, want %d", got, wantInvalid)
	}
	p.stop(t)
	ce.stored(t, accountID)
}

// killDuringRefresh asks for a refresh, waits until the process blocks at
// the fault point, and kills it with SIGKILL.
func (ce *crashEnv) killDuringRefresh(t *testing.T, p *airlockProc, point, accountID string) {
	t.Helper()
	// The request dies with the process.
	go func() {
		req, _ := http.NewRequest("POST", p.URL+"/api/v1/accounts/"+accountID+"/refresh", nil)
		req.Header.Set("Authorization", "Bearer "+ce.adminKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case got := <-p.marker:
		if got != point {
			t.Fatalf("fault point: got %s, want %s", got, point)
		}
	case <-p.exited:
		t.Fatalf("airlock exited before the fault point\n%s", p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no AIRLOCK_FAULT_REACHED %s within 30 s\n%s", point, p.stderr.String())
	}
	p.kill()
}

// afterRestart checks a restarted process: the stored token tok works; the
// next refresh works too unless the answer to the killed one was lost (then
// the provider sees the replaced refresh token again and revokes the grant,
// and the account must say needs_reconnect); and no request after that
// calls the token endpoint (no refresh loop).
func (ce *crashEnv) afterRestart(t *testing.T, p *airlockProc, accountID string, tok oauthflow.Token, lost bool) {
	t.Helper()
	// The crash lost at most an answer, and the rotation alone revokes nothing.
	if got := ce.request(t, p, accountID, 3); !allEqual(got, "200/200") {
		t.Errorf("requests after the restart: got %v, want 200/200 each", got)
	}
	if got := ce.provider.LastAPIRequest().Header.Get("Authorization"); got != "Bearer "+tok.AccessToken {
		t.Errorf("requests after the restart did not use the stored token")
	}
	start := time.Now()
	var a crashAccount
	if got := ce.api(t, p, "POST", "/api/v1/accounts/"+accountID+"/refresh", "", &a); got != http.StatusOK {
		t.Fatalf("refresh after the restart: got %d", got)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refresh after the restart took %s: the dead process's lease held it up", took.Round(time.Second))
	}
	wantStatus, want := oauthflow.StatusConnected, "200/200"
	if lost {
		wantStatus, want = oauthflow.StatusNeedsReconnect, "409/0"
	}
	if a.Status != wantStatus || (a.LastError != nil) != lost {
		t.Errorf("account after the refresh: got %s (last_error %v), want %s", a.Status, deref(a.LastError), wantStatus)
	}
	calls := ce.provider.TokenCalls()
	if got := ce.request(t, p, accountID, 5); !allEqual(got, want) {
		t.Errorf("requests after the refresh: got %v, want %s each", got, want)
	}
	if got := ce.provider.TokenCalls() - calls; got != 0 {
		t.Errorf("token endpoint calls during 5 requests: got %d, want 0", got)
	}
}
