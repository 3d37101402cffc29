package fakeprovider_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"airlock/oauthflow/fakeprovider"
)

func TestListensOnLoopback(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	if got := p.URL(); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:port", got)
	}
	for got, want := range map[string]string{
		p.AuthorizeURL(): p.URL() + "/authorize", p.TokenURL(): p.URL() + "/token",
		p.RevokeURL(): p.URL() + "/revoke", p.APIURL(): p.URL() + "/api/",
	} {
		if got != want {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

func TestCodeFlowWithPKCE(t *testing.T) {
	tests := []struct {
		name    string
		opts    fakeprovider.Options
		wantIss string
	}{
		{"standard", fakeprovider.Options{}, ""},
		{"issuer", fakeprovider.Options{Issuer: "https://idp.example"}, "https://idp.example"},
		{"pkce required", fakeprovider.Options{RequirePKCE: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.opts)
			verifier, challenge := pkcePair("abc")
			cb, err := p.Approve(authURL(p, map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}))
			if err != nil {
				t.Fatalf("Approve: %v", err)
			}
			u, _ := url.Parse(cb)
			q := u.Query()
			if got := u.Scheme + "://" + u.Host + u.Path; got != redirectURI {
				t.Errorf("callback base: got %v, want %v", got, redirectURI)
			}
			if got, want := q.Get("state"), "state-123"; got != want {
				t.Errorf("state: got %v, want %v", got, want)
			}
			if got := q.Get("iss"); got != tt.wantIss || q.Has("iss") != (tt.wantIss != "") {
				t.Errorf("iss: got %v (present %v), want %v", got, q.Has("iss"), tt.wantIss)
			}
			a := send(t, p, tokenCall{form: exchangeForm(q.Get("code"), verifier)})
			wantStatus(t, "exchange", a, http.StatusOK, "")
			for _, k := range []string{"access_token", "refresh_token"} {
				if a.get(k) == "" {
					t.Errorf("%s: got empty, want a token", k)
				}
			}
			if got, want := a.get("token_type"), "Bearer"; got != want {
				t.Errorf("token_type: got %v, want %v", got, want)
			}
			if got, want := a.get("expires_in"), "3600"; got != want {
				t.Errorf("expires_in: got %v, want %v", got, want)
			}
			if got, want := a.get("scope"), "read write"; got != want {
				t.Errorf("scope: got %v, want %v", got, want)
			}
			if got, want := a.header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %v, want %v", got, want)
			}
			api := callAPI(t, p, a.get("access_token"))
			wantStatus(t, "api", api, http.StatusOK, "")
			if got, want := api.get("token_suffix"), a.get("access_token")[len(a.get("access_token"))-4:]; got != want {
				t.Errorf("token_suffix: got %v, want %v", got, want)
			}
		})
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	_, s256 := pkcePair("x")
	tests := []struct {
		name      string
		opts      fakeprovider.Options
		override  map[string]string
		wantErr   bool   // error page: Approve fails, no redirect
		wantRedir string // error sent to the redirect URI
	}{
		{"unknown client", fakeprovider.Options{}, map[string]string{"client_id": "other"}, true, ""},
		{"bad response_type", fakeprovider.Options{}, map[string]string{"response_type": "token"}, true, ""},
		{"missing redirect_uri", fakeprovider.Options{}, map[string]string{"redirect_uri": ""}, true, ""},
		{"relative redirect_uri", fakeprovider.Options{}, map[string]string{"redirect_uri": "/cb"}, true, ""},
		{"pkce required, none sent", fakeprovider.Options{RequirePKCE: true}, nil, false, "invalid_request"},
		{"pkce required, plain", fakeprovider.Options{RequirePKCE: true},
			map[string]string{"code_challenge": strings.Repeat("a", 43), "code_challenge_method": "plain"}, false, "invalid_request"},
		{"unknown method", fakeprovider.Options{},
			map[string]string{"code_challenge": s256, "code_challenge_method": "S512"}, false, "invalid_request"},
		{"short challenge", fakeprovider.Options{},
			map[string]string{"code_challenge": "short", "code_challenge_method": "S256"}, false, "invalid_request"},
		{"no pkce allowed by default", fakeprovider.Options{}, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.opts)
			au := authURL(p, tt.override)
			cb, err := p.Approve(au)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Approve error: got %v, want error %v", err, tt.wantErr)
			}
			// The browser path must agree with Approve.
			resp := do(t, mustRequest(t, http.MethodGet, au))
			if tt.wantErr {
				if resp.status != http.StatusBadRequest || resp.header.Get("Location") != "" {
					t.Errorf("GET /authorize: got %d Location %q, want 400 and no redirect", resp.status, resp.header.Get("Location"))
				}
				return
			}
			u, _ := url.Parse(cb)
			if got := u.Query().Get("error"); got != tt.wantRedir {
				t.Errorf("redirect error: got %v, want %v", got, tt.wantRedir)
			}
			if tt.wantRedir != "" && resp.status != http.StatusFound {
				t.Errorf("GET /authorize: got %d, want 302", resp.status)
			}
		})
	}
}

func TestApproveRejectsForeignURL(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	au := strings.Replace(authURL(p, nil), "/authorize", "/oauth/authorize", 1)
	if _, err := p.Approve(au); err == nil {
		t.Fatalf("Approve(%q): got nil error, want one", au)
	}
}

func TestAuthorizePage(t *testing.T) {
	tests := []struct {
		decision  string
		wantQuery url.Values
	}{
		{"approve", url.Values{"state": {"s1"}, "iss": {"https://idp"}}},
		{"deny", url.Values{"state": {"s1"}, "iss": {"https://idp"}, "error": {"access_denied"},
			"error_description": {"The user denied access"}}},
	}
	for _, tt := range tests {
		t.Run(tt.decision, func(t *testing.T) {
			p := start(t, fakeprovider.Options{Issuer: "https://idp"})
			page := do(t, mustRequest(t, http.MethodGet, authURL(p, map[string]string{"state": "s1"})))
			if page.status != http.StatusOK {
				t.Fatalf("GET /authorize: got %d, want 200", page.status)
			}
			for _, want := range []string{`id="approve"`, `id="deny"`, `action="/authorize/decision"`, `method="post"`} {
				if !strings.Contains(page.body, want) {
					t.Errorf("page lacks %s:\n%s", want, page.body)
				}
			}
			if strings.Contains(strings.ToLower(page.body), "<script") {
				t.Errorf("page has a script, want none")
			}
			id := regexp.MustCompile(`name="request" value="([^"]+)"`).FindStringSubmatch(page.body)
			if id == nil {
				t.Fatalf("no request id in page")
			}
			form := url.Values{"request": {id[1]}, "decision": {tt.decision}}
			res := postForm(t, p.URL()+"/authorize/decision", form)
			if res.status != http.StatusFound {
				t.Fatalf("decision: got %d, want 302", res.status)
			}
			loc, _ := url.Parse(res.header.Get("Location"))
			q := loc.Query()
			for k := range tt.wantQuery {
				if got, want := q.Get(k), tt.wantQuery.Get(k); got != want {
					t.Errorf("%s: got %v, want %v", k, got, want)
				}
			}
			if got, want := q.Has("code"), tt.decision == "approve"; got != want {
				t.Errorf("code present: got %v, want %v", got, want)
			}
			// The page's request id is single use.
			again := postForm(t, p.URL()+"/authorize/decision", form)
			if again.status != http.StatusBadRequest {
				t.Errorf("second decision: got %d, want 400", again.status)
			}
		})
	}
}

func TestDenyHelper(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	cb, err := p.Deny(authURL(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := "error=access_denied&error_description=The+user+denied+access&state=state-123"
	if got := cb[strings.Index(cb, "?")+1:]; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func postForm(t *testing.T, u string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
