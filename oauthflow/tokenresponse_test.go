package oauthflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
)

// tokenCorpus holds answers in the style of real providers, each mapped to
// the token it must give or the kind of error it must raise.
var tokenCorpus = []struct {
	name        string
	status      int
	contentType string
	body        string
	// success
	access, refresh, tokenType string
	expiresIn                  time.Duration // 0: unknown expiry
	refreshExpiresIn           time.Duration // 0: unknown refresh token expiry
	scopes                     []string
	// failure
	wantKind ErrorKind
	wantCode string
	wantText string // in the error message
}{
	{name: "rfc 6749 example", status: 200, contentType: "application/json;charset=UTF-8",
		body:   `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","example_parameter":"example_value"}`,
		access: "2YotnFZFEjr1zCsicMWpAA", refresh: "tGzv3JOkF0XG5Qx2TlKWIA", tokenType: "example", expiresIn: time.Hour},
	{name: "google", status: 200, contentType: "application/json; charset=utf-8",
		body:   `{"access_token":"ya29.a0Af","expires_in":3599,"refresh_token":"1//0g","scope":"https://www.googleapis.com/auth/drive.readonly openid","token_type":"Bearer","id_token":"eyJ"}`,
		access: "ya29.a0Af", refresh: "1//0g", tokenType: "Bearer", expiresIn: 3599 * time.Second, scopes: []string{"https://www.googleapis.com/auth/drive.readonly", "openid"}},
	{name: "microsoft", status: 200, contentType: "application/json; charset=utf-8",
		body:   `{"token_type":"Bearer","scope":"User.Read Mail.Read","expires_in":4872,"ext_expires_in":4872,"access_token":"eyJ0eX","refresh_token":"0.AXEA"}`,
		access: "eyJ0eX", refresh: "0.AXEA", tokenType: "Bearer", expiresIn: 4872 * time.Second, scopes: []string{"User.Read", "Mail.Read"}},
	{name: "expires_in as string", status: 200, contentType: "application/json",
		body:   `{"access_token":"a","token_type":"bearer","expires_in":"3599"}`,
		access: "a", tokenType: "bearer", expiresIn: 3599 * time.Second},
	{name: "expires_in decimal", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":3599.5}`, access: "a", expiresIn: 3599500 * time.Millisecond},
	{name: "expires_in decimal string", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":" 60.25 "}`, access: "a", expiresIn: 60250 * time.Millisecond},
	{name: "expires_in missing (salesforce)", status: 200, contentType: "application/json;charset=UTF-8",
		body:   `{"access_token":"00Dxx!AR8","signature":"x","scope":"refresh_token api","instance_url":"https://x.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1700000000000"}`,
		access: "00Dxx!AR8", tokenType: "Bearer", scopes: []string{"refresh_token", "api"}},
	{name: "expires_in zero is unknown", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":0}`, access: "a"},
	{name: "expires_in negative is unknown", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":-5}`, access: "a"},
	{name: "expires_in absurd is unknown", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":1e30}`, access: "a"},
	{name: "expires_in unreadable is unknown", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":"soon"}`, access: "a"},
	{name: "expires_in null", status: 200, contentType: "application/json",
		body: `{"access_token":"a","expires_in":null}`, access: "a"},
	{name: "scope comma separated", status: 200, contentType: "application/json",
		body: `{"access_token":"a","scope":"repo,gist, user"}`, access: "a", scopes: []string{"repo", "gist", "user"}},
	{name: "scope as array", status: 200, contentType: "application/json",
		body: `{"access_token":"a","scope":["read","write"," "]}`, access: "a", scopes: []string{"read", "write"}},
	{name: "github form", status: 200, contentType: "application/x-www-form-urlencoded; charset=utf-8",
		body: `access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer`, access: "gho_16C7e42F292c6912E7710c838347Ae178B4a", tokenType: "bearer", scopes: []string{"repo", "gist"}},
	{name: "github form as text/plain", status: 200, contentType: "text/plain; charset=utf-8",
		body: "access_token=gho_x&expires_in=28800&refresh_token=ghr_y&refresh_token_expires_in=15811200&scope=&token_type=bearer\n", access: "gho_x", refresh: "ghr_y", tokenType: "bearer", expiresIn: 8 * time.Hour,
		refreshExpiresIn: 15811200 * time.Second},
	{name: "facebook legacy form expires", status: 200, contentType: "text/plain",
		body: `access_token=EAAB&expires=5183999`, access: "EAAB", expiresIn: 5183999 * time.Second},
	{name: "json sent as text/html", status: 200, contentType: "text/html",
		body: `{"access_token":"a","token_type":"Bearer"}`, access: "a", tokenType: "Bearer"},
	{name: "utf-8 bom", status: 200, contentType: "application/json",
		body: "\ufeff{\"access_token\":\"a\"}", access: "a"},
	{name: "empty error with token", status: 200, contentType: "application/json",
		body: `{"access_token":"a","error":""}`, access: "a"},
	{name: "slack ok false", status: 200, contentType: "application/json; charset=utf-8",
		body: `{"ok":false,"error":"invalid_code"}`, wantKind: KindInvalidGrant, wantCode: "invalid_code", wantText: "reconnect the account"},
	{name: "github error in 200 form", status: 200, contentType: "application/x-www-form-urlencoded; charset=utf-8",
		body: `error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com`, wantKind: KindInvalidGrant, wantCode: "bad_verification_code", wantText: "The code passed is incorrect or expired."},
	{name: "github incorrect client credentials", status: 200, contentType: "application/json",
		body: `{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}`, wantKind: KindConfig, wantCode: "incorrect_client_credentials"},
	{name: "error in 200 json", status: 200, contentType: "application/json",
		body: `{"error":"invalid_grant","access_token":"ignored"}`, wantKind: KindInvalidGrant, wantCode: "invalid_grant"},
	{name: "400 invalid_grant", status: 400, contentType: "application/json",
		body: `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, wantKind: KindInvalidGrant, wantCode: "invalid_grant", wantText: "the token endpoint answered 400 invalid_grant (Token has been expired or revoked.): the authorization is no longer valid"},
	{name: "401 invalid_client", status: 401, contentType: "application/json",
		body: `{"error":"invalid_client","error_description":"Client authentication failed"}`, wantKind: KindConfig, wantCode: "invalid_client", wantText: "answered 401 invalid_client (Client authentication failed): check the client id and secret"},
	{name: "400 unauthorized_client", status: 400, contentType: "application/json",
		body: `{"error":"unauthorized_client"}`, wantKind: KindConfig, wantCode: "unauthorized_client", wantText: "check the grant type"},
	{name: "400 invalid_scope", status: 400, contentType: "application/json",
		body: `{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for scope is not valid."}`, wantKind: KindConfig, wantCode: "invalid_scope", wantText: "check the scope"},
	{name: "400 unsupported_grant_type", status: 400, contentType: "application/json",
		body: `{"error":"unsupported_grant_type"}`, wantKind: KindConfig, wantCode: "unsupported_grant_type"},
	{name: "400 invalid_request", status: 400, contentType: "application/json",
		body: `{"error":"invalid_request","error_description":"Missing parameter: code_verifier"}`, wantKind: KindConfig, wantCode: "invalid_request", wantText: "check the token method"},
	{name: "503 temporarily_unavailable", status: 503, contentType: "application/json",
		body: `{"error":"temporarily_unavailable"}`, wantKind: KindTemporary, wantCode: "temporarily_unavailable", wantText: "try again later"},
	{name: "500 invalid_grant stays temporary", status: 500, contentType: "application/json",
		body: `{"error":"invalid_grant"}`, wantKind: KindTemporary, wantCode: "invalid_grant"},
	{name: "429 rate limited", status: 429, contentType: "application/json",
		body: `{"error":"rate_limit_exceeded"}`, wantKind: KindTemporary, wantCode: "rate_limit_exceeded"},
	{name: "502 html from proxy", status: 502, contentType: "text/html",
		body:     "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>",
		wantKind: KindTemporary, wantText: `(the answer is HTML or XML, not a token), starting "<html> <head><title>502 Bad Gateway</title></head> <body> <center>`},
	{name: "200 html login page", status: 200, contentType: "text/html; charset=utf-8",
		body: "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>", wantKind: KindConfig, wantText: `answered 200 (the answer is HTML or XML, not a token: check the token URL), starting "<!DOCTYPE html>`},
	{name: "404 plain text", status: 404, contentType: "text/plain", body: "404 page not found", wantKind: KindConfig, wantText: `answered 404`},
	{name: "401 empty", status: 401, contentType: "", body: "", wantKind: KindConfig, wantText: "the answer is empty"},
	{name: "200 empty", status: 200, contentType: "application/json", body: "   ", wantKind: KindConfig, wantText: "the answer is empty"},
	{name: "missing access_token", status: 200, contentType: "application/json",
		body: `{"token_type":"Bearer","expires_in":3600}`, wantKind: KindConfig, wantText: "no access_token (fields: expires_in, token_type)"},
	{name: "access_token not a string", status: 200, contentType: "application/json",
		body: `{"access_token":12345}`, wantKind: KindConfig, wantText: "no access_token"},
	{name: "json array", status: 200, contentType: "application/json", body: `[{"access_token":"a"}]`, wantKind: KindConfig, wantText: "is not a JSON object"},
	{name: "truncated json with token not quoted", status: 200, contentType: "application/json",
		body: `{"access_token":"secret-token-value","expi`, wantKind: KindConfig, wantText: "not valid JSON"},
	{name: "binary garbage", status: 200, contentType: "application/octet-stream",
		body: "\x00\x01\x1b[31mred\u202e\xff\xfe garbage", wantKind: KindConfig, wantText: "neither JSON nor a form-encoded token"},
	{name: "google style error object", status: 401, contentType: "application/json",
		body: `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, wantKind: KindConfig, wantCode: "UNAUTHENTICATED", wantText: "Request had invalid authentication credentials."},
	{name: "form body labelled json", status: 200, contentType: "application/json", body: "access_token=a", wantKind: KindConfig, wantText: "labelled application/json"},
}

func TestParseTokenResponseCorpus(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tokenCorpus {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokenResponse(tt.status, tt.contentType, []byte(tt.body), now)
			if tt.wantKind != KindNone {
				var te *TokenError
				if !errors.As(err, &te) {
					t.Fatalf("got %+v, %v, want a *TokenError", got, err)
				}
				if te.Kind != tt.wantKind || te.Code != tt.wantCode || te.Status != tt.status {
					t.Errorf("got kind %v code %q status %d, want %v %q %d", te.Kind, te.Code, te.Status, tt.wantKind, tt.wantCode, tt.status)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("got message %q, want it to contain %q", err.Error(), tt.wantText)
				}
				checkSafeText(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want a token", err)
			}
			var wantExpiry time.Time
			if tt.expiresIn > 0 {
				wantExpiry = now.Add(tt.expiresIn)
			}
			want := Token{AccessToken: tt.access, RefreshToken: tt.refresh, TokenType: tt.tokenType, Expiry: wantExpiry, Scopes: tt.scopes, ObtainedAt: now}
			if tt.refreshExpiresIn > 0 {
				want.RefreshExpiry = now.Add(tt.refreshExpiresIn)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// checkSafeText fails when an error message holds control or bidi characters
// or a token from the corpus.
func checkSafeText(t *testing.T, s string) {
	t.Helper()
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Errorf("got %q, want no control or format characters", s)
			return
		}
	}
	if strings.Contains(s, "secret-token-value") {
		t.Errorf("got %q, want the token not quoted", s)
	}
}

func TestParseTokenResponseQuotesAtMost100(t *testing.T) {
	body := strings.Repeat("x", 10<<20) // 10 MiB of garbage
	_, err := ParseTokenResponse(500, "text/plain", []byte(body), time.Now())
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a *TokenError", err)
	}
	if n := len([]rune(te.BodyStart)); n != bodyStartLen+1 { // 100 characters and "…"
		t.Errorf("got %d characters quoted, want %d", n, bodyStartLen+1)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, c := range tokenCorpus {
		f.Add(c.status, c.contentType, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tok, err := ParseTokenResponse(status, contentType, body, time.Unix(0, 0))
		if err == nil {
			if tok.AccessToken == "" {
				t.Fatalf("got a token without access_token from %q", body)
			}
			if status < 200 || status > 299 {
				t.Fatalf("got a token from status %d", status)
			}
			return
		}
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("got %T %v, want a *TokenError", err, err)
		}
		for _, r := range te.BodyStart + te.Description + te.Code {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("got %q, want no control characters", err.Error())
			}
		}
	})
}
