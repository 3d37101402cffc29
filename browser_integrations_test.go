package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// fill types into an empty input of the form.
func fill(id, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.ID(id), text)
}

// topShot scrolls to the top first: a full-page screenshot of a scrolled
// page draws sticky panels where the scroll left them.
func topShot(b *browser, name string) {
	b.t.Helper()
	runB(b, "scroll to top", chromedp.Evaluate[int](`window.scrollTo(0, 0), 0`))
	b.shot(name)
}

// noCSPViolations fails the test when the current page reported any.
func noCSPViolations(b *browser, where string) {
	b.t.Helper()
	if csp := runB(b, "csp", chromedp.Evaluate[[]string](`window.__csp || []`)); len(csp) != 0 {
		b.t.Errorf("CSP violations on %s: %v", where, csp)
	}
}

// darkShots saves the pages in dark mode too, when screenshots are on.
func darkShots(b *browser, base string, paths ...string) {
	b.t.Helper()
	if os.Getenv(screenshotDirEnv) == "" {
		return
	}
	scheme := func(v string) error {
		_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	}
	if err := scheme("dark"); err != nil {
		b.t.Fatalf("dark mode: %v", err)
	}
	for i, p := range paths {
		b.do("dark "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		topShot(b, "dark-"+strconv.Itoa(i))
	}
	if err := scheme("light"); err != nil {
		b.t.Fatalf("light mode: %v", err)
	}
}

// TestBrowserIntegrationBuilder builds an integration through the form in
// Chromium, with parameter and request parameter rows added by htmx (no
// page load), edits it, checks the redirect URI panel, exports it and
// deletes it.
func TestBrowserIntegrationBuilder(t *testing.T) {
	rs := startServer(t, t.TempDir(), nil)
	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	setupAdmin(t, b, rs)

	b.do("empty list", chromedp.Navigate(rs.URL+"/integrations"), chromedp.WaitVisible(chromedp.ID("integrations-empty")))
	b.shot("empty")
	b.do("open the form",
		chromedp.Click(chromedp.CSS(`#integrations-empty a.primary`)),
		chromedp.WaitVisible(chromedp.ID("f-name")),
	)
	// A page load would drop this marker; htmx swaps keep it.
	runB(b, "set marker", chromedp.Evaluate[int](`window.__marker = 1`))
	b.do("add two parameters",
		fill("f-name", "Acme CRM"),
		fill("f-key", "acmecrm"),
		chromedp.Click(chromedp.ID("add-parameter")),
		chromedp.WaitVisible(chromedp.ID("f-parameters-0-name")),
		fill("f-parameters-0-name", "serverName"),
		fill("f-parameters-0-description", "Tenant subdomain"),
		chromedp.Click(chromedp.ID("add-parameter")),
		chromedp.WaitVisible(chromedp.ID("f-parameters-1-name")),
		fill("f-parameters-1-name", "region"),
	)
	b.do("fill the OAuth 2.0 fields",
		fill("f-oauth2-authorization_url", "https://{serverName}.example.com/oauth2/authorize"),
		fill("f-oauth2-token_url", "https://{serverName}.example.com/oauth2/token"),
		fill("f-oauth2-client_id", "airlock-{region}"),
		fill("f-oauth2-client_secret", "browser-secret-7788"),
		fill("f-oauth2-authorization_params", "prompt=consent"),
	)
	b.do("add a request parameter and a base URL",
		chromedp.Click(chromedp.ID("add-request-parameter")),
		chromedp.WaitVisible(chromedp.ID("f-request_parameters-0-name")),
		fill("f-request_parameters-0-name", "X-Region"),
		fill("f-request_parameters-0-value", "{region}"),
		chromedp.Click(chromedp.ID("add-base-url")),
		chromedp.WaitVisible(chromedp.ID("f-api_base_urls-0")),
		fill("f-api_base_urls-0", "https://{serverName}.example.com/api/"),
	)
	if m := runB(b, "marker", chromedp.Evaluate[int](`window.__marker || 0`)); m != 1 {
		t.Fatal("adding rows reloaded the page: want htmx swaps")
	}
	if got := b.value("#f-oauth2-client_secret"); got != "browser-secret-7788" {
		t.Errorf("client secret input after the row swaps: got %q, want what was typed", got)
	}
	unlabelled := runB(b, "labels", chromedp.Evaluate[[]string](`[...document.querySelectorAll(
		"main input:not([type=hidden]), main select, main textarea")].filter(i => !document.querySelector("label[for='" + i.id + "']")).map(i => i.name)`))
	if len(unlabelled) != 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}
	runB(b, "live preview", chromedp.Poll[bool](
		`!!document.querySelector("#preview-api") && document.querySelector("#preview-api").textContent.includes("X-Region: {region}")`))
	auth := b.text("#preview-auth-url")
	if !strings.Contains(auth, "https://{serverName}.example.com/oauth2/authorize") || !strings.Contains(auth, "client_id=airlock-{region}") ||
		!strings.Contains(auth, "prompt=consent") {
		t.Errorf("authorization URL preview: got %q, want placeholders left visible and prompt=consent", auth)
	}
	noCSPViolations(b, "the form after the htmx swaps")
	topShot(b, "form")

	// Saving without a scope: htmx swaps in the form with the error beside
	// the field, and the typed client secret survives the swap.
	b.do("save with a missing scope",
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("form-errors")),
	)
	if got := b.text("#f-oauth2-scope-error"); !strings.Contains(got, "Scope is required") {
		t.Errorf("scope error beside the field: got %q", got)
	}
	if got := b.value("#f-oauth2-client_secret"); got != "browser-secret-7788" {
		t.Errorf("client secret after a failed save: got %q, want it kept in the browser", got)
	}
	if m := runB(b, "marker", chromedp.Evaluate[int](`window.__marker || 0`)); m != 1 {
		t.Error("a failed save reloaded the page: want an htmx swap")
	}
	topShot(b, "form-error")
	b.do("add the scope", fill("f-oauth2-scope", "openid offline_access"))

	b.do("create",
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("section-oauth2")),
	)
	if got := b.text("h1"); got != "Acme CRM" {
		t.Errorf("detail page title: got %q", got)
	}
	if got, want := b.value("#redirect-uri"), rs.URL+"/internal/sessions/v1/auth/callback"; got != want {
		t.Errorf("redirect URI panel: got %q, want %q", got, want)
	}
	if got := b.text("#section-oauth2"); !strings.Contains(got, "set, ends in …7788") {
		t.Errorf("client secret on the detail page: got %q, want \"set, ends in …7788\"", got)
	}
	for _, want := range []string{"serverName", "region", "X-Region"} {
		if !strings.Contains(b.text("main"), want) {
			t.Errorf("detail page: %s missing", want)
		}
	}
	topShot(b, "detail")
	darkShots(b, rs.URL, "/integrations/acmecrm", "/integrations/acmecrm/edit", "/integrations", "/integrations/import")
	b.do("list", chromedp.Navigate(rs.URL+"/integrations"), chromedp.WaitVisible(chromedp.ID("integrations-table")))
	if got := b.text("#integrations-table"); !strings.Contains(got, "acmecrm") || !strings.Contains(got, "Authorization code") {
		t.Errorf("list: got %q", got)
	}
	b.shot("list")
	b.do("back to the detail", chromedp.Navigate(rs.URL+"/integrations/acmecrm"), chromedp.WaitVisible(chromedp.ID("section-oauth2")))

	b.do("edit",
		chromedp.Click(chromedp.CSS(`a[href="/integrations/acmecrm/edit"]`)),
		chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SetValue(chromedp.ID("f-name"), "Acme CRM EU"),
		chromedp.SetValue(chromedp.ID("f-oauth2-token_method"), "GET"),
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("section-oauth2")),
	)
	if got := b.text("h1"); got != "Acme CRM EU" {
		t.Errorf("title after the edit: got %q", got)
	}
	if got := b.text("#section-oauth2"); !strings.Contains(got, "GET (non-standard)") || !strings.Contains(got, "ends in …7788") {
		t.Errorf("after the edit: got %q, want the GET verb and the secret kept", got)
	}

	disp := runB(b, "export headers", chromedp.Evaluate[string](
		`fetch(document.querySelector("#export-link").href).then(r => r.headers.get("Content-Disposition"))`, chromedp.EvalAwaitPromise))
	if disp != `attachment; filename="acmecrm.json"` {
		t.Errorf("export Content-Disposition: got %q", disp)
	}
	body := runB(b, "export body", chromedp.Evaluate[string](
		`fetch(document.querySelector("#export-link").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	var ex struct {
		Key        string `json:"key"`
		Name       string `json:"name"`
		Parameters []struct {
			Name string `json:"name"`
		} `json:"parameters"`
		OAuth2 map[string]any `json:"oauth2"`
	}
	if err := json.Unmarshal([]byte(body), &ex); err != nil {
		t.Fatalf("export: %v\n%s", err, body)
	}
	if ex.Key != "acmecrm" || ex.Name != "Acme CRM EU" || len(ex.Parameters) != 2 || ex.OAuth2["client_secret_set"] != true {
		t.Errorf("export: got %+v", ex)
	}
	if strings.Contains(body, "browser-secret-7788") || strings.Contains(body, `"client_secret"`) {
		t.Error("the export contains the client secret")
	}

	b.do("delete",
		chromedp.Click(chromedp.CSS(`a[href="/integrations/acmecrm/delete"]`)),
		chromedp.WaitVisible(chromedp.ID("delete-summary")),
	)
	if got := b.text("#delete-summary"); !strings.Contains(got, "disconnects 0 accounts") {
		t.Errorf("delete confirmation: got %q", got)
	}
	b.shot("delete")
	b.do("confirm delete",
		chromedp.Click(chromedp.ID("confirm-delete")),
		chromedp.WaitVisible(chromedp.ID("integrations-empty")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "deleted") {
		t.Errorf("flash after delete: got %q", got)
	}
	noCSPViolations(b, "the list after the delete")
}
