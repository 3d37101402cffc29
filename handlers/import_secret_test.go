package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// secretSpellings put secret under the client_secret key spelled as a JSON
// decoder still reads it, or as a person meant it in JSON that is broken;
// every one is refused (a reserved key, a wrong type, a syntax error).
func secretSpellings(secret string) map[string]string {
	head := `{"key": "new", "name": "Imported", "oauth2": {"grant_type": "client_credentials", "token_url": "https://t.example.com/token", "client_id": "c", `
	return map[string]string{
		"plain":               head + `"client_secret": "` + secret + `"}}`,
		"escaped underscore":  head + `"client\u005fsecret": "` + secret + `"}}`,
		"escaped upper hex":   head + `"client\u005Fsecre\u0074": "` + secret + `"}}`,
		"all escaped":         head + `"\u0063\u006c\u0069\u0065\u006e\u0074\u005f\u0073\u0065\u0063\u0072\u0065\u0074": "` + secret + `"}}`,
		"upper case":          head + `"CLIENT_SECRET": "` + secret + `"}}`,
		"long s (folds to s)": head + `"client_ſecret": "` + secret + `"}}`,
		"escaped long s":      head + `"client_\u017fecret": "` + secret + `"}}`,
		"duplicated key":      head + `"client_secret": "decoy", "client_secret": "` + secret + `", "Client_Secret": "` + secret + `"}}`,
		"escaped slash":       head + `"client\/secret": 1, "client_secret": "` + secret + `"}}`,
		"value with escapes":  head + `"client_secret": "\"` + secret + `\\"}}`,
		"array value":         head + `"client_secret": ["` + secret + `"]}}`,
		"object value":        head + `"client_secret": {"v": "` + secret + `"}}}`,
		"number value":        head + `"client_secret": ` + strings.Repeat("7", 20) + `}}`,
		"syntax error after":  head + `"client\u005fsecret": "` + secret + `",, }}`,
		"unterminated":        head + `"client_secret": "` + secret,
		"missing colon":       head + `"client_secret" "` + secret + `"}}`,
		"trailing value":      head + `"client_secret": "` + secret + `"}} {"client\u005fsecret": "` + secret + `"}`,
	}
}

// TestRefusedImportNeverEchoesTheSecret: the import page shows refused JSON
// again, and the API explains a refusal; neither may carry the secret.
func TestRefusedImportNeverEchoesTheSecret(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	key := ts.apiKey(store.RoleAdmin)
	const secret = "S3cretValue-9f2c41d7e0"
	for name, text := range secretSpellings(secret) {
		t.Run(name, func(t *testing.T) {
			page := admin.post("/integrations/import", url.Values{"json": {text}})
			if page.status != http.StatusUnprocessableEntity {
				t.Fatalf("import: got %d, want 422\n%s", page.status, page.body)
			}
			if strings.Contains(page.body, secret) || strings.Contains(page.body, strings.Repeat("7", 20)) {
				t.Errorf("the import page echoes the secret:\n%s", page.body)
			}
			if !strings.Contains(page.body, "never sends a secret back") {
				t.Errorf("the import page does not say the secret must be entered again")
			}
			api := ts.api("POST", "/api/v1/integrations", key, text)
			if api.status < 400 || strings.Contains(api.body, secret) {
				t.Errorf("API: got %d %s, want a refusal without the secret", api.status, api.body)
			}
		})
	}
}

// TestRefusedImportKeepsTheRest: what is not a secret is shown again as
// pasted, so the person fixes the JSON rather than retyping it.
func TestRefusedImportKeepsTheRest(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	p := ts.provider(fakeprovider.Options{})
	in := secretsIntegration(p, "new", oauthflow.GrantClientCredentials) // "new" is reserved
	text := integrationJSON(t, in, "S3cretValue-77")
	page := admin.post("/integrations/import", url.Values{"json": {text}})
	want := strings.Replace(text, `"S3cretValue-77"`, `""`, 1)
	if page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, html.EscapeString(want)) {
		t.Errorf("got %d, want 422 showing the JSON with only the secret blanked:\n%s\n%s", page.status, html.EscapeString(want), page.body)
	}
}

func TestWithoutSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"client_secret": "x", "a": 1}`, `{"client_secret": "", "a": 1}`},
		{`{"client\u005fsecret":"x\"y"}`, `{"client\u005fsecret":""}`},
		{`{"oauth2": {"client_secret_set": true, "Client_Secret": ["x"]}}`, `{"oauth2": {"client_secret_set": true, "Client_Secret": ""}}`},
		{`{"client_secret": 123, "b": "secret"}`, `{"client_secret": "", "b": "secret"}`},
		{`{"webhook_secret": {"a": "}"}, "c": 2}`, `{"webhook_secret": "", "c": 2}`},
		{`{"name": "Secret Server", "key": "ss"}`, `{"name": "Secret Server", "key": "ss"}`},
		{`{"client_secret": "abc`, `{"client_secret": ""`},
		{`{"client_secret" "abc"}`, `{"client_secret" ""}`},
		{`{"client_secret": [1, 2`, `{"client_secret": ""`},
		// Broken JSON whose stray quote hides a name from the scan: nothing is shown.
		{`{"a": "x"y", "client_secret": "abc"}`, ``},
		// Broken JSON without a secret is shown as it is.
		{`{"a": "x"y", "b": 1}`, `{"a": "x"y", "b": 1}`},
	}
	for _, tt := range tests {
		if got := oauthflow.WithoutSecrets(tt.in); got != tt.want {
			t.Errorf("oauthflow.WithoutSecrets(%s): got %s, want %s", tt.in, got, tt.want)
		}
	}
}
