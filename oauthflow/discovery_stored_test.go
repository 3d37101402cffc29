package oauthflow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// storedDoc is one provider's published discovery document, kept in
// testdata/discovery/<preset name>.json (SOURCES.md says where each came
// from). The same table drives both tests below.
type storedDoc struct {
	// published is the URL the provider serves the document at.
	published string
	// values are the preset parameters the document was taken for.
	values map[string]string
	// checkDiscoveryURL: the preset's discovery_url, filled in with values,
	// must be published (false when the copy is of a sibling document).
	checkDiscoveryURL bool
	// differences are the preset fields (authorization_url, token_url,
	// revoke_url, userinfo_url, issuer) that deliberately differ from the
	// document, with the reason. A difference that no longer exists fails.
	differences map[string]string
}

var storedDocs = map[string]storedDoc{
	"google":     {published: "https://accounts.google.com/.well-known/openid-configuration", checkDiscoveryURL: true},
	"microsoft":  {published: "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration", values: map[string]string{"tenant": "common"}, checkDiscoveryURL: true},
	"gitlab":     {published: "https://gitlab.com/.well-known/openid-configuration", values: map[string]string{"host": "gitlab.com"}, checkDiscoveryURL: true, differences: map[string]string{"userinfo_url": "the preset takes the user's numeric id from the REST API's /api/v4/user, not the OpenID userinfo"}},
	"salesforce": {published: "https://login.salesforce.com/.well-known/openid-configuration", values: map[string]string{"domain": "login"}, checkDiscoveryURL: true},
	"okta":       {published: "https://auth-js-test.okta.com/oauth2/aus8aus76q8iphupD0h7/.well-known/oauth-authorization-server", values: map[string]string{"subdomain": "auth-js-test", "authorization_server": "aus8aus76q8iphupD0h7"}, checkDiscoveryURL: true},
	"auth0":      {published: "https://samples.auth0.com/.well-known/openid-configuration", values: map[string]string{"tenant": "samples", "audience": "https://api.example.com"}, checkDiscoveryURL: true},
	"quickbooks": {published: "https://developer.api.intuit.com/.well-known/openid_sandbox_configuration"},
	"dropbox":    {published: "https://www.dropbox.com/.well-known/openid-configuration"},
	"slack": {published: "https://slack.com/.well-known/openid-configuration", differences: map[string]string{
		"authorization_url": "the document is Sign in with Slack's (OpenID); the preset is the OAuth v2 flow for API access",
		"token_url":         "the document is Sign in with Slack's (OpenID); the preset is the OAuth v2 flow for API access",
	}},
	"spotify": {published: "https://accounts.spotify.com/.well-known/openid-configuration", differences: map[string]string{
		"authorization_url": "the preset follows the Web API authorization guide (/authorize); the document names Spotify's OpenID endpoint",
		"revoke_url":        "the document names an OpenID revocation endpoint the Web API guides do not document: not added unverified",
		"userinfo_url":      "the preset takes the identity from the Web API's /v1/me",
	}},
}

// presetEndpoints is the part of a preset file compared with documents.
type presetEndpoints struct {
	DiscoveryURL string `json:"discovery_url"`
	Integration  struct {
		OAuth2 struct {
			AuthorizationURL string `json:"authorization_url"`
			TokenURL         string `json:"token_url"`
			RevokeURL        string `json:"revoke_url"`
			UserinfoURL      string `json:"userinfo_url"`
			Issuer           string `json:"issuer"`
		} `json:"oauth2"`
	} `json:"integration"`
}

// TestPresetsMatchDiscoveryDocuments: every preset with a stored document
// names the endpoints and issuer that document publishes.
func TestPresetsMatchDiscoveryDocuments(t *testing.T) {
	files, err := filepath.Glob("testdata/discovery/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stored documents (%v)", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			sd, ok := storedDocs[name]
			if !ok {
				t.Fatalf("%s has no entry in storedDocs: add where it was published and the parameter values", f)
			}
			var m metadata
			readJSON(t, f, &m)
			var p presetEndpoints
			readJSON(t, filepath.Join("presets", name+".json"), &p)
			expand := func(tmpl string) string {
				if tmpl == "" {
					return ""
				}
				s, err := Expand(tmpl, sd.values)
				if err != nil {
					t.Fatalf("expand %q: %v", tmpl, err)
				}
				return s
			}
			if sd.checkDiscoveryURL {
				if got := expand(p.DiscoveryURL); got != sd.published {
					t.Errorf("discovery_url is %q, want %q (where the document is published)", got, sd.published)
				}
			}
			o := p.Integration.OAuth2
			fields := []struct{ name, preset, doc string }{
				{"authorization_url", o.AuthorizationURL, m.AuthorizationEndpoint},
				{"token_url", o.TokenURL, m.TokenEndpoint},
				{"revoke_url", o.RevokeURL, m.RevocationEndpoint},
				{"userinfo_url", o.UserinfoURL, m.UserinfoEndpoint},
				{"issuer", o.Issuer, m.Issuer},
			}
			for _, fl := range fields {
				got := expand(fl.preset)
				// A preset may leave out the userinfo and issuer (they change
				// what a connection needs) and a revocation the document does
				// not list; it may not leave out a published revocation.
				differs := got != fl.doc && fl.doc != "" && (got != "" || fl.name == "revoke_url")
				why, documented := sd.differences[fl.name]
				switch {
				case differs && !documented:
					t.Errorf("integration.oauth2.%s is %q, the provider's document says %q", fl.name, got, fl.doc)
				case !differs && documented:
					t.Errorf("storedDocs says %s differs (%s), but it matches now: remove the entry", fl.name, why)
				}
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Warnings the stored documents give, by their gist.
const (
	wNoRevoke = "The provider publishes no revocation endpoint: disconnecting an account deletes its tokens in Airlock but cannot revoke them at the provider."
	wNoIss    = "The provider does not say it sends iss with the authorization response (authorization_response_iss_parameter_supported, RFC 9207): with an issuer set, Airlock refuses every callback without iss, so set the issuer only if the provider sends it."
	wNoPKCE   = "The document does not say whether the provider supports PKCE (no code_challenge_methods_supported): keep PKCE on unless the provider rejects it."
	wOnly8414 = "Only the RFC 8414 document was found, no OpenID Connect document: there is no userinfo URL to fill in."
)

// TestDiscoverStoredDocuments runs Discover on the real documents, each
// served over TLS at the path its provider publishes it, under its own host
// name (resolved to loopback): what "Fill from issuer" gives for them.
func TestDiscoverStoredDocuments(t *testing.T) {
	tests := []struct {
		name, issuer string
		want         Discovery // Issuer and ScopesSupported are filled in from the document
		wantErr      string
	}{
		{name: "google", issuer: "https://accounts.google.com", want: Discovery{
			AuthorizationURL: "https://accounts.google.com/o/oauth2/v2/auth", TokenURL: "https://oauth2.googleapis.com/token",
			RevokeURL: "https://oauth2.googleapis.com/revoke", UserinfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
			PKCE: true, ClientAuth: ClientAuthBasic, SuggestedScope: "openid", Warnings: []string{wNoIss}}},
		{name: "microsoft", issuer: "https://login.microsoftonline.com/common/v2.0",
			wantErr: "The issuer's discovery document names the template issuer https://login.microsoftonline.com/{tenantid}/v2.0, not https://login.microsoftonline.com/common/v2.0: this is a multi-tenant endpoint."},
		{name: "gitlab", issuer: "https://gitlab.com", want: Discovery{
			AuthorizationURL: "https://gitlab.com/oauth/authorize", TokenURL: "https://gitlab.com/oauth/token", RevokeURL: "https://gitlab.com/oauth/revoke",
			UserinfoURL: "https://gitlab.com/oauth/userinfo", PKCE: true, ClientAuth: ClientAuthBasic, SuggestedScope: "openid", Warnings: []string{wNoIss}}},
		{name: "salesforce", issuer: "https://login.salesforce.com", want: Discovery{
			AuthorizationURL: "https://login.salesforce.com/services/oauth2/authorize", TokenURL: "https://login.salesforce.com/services/oauth2/token",
			RevokeURL: "https://login.salesforce.com/services/oauth2/revoke", UserinfoURL: "https://login.salesforce.com/services/oauth2/userinfo",
			ClientAuth: ClientAuthBody, SuggestedScope: "openid offline_access", Warnings: []string{wNoIss, wNoPKCE}}},
		{name: "okta", issuer: "https://auth-js-test.okta.com/oauth2/aus8aus76q8iphupD0h7", want: Discovery{
			AuthorizationURL: "https://auth-js-test.okta.com/oauth2/aus8aus76q8iphupD0h7/v1/authorize",
			TokenURL:         "https://auth-js-test.okta.com/oauth2/aus8aus76q8iphupD0h7/v1/token",
			RevokeURL:        "https://auth-js-test.okta.com/oauth2/aus8aus76q8iphupD0h7/v1/revoke",
			PKCE:             true, ClientAuth: ClientAuthBasic, SuggestedScope: "offline_access", Warnings: []string{wOnly8414, wNoIss}}},
		{name: "auth0", issuer: "https://samples.auth0.com/", want: Discovery{
			AuthorizationURL: "https://samples.auth0.com/authorize", TokenURL: "https://samples.auth0.com/oauth/token",
			RevokeURL: "https://samples.auth0.com/oauth/revoke", UserinfoURL: "https://samples.auth0.com/userinfo",
			PKCE: true, ClientAuth: ClientAuthBasic, SuggestedScope: "openid offline_access", Warnings: []string{wNoIss}}},
		{name: "auth0", issuer: "https://samples.auth0.com",
			wantErr: "The issuer's discovery document names issuer https://samples.auth0.com/, not https://samples.auth0.com: paste the issuer exactly as the provider publishes it."},
		{name: "slack", issuer: "https://slack.com", want: Discovery{
			AuthorizationURL: "https://slack.com/openid/connect/authorize", TokenURL: "https://slack.com/api/openid.connect.token",
			UserinfoURL: "https://slack.com/api/openid.connect.userInfo", ClientAuth: ClientAuthBasic, SuggestedScope: "openid",
			Warnings: []string{wNoRevoke, wNoIss, wNoPKCE}}},
		{name: "dropbox", issuer: "https://www.dropbox.com", want: Discovery{
			AuthorizationURL: "https://www.dropbox.com/oauth2/authorize", TokenURL: "https://api.dropboxapi.com/oauth2/token",
			ClientAuth: ClientAuthBasic, SuggestedScope: "openid", Warnings: []string{wNoRevoke, wNoIss, wNoPKCE}}},
		{name: "spotify", issuer: "https://accounts.spotify.com", want: Discovery{
			AuthorizationURL: "https://accounts.spotify.com/oauth2/v2/auth", TokenURL: "https://accounts.spotify.com/api/token",
			RevokeURL: "https://accounts.spotify.com/oauth2/revoke/v1", UserinfoURL: "https://accounts.spotify.com/oidc/userinfo/v1",
			PKCE: true, ClientAuth: ClientAuthBasic, SuggestedScope: "openid", Warnings: []string{wNoIss}}},
	}
	client := storedDocsClient(t)
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.issuer, func(t *testing.T) {
			got, err := Discover(context.Background(), client, tt.issuer)
			if tt.wantErr != "" {
				if msg := issuerError(t, err); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("got %q, want it to contain %q", msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var m metadata
			readJSON(t, filepath.Join("testdata/discovery", tt.name+".json"), &m)
			want := tt.want
			want.Issuer, want.ScopesSupported = tt.issuer, m.ScopesSupported
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// storedDocsClient is a guarded client whose resolver sends every stored
// document's host to one TLS server on loopback, which serves each document
// at its published path for its host and 404 elsewhere.
func storedDocsClient(t *testing.T) *http.Client {
	t.Helper()
	routes, answers := map[string]string{}, map[string][]string{}
	for name, sd := range storedDocs {
		u, err := url.Parse(sd.published)
		if err != nil {
			t.Fatal(err)
		}
		routes[u.Host+u.Path] = filepath.Join("testdata/discovery", name+".json")
		answers[u.Hostname()] = []string{"127.0.0.1"}
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := routes[r.Host+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		http.ServeFile(w, r, f)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	loopback := loopbackOnlyDial(t)
	guard := &DialGuard{AllowPrivate: true, Resolver: &fakeResolver{answers: answers},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			return loopback(ctx, network, net.JoinHostPort(host, port)) // :443 is the test server
		}}
	c := NewHTTPClient(HTTPOptions{Guard: guard}, NoRedirects)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	// The test certificate names example.com: verify it under that name.
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "example.com"}
	return c
}
