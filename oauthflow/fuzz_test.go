package oauthflow

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// fuzzIntegration puts the placeholders {a} and {b} everywhere an account's
// values reach: URLs (path, query, a host prefix), the client id, the scope,
// extra parameters, header request parameters and the token template.
func fuzzIntegration() Integration {
	return Integration{Key: "fuzz", Parameters: []Parameter{{Name: "a"}, {Name: "b"}},
		OAuth2: OAuth2{GrantType: GrantAuthorizationCode, AuthorizationURL: "https://login.example.com:8443/{a}/authorize?tenant={b}",
			ClientID: "client-{a}", Scope: "read {b}", PKCE: true, AuthorizationParams: map[string]string{"audience": "https://{a}.example.com", "x": "{b}"}},
		Token: TokenPlacement{Name: "X-Auth", Template: "{a} {token} {b}", In: InHeader},
		RequestParameters: []RequestParameter{
			{Name: "X-Tenant", Value: "{a}/{b}", In: InHeader},
			{Name: "t", Value: "{b}", In: InQuery},
		},
		APIBaseURLs: []string{"https://api.example.com:8443/v1/"},
	}
}

// FuzzOutboundRequest fills an integration's placeholders with fuzzed
// account values (and a fuzzed token) and builds what Airlock would send:
// the authorization URL and an API request. No value may change a scheme, a
// host or a port, and no header may carry CR, LF or NUL.
func FuzzOutboundRequest(f *testing.F) {
	f.Add("acme", "eu", "tok_123")
	f.Add("a\r\nX-Evil: 1", "@evil.test:80/", "t\x00k")
	f.Add(".evil.test", "../../x", "{a}")
	f.Add("%0d%0a", "?#", "")
	f.Add("evil.test#", "//evil.test/", "a\nb")
	f.Fuzz(func(t *testing.T, a, b, token string) {
		in := fuzzIntegration()
		acct := Account{ID: "acc", Parameters: map[string]string{"a": a, "b": b}}
		if raw, err := AuthorizationURL(in, acct.Parameters, "https://airlock.example.com/cb", "state", NewVerifier()); err == nil {
			u, err := url.Parse(raw)
			if err != nil || u.Scheme != "https" || u.Host != "login.example.com:8443" || u.User != nil {
				t.Fatalf("authorization URL %q (%v): want https://login.example.com:8443", raw, err)
			}
		}
		r := NewRunner(RunnerOptions{})
		target, err := r.target(acct, in, Request{URL: "https://api.example.com:8443/v1/{a}/items?q={b}"})
		if err != nil {
			return
		}
		if target.Scheme != "https" || target.Host != "api.example.com:8443" || target.User != nil {
			t.Fatalf("request URL %q: want https://api.example.com:8443", target)
		}
		hreq, sent, err := r.build(context.Background(), acct, in, http.MethodGet, target, Request{}, Token{AccessToken: token})
		if err != nil {
			return
		}
		if hreq.URL.Scheme != "https" || hreq.URL.Host != "api.example.com:8443" {
			t.Fatalf("built request URL %q: want https://api.example.com:8443", hreq.URL)
		}
		for _, h := range []http.Header{hreq.Header, sent.Header} {
			for name, vs := range h {
				for _, v := range vs {
					if strings.ContainsAny(name+v, "\r\n\x00") {
						t.Fatalf("header %q: %q, want no CR, LF or NUL", name, v)
					}
				}
			}
		}
	})
}
