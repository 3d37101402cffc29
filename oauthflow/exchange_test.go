package oauthflow

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// seen is what a fake token endpoint received.
type seen struct {
	method, path, contentType, accept, authorization string
	query, form                                      url.Values
}

// fakeEndpoint records each request and answers with the handler's reply.
type fakeEndpoint struct {
	mu       sync.Mutex
	requests []seen
	reply    func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // the reply may read it again
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.requests = append(f.requests, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"),
		r.Header.Get("Authorization"), r.URL.Query(), form})
	f.mu.Unlock()
	f.reply(w, r)
}

func (f *fakeEndpoint) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatalf("got no request, want one")
	}
	return f.requests[len(f.requests)-1]
}

func jsonReply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// newTestProvider starts a loopback token endpoint and an integration that
// points at it, with a client that may only reach loopback.
func newTestProvider(t *testing.T, reply func(http.ResponseWriter, *http.Request)) (*fakeEndpoint, Integration, *Client) {
	t.Helper()
	fe := &fakeEndpoint{reply: reply}
	srv := httptest.NewServer(fe)
	t.Cleanup(srv.Close)
	in := validIntegration()
	in.OAuth2.AuthorizationURL = srv.URL + "/authorize"
	in.OAuth2.TokenURL = srv.URL + "/token?tenant={tenant}"
	in.OAuth2.RevokeURL = srv.URL + "/revoke"
	in.OAuth2.ClientSecret = "s:e%c ret+/é"
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true), Timeout: 5 * time.Second}, SameOriginRedirects),
		Now: func() time.Time { return testNow }}
	return fe, in, c
}

var testValues = map[string]string{"region": "eu", "tenant": "acme"}

// testEndpoints are in's endpoints filled in with testValues.
func testEndpoints(t *testing.T, in Integration) Endpoints {
	t.Helper()
	ep, err := ResolveEndpoints(in, testValues)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// basicCreds decodes a Basic header into its two form-url-encoded halves.
func basicCreds(t *testing.T, h string) (string, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
	if err != nil {
		t.Fatalf("got Authorization %q, want Basic", h)
	}
	id, secret, _ := strings.Cut(string(raw), ":")
	return id, secret
}

func TestExchangeCodePostBasic(t *testing.T) {
	fe, in, c := newTestProvider(t, jsonReply(200, `{"access_token":"at1","refresh_token":"rt1","token_type":"Bearer","expires_in":3600,"scope":"crm.read"}`))
	in.OAuth2.TokenParams["client_secret"] = "leak" // refused by Validate; must not be sent either
	tok, err := exchangeCode(c, in, testValues, "the-code", "the-verifier", "https://airlock.example/callback")
	if err != nil {
		t.Fatalf("got %v, want a token", err)
	}
	want := Token{AccessToken: "at1", RefreshToken: "rt1", TokenType: "Bearer", Expiry: testNow.Add(time.Hour), Scopes: []string{"crm.read"}, ObtainedAt: testNow}
	if tok.AccessToken != want.AccessToken || tok.RefreshToken != want.RefreshToken || !tok.Expiry.Equal(want.Expiry) || !tok.ObtainedAt.Equal(testNow) {
		t.Errorf("got %+v, want %+v", tok, want)
	}
	r := fe.last(t)
	if r.method != "POST" || r.contentType != "application/x-www-form-urlencoded" || r.accept != "application/json" {
		t.Errorf("got %s %q accept %q, want POST form accept json", r.method, r.contentType, r.accept)
	}
	if r.query.Get("tenant") != "acme" {
		t.Errorf("got query %v, want the token URL's own tenant=acme kept", r.query)
	}
	id, secret := basicCreds(t, r.authorization)
	if id != "client-eu" || secret != url.QueryEscape("s:e%c ret+/é") || secret != "s%3Ae%25c+ret%2B%2F%C3%A9" {
		t.Errorf("got basic %q:%q, want client-eu:%q (form-url-encoded first)", id, secret, "s%3Ae%25c+ret%2B%2F%C3%A9")
	}
	wantForm := url.Values{"grant_type": {"authorization_code"}, "code": {"the-code"}, "redirect_uri": {"https://airlock.example/callback"},
		"code_verifier": {"the-verifier"}, "client_id": {"client-eu"}, "audience": {"https://api.eu.acme.example/"}}
	if r.form.Encode() != wantForm.Encode() {
		t.Errorf("got form %v, want %v", r.form, wantForm)
	}
}

func TestExchangeGetAndBody(t *testing.T) {
	tests := []struct {
		name, method, auth string
		wantQuerySecret    bool
	}{
		{"GET body auth puts everything in the query", "GET", ClientAuthBody, true},
		{"GET basic keeps the secret in the header", "GET", ClientAuthBasic, false},
		{"POST body auth", "POST", ClientAuthBody, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, in, c := newTestProvider(t, jsonReply(200, `{"access_token":"at"}`))
			in.OAuth2.TokenMethod, in.OAuth2.ClientAuth, in.OAuth2.PKCE = tt.method, tt.auth, false
			if _, err := exchangeCode(c, in, testValues, "code1", "", "https://cb.example/"); err != nil {
				t.Fatalf("got %v, want a token", err)
			}
			r := fe.last(t)
			params := r.form
			if tt.method == "GET" {
				params = r.query
				if len(r.form) != 0 || r.method != "GET" {
					t.Errorf("got %s with body %v, want GET without body", r.method, r.form)
				}
				if params.Get("tenant") != "acme" {
					t.Errorf("got query %v, want it merged with tenant=acme", params)
				}
			}
			if params.Get("code") != "code1" || params.Get("grant_type") != "authorization_code" || params.Has("code_verifier") {
				t.Errorf("got %v, want code and grant_type and no code_verifier (PKCE off)", params)
			}
			gotSecret := params.Get("client_secret")
			switch {
			case tt.auth == ClientAuthBody && gotSecret != "s:e%c ret+/é":
				t.Errorf("got client_secret %q, want the raw secret in the parameters", gotSecret)
			case tt.auth == ClientAuthBody && r.authorization != "":
				t.Errorf("got Authorization %q, want none with body auth", r.authorization)
			case tt.auth == ClientAuthBasic && (gotSecret != "" || !strings.HasPrefix(r.authorization, "Basic ")):
				t.Errorf("got secret param %q and Authorization %q, want only Basic", gotSecret, r.authorization)
			}
			if got := r.query.Has("client_secret"); got != tt.wantQuerySecret {
				t.Errorf("got secret in query %v, want %v", got, tt.wantQuerySecret)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	tests := []struct {
		name, reply, wantRefresh string
	}{
		{"no new refresh token keeps the old one", `{"access_token":"at2","expires_in":"60"}`, "old-rt"},
		{"rotated refresh token replaces it", `{"access_token":"at2","refresh_token":"new-rt"}`, "new-rt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, in, c := newTestProvider(t, jsonReply(200, tt.reply))
			tok, err := c.Refresh(context.Background(), in, testValues, testEndpoints(t, in), "old-rt")
			if err != nil {
				t.Fatalf("got %v, want a token", err)
			}
			if tok.AccessToken != "at2" || tok.RefreshToken != tt.wantRefresh {
				t.Errorf("got %q/%q, want at2/%q", tok.AccessToken, tok.RefreshToken, tt.wantRefresh)
			}
			f := fe.last(t).form
			if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "old-rt" || f.Get("audience") != "https://api.eu.acme.example/" {
				t.Errorf("got form %v, want refresh_token grant with the audience extra parameter", f)
			}
		})
	}
	_, in, c := newTestProvider(t, jsonReply(200, `{}`))
	if _, err := c.Refresh(context.Background(), in, testValues, testEndpoints(t, in), ""); !IsInvalidGrant(err) {
		t.Errorf("empty refresh token: got %v, want an invalid-grant error", err)
	}
}

func TestClientCredentials(t *testing.T) {
	fe, in, c := newTestProvider(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		io.WriteString(w, "access_token=cc1&token_type=bearer&expires_in=120")
	})
	in.OAuth2.GrantType, in.OAuth2.ClientAuth, in.OAuth2.Scope = GrantClientCredentials, ClientAuthBody, "read:{region}"
	tok, err := c.ClientCredentials(context.Background(), in, testValues, testEndpoints(t, in))
	if err != nil {
		t.Fatalf("got %v, want a token", err)
	}
	if tok.AccessToken != "cc1" || !tok.Expiry.Equal(testNow.Add(2*time.Minute)) {
		t.Errorf("got %+v, want cc1 expiring in 2 minutes", tok)
	}
	f := fe.last(t).form
	if f.Get("grant_type") != "client_credentials" || f.Get("scope") != "read:eu" || f.Get("client_id") != "client-eu" || f.Has("code") {
		t.Errorf("got form %v, want client_credentials with scope read:eu and client_id", f)
	}
}

func TestExchangeFailures(t *testing.T) {
	const code = "code-SENSITIVE-123"
	tests := []struct {
		name     string
		reply    func(http.ResponseWriter, *http.Request)
		wantKind ErrorKind
		wantCode string
		wantText string
	}{
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				http.Redirect(w, r, "/elsewhere?code=x", http.StatusFound)
				return
			}
			panic("redirect followed to " + r.URL.Path)
		}, KindConfig, "", "answered 302 (redirected to http://127.0.0.1"},
		{"5xx temporary", jsonReply(502, `<html>Bad gateway</html>`), KindTemporary, "", "answered 502"},
		{"invalid_grant", jsonReply(400, `{"error":"invalid_grant","error_description":"code `+code+` already used"}`), KindInvalidGrant, "invalid_grant", "code [redacted] already used"},
		{"invalid_client echoing the secret", jsonReply(401, `{"error":"invalid_client","error_description":"bad secret s:e%c ret+/é"}`), KindConfig, "invalid_client", "check the client id and secret"},
		{"oversize body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"`+strings.Repeat("a", 1<<20)+`"}`)
		}, KindConfig, "", "token endpoint answer larger than 1 MiB"},
		{"code cut by the 100-character quote", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, strings.Repeat("x", 83)+" "+code+" is not valid")
		}, KindConfig, "", `starting "xxx`},
		{"form answer with error", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "error=bad_verification_code&error_description=The+code+"+code+"+is+incorrect")
		}, KindInvalidGrant, "bad_verification_code", "The code [redacted] is incorrect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, in, c := newTestProvider(t, tt.reply)
			_, err := exchangeCode(c, in, testValues, code, "verifier-SENSITIVE", "https://cb.example/")
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TokenError", err)
			}
			if te.Kind != tt.wantKind || te.Code != tt.wantCode {
				t.Errorf("got kind %v code %q, want %v %q", te.Kind, te.Code, tt.wantKind, tt.wantCode)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("got %q, want it to contain %q", msg, tt.wantText)
			}
			for _, secret := range []string{"SENSITIVE", "s:e%c ret+/é", url.QueryEscape("s:e%c ret+/é")} {
				if strings.Contains(msg, secret) {
					t.Errorf("got %q, want no %q in the message", msg, secret)
				}
			}
		})
	}
}

func TestExchangeTransportErrors(t *testing.T) {
	fe := &fakeEndpoint{reply: jsonReply(200, `{}`)}
	srv := httptest.NewServer(fe)
	closedURL := srv.URL
	srv.Close()

	in := validIntegration()
	in.OAuth2.TokenMethod, in.OAuth2.ClientAuth, in.OAuth2.PKCE = "GET", ClientAuthBody, false
	in.OAuth2.ClientSecret = "SECRET-in-query"

	t.Run("connection refused is temporary and hides the query", func(t *testing.T) {
		in.OAuth2.TokenURL = closedURL + "/token"
		c := &Client{HTTP: NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true)}, NoRedirects)}
		_, err := exchangeCode(c, in, testValues, "CODE-in-query", "", "https://cb.example/")
		if Classify(err) != KindTemporary {
			t.Errorf("got kind %v (%v), want temporary", Classify(err), err)
		}
		if err == nil || strings.Contains(err.Error(), "CODE-in-query") || strings.Contains(err.Error(), "SECRET-in-query") {
			t.Errorf("got %v, want an error without the code or the secret", err)
		}
	})
	t.Run("refused address is config", func(t *testing.T) {
		in.OAuth2.TokenURL = "http://169.254.169.254/token"
		c := &Client{HTTP: NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true)}, NoRedirects)}
		_, err := exchangeCode(c, in, testValues, "c", "", "https://cb.example/")
		if Classify(err) != KindConfig || !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("got kind %v (%v), want config wrapping ErrRefusedAddress", Classify(err), err)
		}
	})
	t.Run("nil HTTP client", func(t *testing.T) {
		in.OAuth2.TokenURL = "http://api.test/token"
		_, err := exchangeCode(&Client{}, in, testValues, "c", "", "https://cb.example/")
		if err == nil || !strings.Contains(err.Error(), "Client.HTTP is nil") {
			t.Errorf("got %v, want the nil-client error", err)
		}
	})
	t.Run("hostile host value", func(t *testing.T) {
		in.OAuth2.TokenURL = "https://{tenant}.auth.example/token"
		c := &Client{HTTP: NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true)}, NoRedirects)}
		_, err := exchangeCode(c, in, map[string]string{"tenant": "evil.test/x", "region": "eu"}, "c", "", "https://cb.example/")
		if Classify(err) != KindConfig || err == nil || !strings.Contains(err.Error(), "cannot be used in the host") {
			t.Errorf("got %v, want a config error about the host", err)
		}
	})
	t.Run("PKCE without verifier", func(t *testing.T) {
		in.OAuth2.PKCE = true
		_, err := exchangeCode(&Client{}, in, testValues, "c", "", "https://cb.example/")
		if Classify(err) != KindConfig {
			t.Errorf("got %v, want a config error", err)
		}
	})
}

// exchangeCode resolves the token endpoint with the account's values, as a
// flow does when it starts, and exchanges the code there.
func exchangeCode(c *Client, in Integration, values map[string]string, code, verifier, redirectURI string) (Token, error) {
	ep, err := ResolveEndpoints(in, values)
	if err != nil {
		return Token{}, err
	}
	return c.ExchangeCode(context.Background(), in, values, ep, code, verifier, redirectURI)
}
