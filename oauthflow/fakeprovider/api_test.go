package fakeprovider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow/fakeprovider"
)

func TestAPITokenPlacement(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(p *fakeprovider.Provider)
		header [2]string // name, value template with {token}
		query  [2]string // name, value template with {token}
		want   int
	}{
		{"default bearer", nil, [2]string{"Authorization", "Bearer {token}"}, [2]string{}, 200},
		{"default bearer lower-case scheme", nil, [2]string{"Authorization", "bearer {token}"}, [2]string{}, 200},
		{"default refuses bare token", nil, [2]string{"Authorization", "{token}"}, [2]string{}, 401},
		{"default refuses query", nil, [2]string{}, [2]string{"access_token", "{token}"}, 401},
		{"custom header bare", func(p *fakeprovider.Provider) { p.SetAPIToken("X-Api-Key", fakeprovider.InHeader) },
			[2]string{"X-Api-Key", "{token}"}, [2]string{}, 200},
		{"custom header any scheme", func(p *fakeprovider.Provider) { p.SetAPIToken("X-Api-Key", fakeprovider.InHeader) },
			[2]string{"X-Api-Key", "token {token}"}, [2]string{}, 200},
		{"strict prefix ok", func(p *fakeprovider.Provider) {
			p.SetAPIToken("Authorization", fakeprovider.InHeader)
			p.SetAPITokenPrefix("token ")
		}, [2]string{"Authorization", "token {token}"}, [2]string{}, 200},
		{"strict prefix refuses Bearer", func(p *fakeprovider.Provider) {
			p.SetAPIToken("Authorization", fakeprovider.InHeader)
			p.SetAPITokenPrefix("token ")
		}, [2]string{"Authorization", "Bearer {token}"}, [2]string{}, 401},
		{"query", func(p *fakeprovider.Provider) { p.SetAPIToken("access_token", fakeprovider.InQuery) },
			[2]string{}, [2]string{"access_token", "{token}"}, 200},
		{"query refuses header", func(p *fakeprovider.Provider) { p.SetAPIToken("access_token", fakeprovider.InQuery) },
			[2]string{"Authorization", "Bearer {token}"}, [2]string{}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{})
			if tt.setup != nil {
				tt.setup(p)
			}
			tok := connect(t, p, "").get("access_token")
			u := p.APIURL() + "items/7?page=2"
			if tt.query[0] != "" {
				u += "&" + url.QueryEscape(tt.query[0]) + "=" + url.QueryEscape(strings.ReplaceAll(tt.query[1], "{token}", tok))
			}
			req := mustRequest(t, http.MethodGet, u)
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], strings.ReplaceAll(tt.header[1], "{token}", tok))
			}
			a := do(t, req)
			if a.status != tt.want {
				t.Fatalf("status: got %v (%s), want %v", a.status, a.body, tt.want)
			}
			if tt.want != http.StatusOK {
				return
			}
			var echo fakeprovider.APIEcho
			if err := json.Unmarshal([]byte(a.body), &echo); err != nil {
				t.Fatal(err)
			}
			if echo.Path != "/api/items/7" || echo.Method != "GET" || echo.Query["page"] != "2" || echo.TokenSuffix != tok[len(tok)-4:] {
				t.Errorf("echo: got %+v, want path /api/items/7, GET, page 2, suffix %s", echo, tok[len(tok)-4:])
			}
			if strings.Contains(a.body, tok) {
				t.Errorf("echo body holds the access token, want it left out")
			}
			if got := p.LastAPIRequest(); got.Header.Get(tt.header[0]) == "" && got.Query.Get(tt.query[0]) == "" {
				t.Errorf("LastAPIRequest: got %+v, want the credential recorded", got)
			}
		})
	}
}

func TestAPIEchoesRequest(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	tok := connect(t, p, "").get("access_token")
	req, err := http.NewRequest(http.MethodPost, p.APIURL()+"things?a=1&a=2", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Tenant", "acme")
	req.Header.Set("Cookie", "sid=secret")
	a := do(t, req)
	var echo fakeprovider.APIEcho
	if err := json.Unmarshal([]byte(a.body), &echo); err != nil {
		t.Fatalf("decode %q: %v", a.body, err)
	}
	want := fakeprovider.APIEcho{OK: true, Path: "/api/things", Method: "POST", TokenSuffix: tok[len(tok)-4:], Body: `{"x":1}`}
	if echo.OK != want.OK || echo.Path != want.Path || echo.Method != want.Method || echo.Body != want.Body {
		t.Errorf("got %+v, want %+v", echo, want)
	}
	if got, want := echo.Headers["X-Tenant"], "acme"; got != want {
		t.Errorf("X-Tenant: got %v, want %v", got, want)
	}
	if got, want := echo.Query["a"], "1,2"; got != want {
		t.Errorf("query a: got %v, want %v", got, want)
	}
	for _, h := range []string{"Authorization", "Cookie"} {
		if _, ok := echo.Headers[h]; ok {
			t.Errorf("echo headers hold %s, want it left out", h)
		}
	}
	if got, want := p.APICalls(), 1; got != want {
		t.Errorf("APICalls: got %v, want %v", got, want)
	}
}

func TestAPIRejections(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	tests := []struct {
		name       string
		tok        string
		wantHeader string
	}{
		{"unknown token", "fp_at_UNKNOWN", `Bearer error="invalid_token"`},
		{"no token", "", `Bearer realm="fakeprovider"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mustRequest(t, http.MethodGet, p.APIURL()+"me")
			if tt.tok != "" {
				req.Header.Set("Authorization", "Bearer "+tt.tok)
			}
			a := do(t, req)
			if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != tt.wantHeader {
				t.Errorf("got %d %q, want 401 %q", a.status, a.header.Get("WWW-Authenticate"), tt.wantHeader)
			}
		})
	}
}

func TestFailNextAPI(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	tok := connect(t, p, "").get("access_token")
	p.FailNextAPI(http.StatusUnauthorized, 2)
	for i := range 2 {
		a := callAPI(t, p, tok)
		if a.status != http.StatusUnauthorized || !strings.Contains(a.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("call %d: got %d %q, want 401 invalid_token", i, a.status, a.header.Get("WWW-Authenticate"))
		}
	}
	wantStatus(t, "third call", callAPI(t, p, tok), http.StatusOK, "")
	p.FailNextAPI(http.StatusServiceUnavailable, 1)
	wantStatus(t, "503", callAPI(t, p, tok), http.StatusServiceUnavailable, "injected_failure")
	if got, want := p.APICalls(), 4; got != want {
		t.Errorf("APICalls: got %v, want %v", got, want)
	}
}

func TestSetAPIRedirect(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	p.SetAPIRedirect("me", "http://localhost:9/elsewhere")
	a := callAPI(t, p, "any")
	if a.status != http.StatusTemporaryRedirect || a.header.Get("Location") != "http://localhost:9/elsewhere" {
		t.Fatalf("got %d %q, want 307 to http://localhost:9/elsewhere", a.status, a.header.Get("Location"))
	}
	p.SetAPIRedirect("/api/me", "")
	wantStatus(t, "redirect removed", callAPI(t, p, "any"), http.StatusUnauthorized, "invalid_token")
}

func TestRevocation(t *testing.T) {
	p := start(t, fakeprovider.Options{ClientAuth: fakeprovider.ClientAuthBody})
	a := connect(t, p, "body")
	at, rt := a.get("access_token"), a.get("refresh_token")
	revoke := func(tok, hint, auth string) answer {
		return send(t, p, tokenCall{endpoint: p.RevokeURL(), auth: auth,
			form: url.Values{"token": {tok}, "token_type_hint": {hint}}})
	}
	tests := []struct {
		name       string
		tok, hint  string
		auth       string
		wantStatus int
		wantAccess bool // access token still valid afterwards
	}{
		{"wrong client auth", at, "access_token", "basic", 401, true},
		{"unknown token", "nope", "", "body", 200, true},
		{"access token", at, "access_token", "body", 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := revoke(tt.tok, tt.hint, tt.auth).status; got != tt.wantStatus {
				t.Fatalf("status: got %v, want %v", got, tt.wantStatus)
			}
			if got := p.ValidAccessToken(at); got != tt.wantAccess {
				t.Errorf("access token valid: got %v, want %v", got, tt.wantAccess)
			}
		})
	}
	// The refresh token outlives its revoked access token, then takes its chain with it.
	b := send(t, p, tokenCall{auth: "body", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}})
	wantStatus(t, "refresh after access revocation", b, http.StatusOK, "")
	if got := revoke(rt, "refresh_token", "body").status; got != http.StatusOK {
		t.Fatalf("revoke refresh token: got %v, want 200", got)
	}
	if p.ValidAccessToken(b.get("access_token")) {
		t.Errorf("access token after refresh token revocation: got valid, want revoked")
	}
	want := []fakeprovider.Revocation{{Token: "nope"}, {Token: at, Hint: "access_token"}, {Token: rt, Hint: "refresh_token"}}
	if got := p.Revocations(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Revocations: got %v, want %v", got, want)
	}
	if got, want := p.RevokeCalls(), 4; got != want {
		t.Errorf("RevokeCalls: got %v, want %v", got, want)
	}
	p.FailNextRevoke(http.StatusServiceUnavailable, 1)
	if got := revoke("x", "", "body").status; got != http.StatusServiceUnavailable {
		t.Errorf("injected failure: got %v, want 503", got)
	}
	if got := do(t, mustRequest(t, http.MethodGet, p.RevokeURL())).status; got != http.StatusMethodNotAllowed {
		t.Errorf("GET /revoke: got %v, want 405", got)
	}
}

func TestIssuedTokensUnique(t *testing.T) {
	p := start(t, fakeprovider.Options{RotateRefreshTokens: true})
	a := connect(t, p, "")
	b := refresh(t, p, a.get("refresh_token"))
	c := connect(t, p, "")
	access, refreshTokens := p.IssuedAccessTokens(), p.IssuedRefreshTokens()
	wantA := []string{a.get("access_token"), b.get("access_token"), c.get("access_token")}
	wantR := []string{a.get("refresh_token"), b.get("refresh_token"), c.get("refresh_token")}
	seen := map[string]bool{}
	for i := range 3 {
		if access[i] != wantA[i] || refreshTokens[i] != wantR[i] {
			t.Errorf("issued %d: got %v %v, want %v %v", i, access[i], refreshTokens[i], wantA[i], wantR[i])
		}
		for _, tok := range []string{access[i], refreshTokens[i]} {
			if seen[tok] || len(tok) < 20 {
				t.Errorf("token %q: got duplicate or short, want unique and random", tok)
			}
			seen[tok] = true
		}
	}
}
