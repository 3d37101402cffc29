package oauthflow

import (
	"reflect"
	"testing"
	"time"
)

func TestTokenResponsePaths(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	in1h := now.Add(time.Hour)
	slack := TokenResponsePaths{AccessToken: "authed_user.access_token", RefreshToken: "authed_user.refresh_token",
		ExpiresIn: "authed_user.expires_in", Scope: "authed_user.scope"}
	tests := []struct {
		name        string
		paths       TokenResponsePaths
		body        string
		wantAccess  string
		wantRefresh string
		wantExpiry  time.Time
		wantScopes  []string
		wantErr     bool
	}{
		{name: "slack user token", paths: slack,
			body:       `{"ok":true,"access_token":"xoxb-bot","authed_user":{"access_token":"xoxp-user","refresh_token":"xoxe-1","expires_in":3600,"scope":"chat:write,users:read"}}`,
			wantAccess: "xoxp-user", wantRefresh: "xoxe-1", wantExpiry: in1h, wantScopes: []string{"chat:write", "users:read"}},
		{name: "path finds nothing: standard fields", paths: slack,
			body:       `{"access_token":"std","refresh_token":"r","expires_in":"3600","scope":"a b"}`,
			wantAccess: "std", wantRefresh: "r", wantExpiry: in1h, wantScopes: []string{"a", "b"}},
		{name: "path finds null: standard field", paths: TokenResponsePaths{AccessToken: "data.token"},
			body: `{"data":{"token":null},"access_token":"std"}`, wantAccess: "std"},
		{name: "wrong type at path and no standard field", paths: TokenResponsePaths{AccessToken: "data.token"},
			body: `{"data":{"token":{"value":"x"}}}`, wantErr: true},
		{name: "number at access token path is no token", paths: TokenResponsePaths{AccessToken: "data.token"},
			body: `{"data":{"token":123}}`, wantErr: true},
		{name: "arrays", paths: TokenResponsePaths{AccessToken: "tokens[1].value", ExpiresIn: "tokens[1].ttl"},
			body: `{"tokens":[{"value":"first"},{"value":"second","ttl":"3600"}]}`, wantAccess: "second", wantExpiry: in1h},
		{name: "index past the end falls back", paths: TokenResponsePaths{AccessToken: "tokens[5].value"},
			body: `{"tokens":[],"access_token":"std"}`, wantAccess: "std"},
		{name: "expires_in as a decimal string", paths: TokenResponsePaths{ExpiresIn: "data.ttl"},
			body: `{"access_token":"a","data":{"ttl":"3600.0"}}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_in wrong type: unknown", paths: TokenResponsePaths{ExpiresIn: "data.ttl"},
			body: `{"access_token":"a","data":{"ttl":true}}`, wantAccess: "a"},
		{name: "scope as an array at a path", paths: TokenResponsePaths{Scope: "grant.scopes"},
			body: `{"access_token":"a","grant":{"scopes":["x","y"]}}`, wantAccess: "a", wantScopes: []string{"x", "y"}},
		{name: "expires_at unix wins over expires_in", paths: TokenResponsePaths{ExpiresAt: "expires_at", ExpiresAtFormat: ExpiresAtUnix},
			body: `{"access_token":"a","expires_in":60,"expires_at":1740834000}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_at unix is the default format", paths: TokenResponsePaths{ExpiresAt: "expires_at"},
			body: `{"access_token":"a","expires_at":"1740834000"}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_at unix_ms as a string", paths: TokenResponsePaths{ExpiresAt: "data.exp", ExpiresAtFormat: ExpiresAtUnixMS},
			body: `{"access_token":"a","data":{"exp":"1740834000000"}}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_at rfc3339", paths: TokenResponsePaths{ExpiresAt: "exp", ExpiresAtFormat: ExpiresAtRFC3339},
			body: `{"access_token":"a","exp":"2025-03-01T14:00:00+01:00"}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_at rfc3339 unreadable: expires_in", paths: TokenResponsePaths{ExpiresAt: "exp", ExpiresAtFormat: ExpiresAtRFC3339},
			body: `{"access_token":"a","exp":"tomorrow","expires_in":3600}`, wantAccess: "a", wantExpiry: in1h},
		{name: "expires_at in the past: unknown", paths: TokenResponsePaths{ExpiresAt: "exp"},
			body: `{"access_token":"a","exp":1700000000}`, wantAccess: "a"},
		{name: "expires_at in ms read as seconds: absurd, unknown", paths: TokenResponsePaths{ExpiresAt: "exp"},
			body: `{"access_token":"a","exp":1740834000000}`, wantAccess: "a"},
		{name: "expires_at missing: expires_in", paths: TokenResponsePaths{ExpiresAt: "exp"},
			body: `{"access_token":"a","expires_in":3600}`, wantAccess: "a", wantExpiry: in1h},
		{name: "form body with a flat path", paths: TokenResponsePaths{AccessToken: "token"},
			body: `token=formtok&expires_in=3600`, wantAccess: "formtok", wantExpiry: in1h},
		{name: "error in a 200 still wins", paths: slack,
			body: `{"ok":false,"error":"invalid_code"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := "application/json"
			if tt.body[0] != '{' {
				ct = "application/x-www-form-urlencoded"
			}
			got, err := parseTokenResponse(200, ct, []byte(tt.body), now, sanitize, tt.paths)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want a token", err)
			}
			if got.AccessToken != tt.wantAccess || got.RefreshToken != tt.wantRefresh || !got.Expiry.Equal(tt.wantExpiry) || !reflect.DeepEqual(got.Scopes, tt.wantScopes) {
				t.Errorf("got %q %q %v %v, want %q %q %v %v", got.AccessToken, got.RefreshToken, got.Expiry, got.Scopes,
					tt.wantAccess, tt.wantRefresh, tt.wantExpiry, tt.wantScopes)
			}
		})
	}
}

func TestRefreshTokenExpiresIn(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		body string
		want time.Time
	}{
		{`{"access_token":"a","refresh_token":"r","refresh_token_expires_in":15811200}`, now.Add(15811200 * time.Second)},
		{`{"access_token":"a","refresh_token":"r","refresh_token_expires_in":"86400"}`, now.Add(24 * time.Hour)},
		{`{"access_token":"a","refresh_token":"r"}`, time.Time{}},
		{`{"access_token":"a","refresh_token":"r","refresh_token_expires_in":"soon"}`, time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseTokenResponse(200, "application/json", []byte(tt.body), now)
		if err != nil || !got.RefreshExpiry.Equal(tt.want) {
			t.Errorf("%s: got %v, %v, want %v", tt.body, got.RefreshExpiry, err, tt.want)
		}
	}
}
