package oauthflow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRevoke(t *testing.T) {
	tests := []struct {
		name     string
		reply    func(http.ResponseWriter, *http.Request)
		wantKind ErrorKind // KindNone: success
		wantText string
	}{
		{"200 done", jsonReply(200, ``), KindNone, ""},
		{"204 done", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, KindNone, ""},
		{"503 temporary", jsonReply(503, `{"error":"temporarily_unavailable"}`), KindTemporary, "the revocation endpoint answered 503 temporarily_unavailable"},
		{"400 unsupported token type", jsonReply(400, `{"error":"unsupported_token_type"}`), KindConfig, "the provider cannot revoke this token type"},
		{"401 echoing the token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			io.WriteString(w, "token rt-SENSITIVE is not yours")
		}, KindConfig, `starting "token [redacted] is not yours"`},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/other", http.StatusMovedPermanently)
		}, KindConfig, "the revocation endpoint answered 301 (redirected to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, in, c := newTestProvider(t, tt.reply)
			err := c.Revoke(context.Background(), in, testValues, testEndpoints(t, in).Revoke, "rt-SENSITIVE", "refresh_token")
			if got := Classify(err); got != tt.wantKind {
				t.Fatalf("got kind %v (%v), want %v", got, err, tt.wantKind)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.wantText) || strings.Contains(err.Error(), "rt-SENSITIVE")) {
				t.Errorf("got %q, want it to contain %q and not the token", err.Error(), tt.wantText)
			}
			if len(fe.requests) != 1 {
				t.Fatalf("got %d requests, want 1 (no redirect followed)", len(fe.requests))
			}
			r := fe.last(t)
			if r.method != "POST" || r.path != "/revoke" || r.form.Get("token") != "rt-SENSITIVE" || r.form.Get("token_type_hint") != "refresh_token" {
				t.Errorf("got %s %s %v, want POST /revoke with token and hint", r.method, r.path, r.form)
			}
			if id, _ := basicCreds(t, r.authorization); id != "client-eu" {
				t.Errorf("got client id %q, want client-eu in Basic auth", id)
			}
		})
	}
}

func TestRevokeAll(t *testing.T) {
	tests := []struct {
		name        string
		status      map[string]int // by token
		token       Token
		noURL       bool
		wantRevoked bool
		wantErr     bool
		wantOrder   []string
	}{
		{"both revoked, refresh first", nil, Token{AccessToken: "at", RefreshToken: "rt"}, false, true, false, []string{"rt/refresh_token", "at/access_token"}},
		{"access only", nil, Token{AccessToken: "at"}, false, true, false, []string{"at/access_token"}},
		{"refresh fails, access still tried", map[string]int{"rt": 503}, Token{AccessToken: "at", RefreshToken: "rt"}, false, false, true, []string{"rt/refresh_token", "at/access_token"}},
		{"no revoke URL", nil, Token{AccessToken: "at", RefreshToken: "rt"}, true, false, false, nil},
		{"no tokens", nil, Token{}, false, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, in, c := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				if s := tt.status[r.PostForm.Get("token")]; s != 0 {
					w.WriteHeader(s)
				}
			})
			if tt.noURL {
				in.OAuth2.RevokeURL = ""
			}
			tok := tt.token
			tok.Endpoints = testEndpoints(t, in)
			revoked, err := c.RevokeAll(context.Background(), in, testValues, tok)
			if revoked != tt.wantRevoked || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v, want %v, error %v", revoked, err, tt.wantRevoked, tt.wantErr)
			}
			var order []string
			for _, r := range fe.requests {
				order = append(order, r.form.Get("token")+"/"+r.form.Get("token_type_hint"))
			}
			if strings.Join(order, ",") != strings.Join(tt.wantOrder, ",") {
				t.Errorf("got requests %v, want %v", order, tt.wantOrder)
			}
			if tt.wantErr && !errors.As(err, new(*TokenError)) {
				t.Errorf("got %v, want a *TokenError inside", err)
			}
		})
	}
}
