package oauthflow

import (
	"strings"
	"testing"
)

// salesforceLike is a valid integration using a captured origin.
func salesforceLike() Integration {
	in := Integration{Key: "sf", Name: "SF", OAuth2: OAuth2{GrantType: GrantAuthorizationCode,
		AuthorizationURL: "https://login.salesforce.com/services/oauth2/authorize", TokenURL: "https://login.salesforce.com/services/oauth2/token",
		Scope: "api refresh_token", ClientID: "id", ClientSecret: "s",
		Capture: []Capture{{Name: "instance_url", From: FromTokenResponse, Path: "instance_url", AllowedHosts: []string{"*.salesforce.com"}}}},
		APIBaseURLs: []string{"{instance_url}/services/data/"}}
	Normalize(&in)
	return in
}

func TestValidateCaptures(t *testing.T) {
	cases := []struct {
		name      string
		mut       func(*Integration)
		wantField string
		wantMsg   string
	}{
		{"valid", func(*Integration) {}, "", ""},
		{"origin capture without allowed hosts", func(in *Integration) { in.OAuth2.Capture[0].AllowedHosts = nil },
			"oauth2.capture[0].allowed_hosts", "lands in the host"},
		{"host capture without allowed hosts", func(in *Integration) {
			in.OAuth2.Capture[0].AllowedHosts = nil
			in.APIBaseURLs = []string{"https://{instance_url}/services/"}
		}, "oauth2.capture[0].allowed_hosts", "lands in the host"},
		{"path capture needs none", func(in *Integration) {
			in.OAuth2.Capture[0].AllowedHosts = nil
			in.APIBaseURLs = []string{"https://api.example.com/v3/company/{instance_url}/"}
		}, "", ""},
		{"parameter for the origin", func(in *Integration) {
			in.Parameters = []Parameter{{Name: "base"}}
			in.APIBaseURLs = []string{"{base}/v1/"}
		}, "api_base_urls[0]", "whole origin"},
		{"token answer capture in the token url", func(in *Integration) {
			in.OAuth2.TokenURL = "{instance_url}/services/oauth2/token"
		}, "oauth2.token_url", "after the code exchange"},
		{"callback capture in the token url", func(in *Integration) {
			in.OAuth2.Capture[0].From = FromCallback
			in.OAuth2.TokenURL = "{instance_url}/oauth/v2/token"
		}, "", ""},
		{"capture in the authorization url", func(in *Integration) {
			in.OAuth2.Capture[0].From = FromCallback
			in.OAuth2.AuthorizationURL = "{instance_url}/authorize"
		}, "oauth2.authorization_url", "come after the authorization URL"},
		{"public suffix wildcard", func(in *Integration) { in.OAuth2.Capture[0].AllowedHosts = []string{"*.com"} },
			"oauth2.capture[0].allowed_hosts", "public suffix"},
		{"bad source", func(in *Integration) { in.OAuth2.Capture[0].From = "header" }, "oauth2.capture[0].from", "token_response, callback or userinfo"},
		{"userinfo without url", func(in *Integration) { in.OAuth2.Capture[0].From = FromUserinfo }, "oauth2.capture[0].from", "userinfo_url"},
		{"name clash with parameter", func(in *Integration) { in.Parameters = []Parameter{{Name: "instance_url"}} },
			"oauth2.capture[0].name", "already a parameter"},
		{"identity without path", func(in *Integration) { in.OAuth2.Identity = &Identity{From: FromIDToken} }, "oauth2.identity.path", "required"},
		{"identity bad source", func(in *Integration) { in.OAuth2.Identity = &Identity{From: "cookie", Path: "sub"} }, "oauth2.identity.from", "id_token"},
		{"userinfo url unpinned host", func(in *Integration) {
			in.Parameters = []Parameter{{Name: "dc"}}
			in.OAuth2.UserinfoURL = "https://{dc}/userinfo"
		}, "oauth2.userinfo_url", "any host"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := salesforceLike()
			c.mut(&in)
			Normalize(&in)
			fe := Validate(in, ValidateOptions{})
			if c.wantField == "" {
				if fe != nil {
					t.Fatalf("got %v, want valid", fe)
				}
				return
			}
			if got := fe[c.wantField]; !strings.Contains(got, c.wantMsg) {
				t.Errorf("got %q at %s (all: %v), want %q", got, c.wantField, fe, c.wantMsg)
			}
		})
	}
}

func TestExpandOriginCapture(t *testing.T) {
	cases := []struct {
		tmpl, value, want, wantErr string
	}{
		{"{instance_url}/services/data/", "https://na1.salesforce.com", "https://na1.salesforce.com/services/data/", ""},
		{"{instance_url}", "https://na1.salesforce.com", "https://na1.salesforce.com", ""},
		{"{instance_url}/q?x={instance_url}", "https://na1.salesforce.com", "https://na1.salesforce.com/q?x=https%3A%2F%2Fna1.salesforce.com", ""},
		{"{instance_url}/x", "https://na1.salesforce.com/evil", "", "path"},
		{"{instance_url}/x", "https://a@na1.salesforce.com", "", "user"},
		{"{instance_url}/x", "na1.salesforce.com", "", "absolute"},
		{"{instance_url}/x", "http://na1.salesforce.com", "", "https"},
		{"{instance_url}/x", "http://127.0.0.1:9", "http://127.0.0.1:9/x", ""},
	}
	for _, c := range cases {
		t.Run(c.tmpl+" "+c.value, func(t *testing.T) {
			u, err := ExpandURL(c.tmpl, map[string]string{"instance_url": c.value})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v; want an error with %q", u, err, c.wantErr)
				}
				return
			}
			if err != nil || u.String() != c.want {
				t.Errorf("got %v, %v; want %s", u, err, c.want)
			}
		})
	}
}

func TestPreviewWithCaptures(t *testing.T) {
	in := salesforceLike()
	in.OAuth2.Capture = append(in.OAuth2.Capture, Capture{Name: "accounts_server", From: FromCallback, Path: "accounts-server", AllowedHosts: []string{"*.zoho.eu"}})
	in.OAuth2.TokenURL = "{accounts_server}/oauth/v2/token"
	s := SampleRequests(in, "https://airlock.example/cb")
	if s.TokenErr != nil || s.Token == nil {
		t.Fatalf("got token error %v, want a sample token request", s.TokenErr)
	}
	if got := s.show.Replace(s.Token.URL.String()); got != "{accounts_server}/oauth/v2/token" {
		t.Errorf("got %s, want {accounts_server}/oauth/v2/token", got)
	}
}
