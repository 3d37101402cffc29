package oauthflow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeIssuer starts a provider on loopback whose routes are built from its
// own issuer URL (its address plus path), as a real provider's documents
// name the provider. Unknown paths answer 404.
func fakeIssuer(t *testing.T, path string, routes func(issuer string) map[string]http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + path
	h := routes(issuer)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if x, ok := h[r.URL.Path]; ok {
			x.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

// serveJSON answers with v as an application/json document.
func serveJSON(v any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	})
}

// doc is a provider's metadata under issuer with the usual endpoints.
func doc(issuer string, extra map[string]any) map[string]any {
	base := strings.TrimSuffix(issuer, "/")
	m := map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         base + "/authorize",
		"token_endpoint":                                 base + "/token",
		"revocation_endpoint":                            base + "/revoke",
		"scopes_supported":                               []string{"openid", "email", "offline_access"},
		"code_challenge_methods_supported":               []string{"plain", "S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_post", "client_secret_basic"},
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// loopbackClient is the guarded client with private networks allowed, as
// AIRLOCK_ALLOW_PRIVATE_NETWORKS gives; its dialer refuses all but 127/8.
func loopbackClient(t *testing.T) *http.Client {
	return NewHTTPClient(HTTPOptions{Guard: &DialGuard{AllowPrivate: true, Dial: loopbackOnlyDial(t)}}, NoRedirects)
}

func TestDiscoverFills(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		routes func(issuer string) map[string]http.Handler
		want   func(issuer string) Discovery
	}{
		{
			name: "OpenID document only (RFC 8414 answers 404)",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOIDC: serveJSON(doc(iss, map[string]any{"userinfo_endpoint": iss + "/userinfo"}))}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", TokenURL: iss + "/token", RevokeURL: iss + "/revoke",
					Issuer: iss, UserinfoURL: iss + "/userinfo", PKCE: true, ClientAuth: ClientAuthBasic,
					ScopesSupported: []string{"openid", "email", "offline_access"}, SuggestedScope: "openid offline_access", Warnings: []string{}, issInResponse: true}
			},
		},
		{
			name: "issuer with a path: RFC 8414 inserted before the path, OpenID appended after it",
			path: "/tenant/a",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{
					wellKnownOAuth + "/tenant/a": serveJSON(doc(iss, map[string]any{"token_endpoint_auth_methods_supported": []string{"client_secret_post"}})),
					"/tenant/a" + wellKnownOIDC:  serveJSON(doc(iss, map[string]any{"userinfo_endpoint": iss + "/me"})),
				}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", TokenURL: iss + "/token", RevokeURL: iss + "/revoke",
					Issuer: iss, UserinfoURL: iss + "/me", PKCE: true, ClientAuth: ClientAuthBody,
					ScopesSupported: []string{"openid", "email", "offline_access"}, SuggestedScope: "openid offline_access", Warnings: []string{}, issInResponse: true}
			},
		},
		{
			name: "RFC 8414 only, appended after the path as pre-RFC servers (Okta) publish it",
			path: "/oauth2/default",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{"/oauth2/default" + wellKnownOAuth: serveJSON(doc(iss, map[string]any{
					"revocation_endpoint": nil, "scopes_supported": []string{"profile"},
					"code_challenge_methods_supported": nil, "token_endpoint_auth_methods_supported": nil,
					"authorization_response_iss_parameter_supported": nil}))}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", TokenURL: iss + "/token", Issuer: iss,
					ClientAuth: ClientAuthBasic, ScopesSupported: []string{"profile"}, Warnings: []string{
						"Only the RFC 8414 document was found, no OpenID Connect document: there is no userinfo URL to fill in.",
						"The provider publishes no revocation endpoint: disconnecting an account deletes its tokens in Airlock but cannot revoke them at the provider.",
						"The provider does not say it sends iss with the authorization response (authorization_response_iss_parameter_supported, RFC 9207): with an issuer set, Airlock refuses every callback without iss, so set the issuer only if the provider sends it.",
						"The document does not say whether the provider supports PKCE (no code_challenge_methods_supported): keep PKCE on unless the provider rejects it.",
					}}
			},
		},
		{
			name: "an HTML catch-all for RFC 8414 does not hide the OpenID document",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{
					wellKnownOAuth: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						w.Header().Set("Content-Type", "text/html")
						_, _ = w.Write([]byte("<!doctype html><title>App</title>"))
					}),
					wellKnownOIDC: serveJSON(doc(iss, map[string]any{"scopes_supported": nil})),
				}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", TokenURL: iss + "/token", RevokeURL: iss + "/revoke",
					Issuer: iss, PKCE: true, ClientAuth: ClientAuthBasic, ScopesSupported: []string{}, Warnings: []string{}, issInResponse: true}
			},
		},
		{
			name: "gaps and oddities become warnings",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{
					wellKnownOAuth: serveJSON(doc(iss, map[string]any{"token_endpoint": "/relative/token",
						"code_challenge_methods_supported": []string{"plain"}, "token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
						"scopes_supported": []string{"openid", "bad scope", "openid", ""}})),
					wellKnownOIDC: serveJSON(doc(iss, map[string]any{"authorization_endpoint": iss + "/other", "token_endpoint": nil})),
				}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", RevokeURL: iss + "/revoke", Issuer: iss,
					ScopesSupported: []string{"openid"}, SuggestedScope: "openid", issInResponse: true, Warnings: []string{
						"The RFC 8414 and OpenID Connect documents name different authorization_endpoint values (" + iss + "/authorize and " + iss + "/other): Airlock fills in the RFC 8414 one.",
						`The document's token_endpoint "/relative/token" is not an absolute http or https URL: Airlock leaves it out; fill it in by hand.`,
						"The provider publishes no token endpoint: fill it in by hand.",
						"The provider lists PKCE methods without S256 (plain): Airlock sends only S256; turn PKCE off if the provider rejects it.",
						"The token endpoint supports neither client_secret_basic nor client_secret_post (it lists private_key_jwt): Airlock authenticates with a client secret in one of those two ways, so the provider may refuse it.",
						"2 entries of scopes_supported are not valid scope names (empty, or with spaces, quotes or backslashes): Airlock leaves them out.",
					}}
			},
		},
		{
			name: "a redirect within the origin is followed",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{
					wellKnownOIDC:       http.RedirectHandler("/static/oidc.json", http.StatusFound),
					"/static/oidc.json": serveJSON(doc(iss, nil)),
				}
			},
			want: func(iss string) Discovery {
				return Discovery{AuthorizationURL: iss + "/authorize", TokenURL: iss + "/token", RevokeURL: iss + "/revoke",
					Issuer: iss, PKCE: true, ClientAuth: ClientAuthBasic,
					ScopesSupported: []string{"openid", "email", "offline_access"}, SuggestedScope: "openid offline_access", Warnings: []string{}, issInResponse: true}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := fakeIssuer(t, tt.path, tt.routes)
			got, err := Discover(context.Background(), loopbackClient(t), iss)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if want := tt.want(iss); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDiscoverRefuses(t *testing.T) {
	other := fakeIssuer(t, "", func(string) map[string]http.Handler { return nil })
	var otherHits atomic.Int32
	elsewhere := fakeIssuer(t, "", func(iss string) map[string]http.Handler {
		return map[string]http.Handler{wellKnownOIDC: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			otherHits.Add(1)
			serveJSON(doc(iss, nil)).ServeHTTP(w, r)
		})}
	})
	html := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html><body>Sign in</body></html>"))
	})
	tests := []struct {
		name   string
		path   string
		given  func(issuer string) string // what the admin pastes; nil: the issuer itself
		routes func(issuer string) map[string]http.Handler
		want   func(issuer string) string
	}{
		{
			name: "the document names another issuer",
			routes: func(string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOIDC: serveJSON(doc(other, nil))}
			},
			want: func(iss string) string {
				return "The issuer's discovery document names issuer " + other + ", not " + iss + ": paste the issuer exactly as the provider publishes it."
			},
		},
		{
			name:  "a trailing slash the provider does not publish",
			given: func(iss string) string { return iss + "/" },
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOAuth: serveJSON(doc(iss, nil))}
			},
			want: func(iss string) string {
				return "The issuer's discovery document names issuer " + iss + ", not " + iss + "/: paste the issuer exactly as the provider publishes it."
			},
		},
		{
			name: "RFC 8414 matches but the OpenID document names another issuer",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOAuth: serveJSON(doc(iss, nil)), wellKnownOIDC: serveJSON(doc(other, nil))}
			},
			want: func(iss string) string { return "names issuer " + other + ", not " + iss },
		},
		{
			name: "a document without an issuer",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOIDC: serveJSON(doc(iss, map[string]any{"issuer": nil}))}
			},
			want: func(iss string) string {
				return "The discovery document at " + iss + wellKnownOIDC + " names no issuer"
			},
		},
		{
			name: "HTML instead of JSON",
			routes: func(string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOAuth: html, wellKnownOIDC: html}
			},
			want: func(iss string) string {
				return "Airlock found no discovery document for this issuer: " + iss + wellKnownOAuth + " answered with HTML, not JSON (a sign-in, error or single-page app page); " +
					iss + wellKnownOIDC + " answered with HTML, not JSON (a sign-in, error or single-page app page). Check the issuer URL, or fill in the endpoints by hand."
			},
		},
		{
			name:   "404 everywhere, an issuer with a path",
			path:   "/realms/x",
			routes: func(string) map[string]http.Handler { return nil },
			want: func(iss string) string {
				origin := strings.TrimSuffix(iss, "/realms/x")
				return "Airlock found no discovery document for this issuer: " + origin + wellKnownOAuth + "/realms/x answered 404; " +
					iss + wellKnownOAuth + " answered 404; " + iss + wellKnownOIDC + " answered 404. Check the issuer URL, or fill in the endpoints by hand."
			},
		},
		{
			name: "a document larger than 1 MiB",
			routes: func(iss string) map[string]http.Handler {
				big := doc(iss, map[string]any{"padding": strings.Repeat("x", maxDiscoveryBody)})
				return map[string]http.Handler{wellKnownOIDC: serveJSON(big)}
			},
			want: func(iss string) string { return iss + wellKnownOIDC + " answered with a document larger than 1 MiB" },
		},
		{
			name: "JSON of the wrong shape",
			routes: func(iss string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOIDC: serveJSON(doc(iss, map[string]any{"scopes_supported": "openid email"}))}
			},
			want: func(iss string) string {
				return iss + wellKnownOIDC + " answered with JSON that is not a valid discovery document (json: cannot unmarshal"
			},
		},
		{
			name: "a 500",
			routes: func(string) map[string]http.Handler {
				return map[string]http.Handler{wellKnownOIDC: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })}
			},
			want: func(iss string) string { return iss + wellKnownOIDC + " answered 500" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := fakeIssuer(t, tt.path, tt.routes)
			given := iss
			if tt.given != nil {
				given = tt.given(iss)
			}
			_, err := Discover(context.Background(), loopbackClient(t), given)
			msg := issuerError(t, err)
			if want := tt.want(iss); !strings.Contains(msg, want) {
				t.Errorf("got %q, want it to contain %q", msg, want)
			}
		})
	}
	t.Run("the redirect target was named and never asked", func(t *testing.T) {
		iss := fakeIssuer(t, "", func(string) map[string]http.Handler {
			return map[string]http.Handler{wellKnownOIDC: http.RedirectHandler(elsewhere+wellKnownOIDC, http.StatusFound)}
		})
		_, err := Discover(context.Background(), loopbackClient(t), iss)
		want := iss + wellKnownOIDC + " redirected (302) to " + elsewhere + wellKnownOIDC + ", which is not followed"
		if msg := issuerError(t, err); !strings.Contains(msg, want) {
			t.Errorf("got %q, want it to contain %q", msg, want)
		}
		if n := otherHits.Load(); n != 0 {
			t.Errorf("the other origin was asked %d times, want 0", n)
		}
	})
}

// issuerError is the message of err, which must be FieldErrors on issuer only.
func issuerError(t *testing.T, err error) string {
	t.Helper()
	fe, ok := err.(FieldErrors)
	if !ok || len(fe) != 1 || fe["issuer"] == "" {
		t.Fatalf("got %v (%T), want FieldErrors on issuer", err, err)
	}
	return fe["issuer"]
}
