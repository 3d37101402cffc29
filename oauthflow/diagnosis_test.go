package oauthflow_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
)

// dnsFails is a resolver that knows no name: a DNS failure without asking
// any real DNS server.
type dnsFails struct{}

func (dnsFails) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// oauthAnswer is a token endpoint answering status with body as JSON.
func oauthAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// diagnosisCase is one failure of a token call and the diagnosis it must get.
type diagnosisCase struct {
	name string
	// grant is the call made: oauthflow.TraceConnect (a code exchange) or
	// oauthflow.TraceRefresh.
	grant   string
	handler http.HandlerFunc
	tls     bool // serve over TLS with httptest's certificate (not trusted)
	// tokenURL, if set, replaces the server's (%s is its host:port).
	tokenURL string
	guard    *oauthflow.DialGuard // nil: loopback allowed
	timeout  time.Duration
	code     string
	hint     string // the hint must contain it
	message  string // the message must contain it
}

// TestDiagnosisTable drives every failure the issue lists (but those that
// need an account's history: TestDiagnosisRefusedRefreshToken and
// TestDiagnosisConnectWithoutRefreshToken) through the token client against
// a fake provider on 127.0.0.1, and checks the code and the hint.
func TestDiagnosisTable(t *testing.T) {
	const redirect = "http://127.0.0.1:1/internal/sessions/v1/auth/callback"
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}
	cases := []diagnosisCase{
		{name: "invalid_grant on the code exchange", grant: oauthflow.TraceConnect,
			handler: oauthAnswer(400, `{"error":"invalid_grant","error_description":"code expired"}`),
			code:    oauthflow.DiagInvalidGrantCode, hint: "the code expired or was used; start again"},
		{name: "invalid_grant on refresh", grant: oauthflow.TraceRefresh,
			handler: oauthAnswer(400, `{"error":"invalid_grant"}`),
			code:    oauthflow.DiagInvalidGrantRefresh, hint: "the provider revoked or expired the refresh token — reconnect"},
		{name: "invalid_client", grant: oauthflow.TraceRefresh,
			handler: oauthAnswer(401, `{"error":"invalid_client"}`),
			code:    oauthflow.DiagInvalidClient, hint: "the provider expected the id and secret in the body (client_secret_post): set oauth2.client_auth to body"},
		{name: "redirect_uri_mismatch", grant: oauthflow.TraceConnect,
			handler: oauthAnswer(400, `{"error":"redirect_uri_mismatch"}`),
			code:    oauthflow.DiagRedirectURI, hint: "register exactly this redirect URI in the app at the provider: " + redirect},
		{name: "an error mentioning the redirect URI", grant: oauthflow.TraceConnect,
			handler: oauthAnswer(400, `{"error":"invalid_request","error_description":"The redirect_uri is not registered"}`),
			code:    oauthflow.DiagRedirectURI, hint: redirect},
		{name: "invalid_scope", grant: oauthflow.TraceRefresh,
			handler: oauthAnswer(400, `{"error":"invalid_scope"}`),
			code:    oauthflow.DiagInvalidScope, hint: `the scope sent was "read offline"`},
		{name: "unauthorized_client", grant: oauthflow.TraceRefresh,
			handler: oauthAnswer(400, `{"error":"unauthorized_client"}`),
			code:    oauthflow.DiagUnauthorizedClient, hint: "the grant type authorization_code is not enabled for this client"},
		{name: "an HTML page", grant: oauthflow.TraceRefresh,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write([]byte("<!doctype html><html><body>Sign in</body></html>"))
			},
			code: oauthflow.DiagHTMLAnswer, hint: "this URL serves a web page, not a token endpoint"},
		{name: "404", grant: oauthflow.TraceRefresh, handler: http.NotFound,
			code: oauthflow.DiagNotFound, hint: "wrong URL: check oauth2.token_url"},
		{name: "405", grant: oauthflow.TraceConnect,
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "method not allowed", 405) },
			code:    oauthflow.DiagMethodNotAllowed, hint: "wrong verb or URL: check oauth2.token_method"},
		{name: "DNS failure", grant: oauthflow.TraceRefresh, tokenURL: "http://idp.airlock-test.invalid/token",
			guard: &oauthflow.DialGuard{AllowPrivate: true, Resolver: dnsFails{}},
			code:  oauthflow.DiagDNS, hint: "check the host name in the URL (oauth2.token_url)", message: "idp.airlock-test.invalid"},
		{name: "TLS: untrusted certificate", grant: oauthflow.TraceRefresh, tls: true, handler: oauthAnswer(200, `{}`),
			code: oauthflow.DiagTLS, hint: "fix the provider's certificate", message: "signed by an authority this machine does not trust"},
		{name: "TLS: plain HTTP at an https URL", grant: oauthflow.TraceRefresh, tokenURL: "https://%s/token", handler: oauthAnswer(200, `{}`),
			code: oauthflow.DiagTLS, hint: "fix the provider's certificate", message: "did not answer TLS"},
		{name: "timeout", grant: oauthflow.TraceRefresh, handler: hang, timeout: 150 * time.Millisecond,
			code: oauthflow.DiagTimeout, hint: "check that the URL's host and port are right"},
		{name: "dial guard", grant: oauthflow.TraceRefresh, handler: oauthAnswer(200, `{}`),
			guard: &oauthflow.DialGuard{},
			code:  oauthflow.DiagDialGuard, hint: "set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := diagnoseCase(t, c, redirect)
			if d.Code != c.code {
				t.Errorf("code: got %q, want %q (%+v)", d.Code, c.code, d)
			}
			if !strings.Contains(d.Hint, c.hint) {
				t.Errorf("hint: got %q, want it to contain %q", d.Hint, c.hint)
			}
			if !strings.Contains(d.Message, c.message) {
				t.Errorf("message: got %q, want it to contain %q", d.Message, c.message)
			}
		})
	}
}

// diagnoseCase makes c's token call and diagnoses its failure.
func diagnoseCase(t *testing.T, c diagnosisCase, redirect string) *oauthflow.Diagnosis {
	t.Helper()
	handler := c.handler
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected call %s %s", r.Method, r.URL) }
	}
	srv := httptest.NewUnstartedServer(handler)
	if c.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()
	tokenURL := srv.URL + "/token"
	if c.tokenURL != "" {
		tokenURL = strings.Replace(c.tokenURL, "%s", srv.Listener.Addr().String(), 1)
	}
	guard := c.guard
	if guard == nil {
		guard = &oauthflow.DialGuard{AllowPrivate: true}
	}
	if guard.Dial == nil {
		guard.Dial = loopbackOnly(t)
	}
	hc := oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard, Timeout: c.timeout, HeaderTimeout: c.timeout}, oauthflow.NoRedirects)
	client := &oauthflow.Client{HTTP: hc}
	in := oauthflow.Integration{Key: "idp", OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantAuthorizationCode,
		AuthorizationURL: "http://127.0.0.1:1/authorize", TokenURL: tokenURL, TokenMethod: "POST", Scope: "read offline",
		ClientID: "diag-client", ClientSecret: "diag-client-secret-0123", ClientAuth: oauthflow.ClientAuthBasic}}
	ep, err := oauthflow.ResolveEndpoints(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if c.grant == oauthflow.TraceConnect {
		_, err = client.ExchangeCode(ctx, in, nil, ep, "code-0123456789", "verifier-0123456789-0123456789-0123456789-01", redirect)
	} else {
		_, err = client.Refresh(ctx, in, nil, ep, "refresh-0123456789")
	}
	if err == nil {
		t.Fatal("the token call succeeded; want a failure to diagnose")
	}
	dc := oauthflow.DiagnosisContext{Integration: in, Grant: c.grant, Now: time.Now()}
	if c.grant == oauthflow.TraceConnect {
		dc.RedirectURI = redirect
	}
	d := oauthflow.Diagnose(err, dc)
	if d == nil {
		t.Fatalf("Diagnose(%v): got nil", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatalf("the call was cancelled, not failed: %v", err)
	}
	return d
}
