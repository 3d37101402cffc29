package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

func TestStartupOnAFullDiskSaysSoAndNamesTheSetting(t *testing.T) {
	fs, vals := newFlagSet("serve", io.Discard)
	cfg, err := resolveConfig(fs, vals, envMap(map[string]string{"AIRLOCK_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	// 20 pages cannot hold the schema: the migrations hit SQLITE_FULL, as
	// on a disk with no room left.
	_, err = openStore(context.Background(), cfg, store.Options{MaxPageCount: 20}, slog.New(slog.DiscardHandler))
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	for _, want := range []string{"disk holding the database is full", filepath.Join(cfg.DataDir, "airlock.db"), "free space", "AIRLOCK_DATA_DIR (--data-dir)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("start-up on a full disk: got %q, want it to contain %q", msg, want)
		}
	}
}

// TestTokenCallsHaveTheirOwnTimeouts: a token endpoint that answers after
// the APIs' header timeout still gets its answer through (the refresh it may
// have made is not lost); the manager's own bounds exceed the token call's.
func TestTokenCallsHaveTheirOwnTimeouts(t *testing.T) {
	fs, vals := newFlagSet("serve", io.Discard)
	cfg, err := resolveConfig(fs, vals, envMap(map[string]string{"AIRLOCK_OUTBOUND_HEADER_TIMEOUT": "100ms", "AIRLOCK_TOKEN_TIMEOUT": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token": "at", "token_type": "Bearer", "expires_in": 3600}`))
	}))
	defer slow.Close()
	guard := &oauthflow.DialGuard{AllowPrivate: true}
	in := oauthflow.Integration{OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantClientCredentials, TokenURL: slow.URL, ClientID: "id", ClientSecret: "secret"}}
	tokens := &oauthflow.Client{HTTP: oauthflow.NewHTTPClient(tokenHTTPOptions(cfg, guard), oauthflow.NoRedirects)}
	if tok, err := tokens.ClientCredentials(context.Background(), in, nil, oauthflow.Endpoints{Token: slow.URL}); err != nil || tok.AccessToken != "at" {
		t.Errorf("token client: got %v, want the slow answer", err)
	}
	apiOpts := oauthflow.HTTPOptions{Guard: guard, HeaderTimeout: cfg.OutboundHeaderTimeout}
	api := &oauthflow.Client{HTTP: oauthflow.NewHTTPClient(apiOpts, oauthflow.NoRedirects)}
	if _, err := api.ClientCredentials(context.Background(), in, nil, oauthflow.Endpoints{Token: slow.URL}); err == nil {
		t.Error("the API client's header timeout let the slow answer through: the test proves nothing")
	}
	// The lease is renewed while a refresh runs, so it need not outlast the
	// call; it must be short, since a dead replica's lease holds up its
	// account until it expires.
	mo := managerOptions(cfg, nil, tokens, nil, nil, nil)
	if !(mo.CallTimeout > cfg.TokenTimeout && mo.LeaseTTL > 0 && mo.LeaseTTL <= 30*time.Second) {
		t.Errorf("lease %v, refresh %v, token call %v: want refresh > token call and a lease of at most 30 s", mo.LeaseTTL, mo.CallTimeout, cfg.TokenTimeout)
	}
}
