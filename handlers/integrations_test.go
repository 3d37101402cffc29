package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

// TestIntegrationFormRoundTrip creates each integration through the form,
// then re-posts the edit page exactly as a browser would: every field comes
// back unchanged, and the blank secret input keeps the stored secret.
func TestIntegrationFormRoundTrip(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	apiKey := ts.apiKey(store.RoleViewer)
	for _, tc := range []struct {
		name string
		in   oauthflow.Integration
	}{
		{"authorization code, every option away from default", fullIntegration("acme")},
		{"client credentials, token in the query", machineIntegration("billing")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.in
			want.OAuth2.ClientSecretSet = true
			c.get("/integrations/new")
			r := c.post("/integrations", integrationForm(tc.in, "form-secret-ABCD"))
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/integrations/"+tc.in.Key {
				t.Fatalf("create: got %d to %q, want 303 to the integration\n%s", r.status, r.header.Get("Location"), r.body)
			}
			sameIntegration(t, "stored after create", ts.getIntegration(tc.in.Key), want)

			edit := c.get("/integrations/" + tc.in.Key + "/edit")
			form := formOf(t, edit.body, "integration-form")
			if got := form.Get("oauth2.client_secret"); got != "" {
				t.Errorf("edit form: the secret input holds %q, want it empty", got)
			}
			r = c.post("/integrations/"+tc.in.Key, form)
			if r.status != http.StatusSeeOther {
				t.Fatalf("re-post the edit form: got %d, want 303\n%s", r.status, r.body)
			}
			got := ts.getIntegration(tc.in.Key)
			sameIntegration(t, "stored after an unchanged edit", got, want)
			if got.OAuth2.ClientSecretLast4 != "ABCD" {
				t.Errorf("secret after an edit with the input blank: last4 got %q, want ABCD", got.OAuth2.ClientSecretLast4)
			}
			api := ts.api("GET", "/api/v1/integrations/"+tc.in.Key, apiKey, "")
			sameIntegration(t, "API after the form", decodeIntegration(t, api.body), want)
		})
	}
}

// setForm returns a change that sets form fields (name, value, …).
func setForm(kv ...string) func(url.Values) {
	return func(f url.Values) {
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
	}
}

// malformedForms are form posts with one thing wrong, the control that must
// show it and what the message must say.
var malformedForms = []struct {
	name   string
	change func(url.Values)
	field  string
	msg    string
}{
	{"missing name", setForm("name", ""), "f-name", "Name is required"},
	{"key with a dash", setForm("key", "ac-me"), "f-key", "only letters and digits"},
	{"reserved key", setForm("key", "preview"), "f-key", "choose another key"},
	{"huge name", setForm("name", strings.Repeat("n", 10_000)), "f-name", "at most 200"},
	{"refresh window not a number", setForm("oauth2.refresh_window_seconds", "half an hour"), "f-oauth2-refresh_window_seconds", "whole number"},
	{"refresh window too small", setForm("oauth2.refresh_window_seconds", "5"), "f-oauth2-refresh_window_seconds", "between 60 and 86400"},
	{"status not a number", setForm("oauth2.rejected_statuses", "401 nope"), "f-oauth2-rejected_statuses", "is not a status"},
	{"status out of range", setForm("oauth2.rejected_statuses", "401 200"), "f-oauth2-rejected_statuses", "between 400 and 599"},
	{"extra parameter without =", setForm("oauth2.authorization_params", "prompt=consent\naccess_type"), "f-oauth2-authorization_params", "Line 2"},
	{"extra parameter overriding the protocol", setForm("oauth2.token_params", "client_id=x"), "f-oauth2-token_params", "cannot be overridden"},
	{"undeclared placeholder", setForm("oauth2.token_url", "https://{tenant}.example.com/token"), "f-oauth2-token_url", "tenant is not declared"},
	{"parameter named token", setForm("parameters[1].name", "token"), "f-parameters-1-name", "reserved"},
	{"request parameter location", setForm("request_parameters[1].in", "cookie"), "f-request_parameters-1-in", "header or query"},
	{"base URL not a URL", setForm("api_base_urls[1]", "files.example.com"), "f-api_base_urls-1", "absolute"},
	{"health status not a number", setForm("health_check.expect_status", "ok"), "f-health_check-expect_status", "must be a number"},
	{"no client secret", setForm("oauth2.client_secret", ""), "f-oauth2-client_secret", "Client secret is required"},
	{"template without token", setForm("token.template", "Bearer"), "f-token-template", "must contain {token}"},
}

// TestIntegrationFormMalformedPosts re-renders the form (422) with the error
// beside the field, for a plain post and an htmx post, and saves nothing.
func TestIntegrationFormMalformedPosts(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	invalid := func(id string) *regexp.Regexp {
		return regexp.MustCompile(`<(input|select|textarea) id="` + regexp.QuoteMeta(id) + `"[^>]*aria-invalid="true"`)
	}
	for _, tc := range malformedForms {
		for _, htmx := range []bool{false, true} {
			name := tc.name
			if htmx {
				name += " (htmx)"
			}
			t.Run(name, func(t *testing.T) {
				f := integrationForm(fullIntegration("acme"), "form-secret-1234")
				tc.change(f)
				c.get("/integrations/new")
				var r response
				if htmx {
					r = c.post("/integrations", f, "HX-Request", "true")
				} else {
					r = c.post("/integrations", f)
				}
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("got %d, want 422", r.status)
				}
				if !invalid(tc.field).MatchString(r.body) {
					t.Errorf("control #%s is not marked aria-invalid", tc.field)
				}
				errRE := regexp.MustCompile(`id="` + regexp.QuoteMeta(tc.field) + `-error">([^<]*)<`)
				if m := errRE.FindStringSubmatch(r.body); m == nil || !strings.Contains(html.UnescapeString(m[1]), tc.msg) {
					t.Errorf("error beside #%s: got %v, want it to say %q", tc.field, m, tc.msg)
				}
				if htmx == strings.Contains(r.body, "<html") {
					t.Errorf("htmx=%v: got a full page=%v", htmx, !htmx)
				}
				if strings.Contains(r.body, "form-secret-1234") {
					t.Error("the re-rendered form contains the client secret")
				}
			})
		}
	}
	if ts.integrationExists("acme") {
		t.Error("a malformed form created the integration")
	}
}

// TestIntegrationSecretErrorQuotesNothing: an error about the client secret
// never repeats a piece of it.
func TestIntegrationSecretErrorQuotesNothing(t *testing.T) {
	for _, secret := range []string{"ab{cdefgh}ij", "ab{cd-ef}gh", "abc}defgh", "ab{{cd}ef"} {
		in := fullIntegration("acme")
		in.OAuth2.ClientSecret = secret
		fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{RequireSecret: true}, nil)
		msg := fe["oauth2.client_secret"]
		if msg == "" {
			t.Errorf("secret %q: got no error, want one about braces", secret)
		}
		for _, piece := range []string{"cdefgh", "cd-ef", "defgh", "ef"} {
			if strings.Contains(msg, piece) && strings.Contains(secret, piece) {
				t.Errorf("secret %q: the message %q quotes %q", secret, msg, piece)
			}
		}
	}
}

// TestIntegrationRowButtons adds and removes rows: with htmx the section and
// an out-of-band preview come back; without JavaScript the whole page does,
// and nothing is saved either way.
func TestIntegrationRowButtons(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/integrations/new")
	with := func(op string) url.Values {
		f := integrationForm(fullIntegration("acme"), "")
		f.Set("op", op)
		return f
	}
	cases := []struct {
		op       string
		want     []string
		dontWant []string
	}{
		{"add-parameter", []string{`id="parameters-section"`, `name="parameters[2].name"`, `id="f-parameters-2-name" name="parameters[2].name" type="text" value="" placeholder="serverName" autofocus`}, nil},
		{"remove-parameter:0", []string{`name="parameters[0].name" type="text" value="region"`, `id="add-parameter"`}, []string{`name="parameters[1].name"`}},
		{"add-request-parameter", []string{`id="request-parameters-section"`, `name="request_parameters[2].value"`}, nil},
		{"remove-request-parameter:1", []string{`name="request_parameters[0].name"`}, []string{`name="request_parameters[1].name"`}},
		{"add-base-url", []string{`id="base-urls-section"`, `name="api_base_urls[2]"`}, nil},
		{"remove-base-url:0", []string{`value="https://files.example.com/"`}, []string{`name="api_base_urls[1]"`}},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			r := c.post("/integrations/form", with(tc.op), "HX-Request", "true")
			if r.status != 200 {
				t.Fatalf("got %d, want 200\n%s", r.status, r.body)
			}
			for _, w := range append(tc.want, `id="integration-preview" hx-swap-oob="innerHTML"`) {
				if !strings.Contains(r.body, w) {
					t.Errorf("answer lacks %s", w)
				}
			}
			for _, w := range append(tc.dontWant, "<html", `id="f-name"`) {
				if strings.Contains(r.body, w) {
					t.Errorf("answer has %s", w)
				}
			}
		})
	}
	if r := c.post("/integrations/form", with("explode"), "HX-Request", "true"); r.status != http.StatusBadRequest {
		t.Errorf("unknown op: got %d, want 400", r.status)
	}
	// Without JavaScript the same button posts to the create action.
	f := with("add-request-parameter")
	f.Set("oauth2.client_secret", "typed-secret-9999")
	r := c.post("/integrations", f)
	if r.status != 200 || !strings.Contains(r.body, "<html") || !strings.Contains(r.body, `name="request_parameters[2].name"`) {
		t.Errorf("no-JS add row: got %d, want the full page with a third request parameter row", r.status)
	}
	if !strings.Contains(r.body, "enter it again") || strings.Contains(r.body, "typed-secret-9999") {
		t.Error("no-JS add row: want a note to enter the secret again, and never the secret")
	}
	if ts.integrationExists("acme") {
		t.Error("a row button saved the integration")
	}
}

// TestIntegrationPreview checks the live preview: the authorization URL and
// the token and API requests with placeholder names visible, the secret
// masked, the problems listed with links, the warnings out of band.
func TestIntegrationPreview(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/integrations/new")
	preview := func(in oauthflow.Integration, change ...string) string {
		f := integrationForm(in, "preview-secret-5555")
		for i := 0; i+1 < len(change); i += 2 {
			f.Set(change[i], change[i+1])
		}
		r := c.post("/integrations/preview", f, "HX-Request", "true")
		if r.status != 200 {
			t.Fatalf("preview: got %d", r.status)
		}
		if strings.Contains(r.body, "preview-secret-5555") {
			t.Error("the preview contains the client secret")
		}
		return html.UnescapeString(r.body)
	}
	callback := url.QueryEscape(ts.h.CallbackURL())
	cases := []struct {
		name     string
		body     string
		want     []string
		dontWant []string
	}{
		{"authorization code, GET, body auth", preview(fullIntegration("acme")), []string{
			"GET https://{serverName}.example.com/oauth2/authorize", "?access_type=offline", "&client_id=client-{region}",
			"&redirect_uri=" + callback, "&region={region}", "&state={state}", "&prompt=consent",
			"GET https://{serverName}.example.com/oauth2/token", "&client_secret=••••••••", "&code={code}", "&grant_type=authorization_code",
			"?audience=https%3A%2F%2F{serverName}.example.com%2Fapi",
			"GET https://{serverName}.example.com/api/…", "?tenant={serverName}", "X-Access-Token: Token {token}", "X-Api-Version: 2024-01-01",
			`id="preview-ok"`,
		}, []string{"code_challenge", "Authorization: Basic"}},
		{"client credentials, POST, basic, query token, any origin", preview(machineIntegration("billing"), "api_base_urls[0]", "*"), []string{
			"None: the client credentials grant", "POST https://auth.example.net/token", "Authorization: Basic ••••••••",
			"Content-Type: application/x-www-form-urlencoded", "grant_type=client_credentials",
			"https://api.example.com/…", "?access_token={token}", "api.example.com stands for any host",
			`id="query-token-warning" hx-swap-oob="innerHTML"><p class="alert warn">The token goes in the URL query`,
			`id="any-origin-warning" hx-swap-oob="innerHTML"><p class="alert warn">The API base URL is * (any origin)`,
		}, []string{"client_secret=", "{code}"}},
		{"no API base URLs", preview(machineIntegration("billing")), []string{
			"Add an API base URL to see an example request: with none, requests through an account are refused.",
		}, []string{"api.example.com stands for any host", `<p class="alert warn">The API base URL is *`}},
		{"PKCE on", preview(fullIntegration("acme"), "oauth2.pkce", "true"), []string{
			"&code_challenge={code_challenge}", "&code_challenge_method=S256", "&code_verifier={code_verifier}",
		}, nil},
		{"problems listed", preview(fullIntegration("acme"), "oauth2.token_url", "https://{tenant}.example.com/token", "name", "", "_touched", "name"), []string{
			`<a href="#f-name">Name</a>: Name is required`, `<a href="#f-oauth2-token_url">Access token endpoint</a>: Parameter tenant is not declared`,
			"Fix the access token endpoint",
		}, []string{`id="preview-ok"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(tc.body, w) {
					t.Errorf("preview lacks %q", w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(tc.body, w) {
					t.Errorf("preview has %q", w)
				}
			}
		})
	}
}
