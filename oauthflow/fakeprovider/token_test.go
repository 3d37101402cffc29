package fakeprovider_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
)

func TestCodeSingleUse(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	code, verifier := approveCode(t, p)
	first := send(t, p, tokenCall{form: exchangeForm(code, verifier)})
	wantStatus(t, "first exchange", first, http.StatusOK, "")
	second := send(t, p, tokenCall{form: exchangeForm(code, verifier)})
	wantStatus(t, "second exchange", second, http.StatusBadRequest, "invalid_grant")
	// RFC 6749 §4.1.2: tokens issued from a reused code are revoked.
	if p.ValidAccessToken(first.get("access_token")) {
		t.Errorf("access token from a reused code: got valid, want revoked")
	}
	wantStatus(t, "refresh after code reuse", refresh(t, p, first.get("refresh_token")), http.StatusBadRequest, "invalid_grant")
	if got, want := p.ChainRevocations(), 1; got != want {
		t.Errorf("ChainRevocations: got %v, want %v", got, want)
	}
	if got, want := p.InvalidGrants(), 2; got != want {
		t.Errorf("InvalidGrants: got %v, want %v", got, want)
	}
}

func TestCodeExchangeFailures(t *testing.T) {
	tests := []struct {
		name   string
		opts   fakeprovider.Options
		mutate func(f url.Values, clock *fakeClock)
		noPKCE bool // authorize without a challenge
	}{
		{"redirect_uri mismatch", fakeprovider.Options{}, func(f url.Values, _ *fakeClock) {
			f.Set("redirect_uri", redirectURI+"/other")
		}, false},
		{"redirect_uri missing", fakeprovider.Options{}, func(f url.Values, _ *fakeClock) { f.Del("redirect_uri") }, false},
		{"verifier missing", fakeprovider.Options{}, func(f url.Values, _ *fakeClock) { f.Del("code_verifier") }, false},
		{"verifier wrong", fakeprovider.Options{}, func(f url.Values, _ *fakeClock) {
			v, _ := pkcePair("other")
			f.Set("code_verifier", v)
		}, false},
		{"verifier without challenge (downgrade)", fakeprovider.Options{}, func(url.Values, *fakeClock) {}, true},
		{"unknown code", fakeprovider.Options{}, func(f url.Values, _ *fakeClock) { f.Set("code", "nope") }, false},
		{"expired code", fakeprovider.Options{}, func(_ url.Values, c *fakeClock) {
			c.Advance(fakeprovider.CodeTTL)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			tt.opts.Clock = clock.Now
			p := start(t, tt.opts)
			code, verifier := approveCode(t, p)
			if tt.noPKCE {
				cb, err := p.Approve(authURL(p, nil))
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(cb)
				code = u.Query().Get("code")
			}
			f := exchangeForm(code, verifier)
			tt.mutate(f, clock)
			a := send(t, p, tokenCall{form: f})
			wantStatus(t, "exchange", a, http.StatusBadRequest, "invalid_grant")
			if a.get("error_description") == "" {
				t.Errorf("error_description: got empty, want an explanation")
			}
			if f.Get("code") != code {
				return // the real code was not presented, so not spent
			}
			// A failed attempt spends the code: the corrected retry fails too.
			retry := send(t, p, tokenCall{form: exchangeForm(code, verifier)})
			wantStatus(t, "corrected retry", retry, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestCodeValidJustBeforeExpiry(t *testing.T) {
	clock := newClock()
	p := start(t, fakeprovider.Options{Clock: clock.Now})
	code, verifier := approveCode(t, p)
	clock.Advance(fakeprovider.CodeTTL - time.Second)
	wantStatus(t, "exchange at 59s", send(t, p, tokenCall{form: exchangeForm(code, verifier)}), http.StatusOK, "")
}

func TestCodeBurnedByFailedClientAuth(t *testing.T) {
	// Guessing the client authentication method by trial loses the code
	// (golang/oauth2 #373): the fake must make that visible.
	p := start(t, fakeprovider.Options{ClientAuth: fakeprovider.ClientAuthBasic})
	code, verifier := approveCode(t, p)
	wantStatus(t, "body auth", send(t, p, tokenCall{form: exchangeForm(code, verifier), auth: "body"}),
		http.StatusUnauthorized, "invalid_client")
	wantStatus(t, "basic retry", send(t, p, tokenCall{form: exchangeForm(code, verifier)}),
		http.StatusBadRequest, "invalid_grant")
}

func TestTokenMethod(t *testing.T) {
	tests := []struct {
		name       string
		requireGET bool
		method     string
		wantStatus int
	}{
		{"POST standard", false, http.MethodPost, http.StatusOK},
		{"GET refused by default", false, http.MethodGet, http.StatusMethodNotAllowed},
		{"GET when required", true, http.MethodGet, http.StatusOK},
		{"POST refused when GET required", true, http.MethodPost, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{RequireGET: tt.requireGET})
			code, verifier := approveCode(t, p)
			a := send(t, p, tokenCall{method: tt.method, form: exchangeForm(code, verifier)})
			if a.status != tt.wantStatus {
				t.Fatalf("status: got %v (%s), want %v", a.status, a.body, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && a.header.Get("Allow") == "" {
				t.Errorf("Allow header: got empty, want the accepted method")
			}
			if got, want := p.LastTokenRequest().Method, tt.method; got != want {
				t.Errorf("LastTokenRequest().Method: got %v, want %v", got, want)
			}
			if got, want := p.LastTokenRequest().Form.Get("code_verifier"), verifier; got != want {
				t.Errorf("recorded code_verifier: got %v, want %v", got, want)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	const oddSecret = "s3cr:t+/=é %"
	tests := []struct {
		name       string
		mode       string
		call       tokenCall
		wantStatus int
		wantErr    string
		wantBasic  bool // WWW-Authenticate: Basic expected
	}{
		{"basic ok", "", tokenCall{auth: "basic"}, 200, "", false},
		{"basic mode refuses body", "basic", tokenCall{auth: "body"}, 401, "invalid_client", true},
		{"basic mode, no credentials", "basic", tokenCall{auth: "none"}, 401, "invalid_client", true},
		{"basic wrong secret", "basic", tokenCall{auth: "basic", secret: "wrong-secret"}, 401, "invalid_client", true},
		{"basic plus body secret", "basic", tokenCall{auth: "both"}, 400, "invalid_request", false},
		{"body ok", "body", tokenCall{auth: "body"}, 200, "", false},
		{"body mode refuses basic", "body", tokenCall{auth: "basic"}, 401, "invalid_client", true},
		{"body wrong secret", "body", tokenCall{auth: "body", secret: "wrong-secret"}, 401, "invalid_client", false},
		{"basic form-url-encoded secret", "basic", tokenCall{auth: "basic", secret: oddSecret}, 200, "", false},
		{"basic secret not form-url-encoded", "basic", tokenCall{auth: "rawbasic", secret: oddSecret}, 401, "invalid_client", true},
		{"body odd secret", "body", tokenCall{auth: "body", secret: oddSecret}, 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{ClientAuth: tt.mode, ClientSecret: oddSecret})
			c := tt.call
			if c.secret == "" {
				c.secret = oddSecret
			}
			c.form = url.Values{"grant_type": {"client_credentials"}}
			a := send(t, p, c)
			wantStatus(t, "token", a, tt.wantStatus, tt.wantErr)
			if got := a.header.Get("WWW-Authenticate") != ""; got != tt.wantBasic {
				t.Errorf("WWW-Authenticate present: got %v (%q), want %v", got, a.header.Get("WWW-Authenticate"), tt.wantBasic)
			}
		})
	}
}

func TestBasicCredentialsRecordedAsSent(t *testing.T) {
	p := start(t, fakeprovider.Options{ClientID: "my app", ClientSecret: "p+w"})
	a := send(t, p, tokenCall{form: url.Values{"grant_type": {"client_credentials"}}, id: "my app", secret: "p+w"})
	wantStatus(t, "form-url-encoded Basic", a, http.StatusOK, "")
	tr := p.LastTokenRequest()
	if got, want := tr.BasicUser, "my+app"; got != want {
		t.Errorf("BasicUser: got %v, want %v", got, want)
	}
	if got, want := tr.BasicPassword, "p%2Bw"; got != want {
		t.Errorf("BasicPassword: got %v, want %v", got, want)
	}
	raw := send(t, p, tokenCall{form: url.Values{"grant_type": {"client_credentials"}}, id: "my app", secret: "p+w", auth: "rawbasic"})
	wantStatus(t, "Basic without form-url-encoding", raw, http.StatusUnauthorized, "invalid_client")
}

func TestResponseFormats(t *testing.T) {
	tests := []struct {
		name        string
		opts        fakeprovider.Options
		wantType    string
		wantExpires any // nil: absent
	}{
		{"json number", fakeprovider.Options{AccessTTL: 2 * time.Hour}, "application/json", float64(7200)},
		{"json string", fakeprovider.Options{ExpiresInAsString: true, AccessTTL: time.Hour}, "application/json", "3600"},
		{"omit expires_in", fakeprovider.Options{OmitExpiresIn: true}, "application/json", nil},
		{"form encoded", fakeprovider.Options{FormEncoded: true, AccessTTL: 20 * time.Minute},
			"application/x-www-form-urlencoded", "1200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.opts)
			a := connect(t, p, "")
			if got := a.header.Get("Content-Type"); len(got) < len(tt.wantType) || got[:len(tt.wantType)] != tt.wantType {
				t.Errorf("Content-Type: got %v, want %v", got, tt.wantType)
			}
			got, present := a.fields["expires_in"]
			if (tt.wantExpires == nil) == present || (present && got != tt.wantExpires) {
				t.Errorf("expires_in: got %#v (present %v), want %#v", got, present, tt.wantExpires)
			}
			if a.get("access_token") == "" || a.get("refresh_token") == "" || a.get("token_type") != "Bearer" {
				t.Errorf("got %v, want access_token, refresh_token and token_type Bearer", a.fields)
			}
		})
	}
}

func TestFormEncodedErrors(t *testing.T) {
	p := start(t, fakeprovider.Options{FormEncoded: true})
	a := refresh(t, p, "unknown")
	wantStatus(t, "refresh", a, http.StatusBadRequest, "invalid_grant")
}

func TestFailNextToken(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantType string
	}{
		{"503", http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`, "application/json"},
		{"200 html", http.StatusOK, "<html><body>Login</body></html>", "text/html; charset=utf-8"},
		{"429 text", http.StatusTooManyRequests, "slow down", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{})
			first := connect(t, p, "")
			p.FailNextToken(tt.status, tt.body, 2)
			for i := range 2 {
				a := refresh(t, p, first.get("refresh_token"))
				if a.status != tt.status || a.body != tt.body || a.header.Get("Content-Type") != tt.wantType {
					t.Fatalf("call %d: got %d %q %q, want %d %q %q", i, a.status, a.header.Get("Content-Type"), a.body,
						tt.status, tt.wantType, tt.body)
				}
			}
			wantStatus(t, "third call", refresh(t, p, first.get("refresh_token")), http.StatusOK, "")
			if got, want := p.TokenCalls(), 4; got != want {
				t.Errorf("TokenCalls: got %v, want %v", got, want)
			}
			if got, want := p.RefreshCalls(), 3; got != want {
				t.Errorf("RefreshCalls: got %v, want %v", got, want)
			}
		})
	}
}

func TestClientCredentialsAndExtraParams(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	a := send(t, p, tokenCall{form: url.Values{
		"grant_type": {"client_credentials"}, "scope": {"admin"}, "audience": {"https://api.example"},
	}})
	wantStatus(t, "client_credentials", a, http.StatusOK, "")
	if _, ok := a.fields["refresh_token"]; ok {
		t.Errorf("refresh_token: got one, want none for client_credentials")
	}
	if got, want := a.get("scope"), "admin"; got != want {
		t.Errorf("scope: got %v, want %v", got, want)
	}
	tr := p.LastTokenRequest()
	if got, want := tr.Extra.Get("audience"), "https://api.example"; got != want {
		t.Errorf("Extra audience: got %v, want %v", got, want)
	}
	if tr.Extra.Has("grant_type") || tr.Extra.Has("scope") {
		t.Errorf("Extra: got %v, want only non-standard parameters", tr.Extra)
	}
	if got, want := p.TokenCallsByGrant("client_credentials"), 1; got != want {
		t.Errorf("TokenCallsByGrant: got %v, want %v", got, want)
	}
}

func TestGrantErrors(t *testing.T) {
	tests := []struct {
		name    string
		form    url.Values
		wantErr string
	}{
		{"unsupported", url.Values{"grant_type": {"password"}}, "unsupported_grant_type"},
		{"missing grant_type", url.Values{}, "invalid_request"},
		{"missing refresh_token", url.Values{"grant_type": {"refresh_token"}}, "invalid_request"},
		{"missing code", url.Values{"grant_type": {"authorization_code"}}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{})
			wantStatus(t, "token", send(t, p, tokenCall{form: tt.form}), http.StatusBadRequest, tt.wantErr)
		})
	}
}

func TestScope(t *testing.T) {
	p := start(t, fakeprovider.Options{Scope: "read"})
	a := connect(t, p, "")
	if got, want := a.get("scope"), "read"; got != want {
		t.Errorf("granted scope: got %v, want %v", got, want)
	}
	wider := send(t, p, tokenCall{form: url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {a.get("refresh_token")}, "scope": {"read write"}}})
	wantStatus(t, "wider scope", wider, http.StatusBadRequest, "invalid_scope")
}
