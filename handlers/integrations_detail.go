package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// integrationDetail shows one integration: every section, the redirect URI,
// its warnings and what the user may do with it.
func (h *Handler) integrationDetail(c echo.Context) error {
	in, accounts, err := h.loadIntegration(c)
	if err != nil {
		return err
	}
	build := canBuild(c)
	v := views.IntegrationDetail{
		Key: in.Key, Name: in.Name, GrantType: in.OAuth2.GrantType, CanBuild: build, Accounts: accounts,
		NoSecret: !in.OAuth2.ClientSecretSet,
		Redirect: views.RedirectPanel{CallbackURL: h.CallbackURL(), Realm: h.cfg.Realm},
		Sections: detailSections(in, build),
		Preset:   presetInfo(h.presets.Get(in.Preset)),
		Lint:     lintItems(h.lint(in)),
	}
	v.Redirect.Check, v.Redirect.CSRF = build, csrfToken(c)
	for _, w := range []string{oauthflow.QueryTokenWarning(in), oauthflow.AnyOriginWarning(in)} {
		if w != "" {
			v.Warnings = append(v.Warnings, w)
		}
	}
	rows, next, err := h.store.ListAccounts(c.Request().Context(), store.AccountFilter{IntegrationID: in.ID, Sort: "name"}, 25, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		v.AccountRows = append(v.AccountRows, h.accountVM(r, in.Name))
	}
	v.MoreAccounts = next != ""
	return h.render(c, http.StatusOK, views.IntegrationDetailPage(h.userPage(c, in.Name, "integrations"), v))
}

// requestSections are the API base URLs and the health check.
func requestSections(in oauthflow.Integration) (bases, health views.DetailSection) {
	bases = views.DetailSection{ID: "section-base-urls", Title: "API base URLs",
		Empty: "None: requests through an account are refused until the API's origin is added."}
	for i, u := range in.APIBaseURLs {
		if u == oauthflow.AnyOrigin {
			u = "* (any origin)"
		}
		bases.Items = append(bases.Items, views.DetailItem{Label: "URL " + strconv.Itoa(i+1), Value: u, Mono: true})
	}
	health = views.DetailSection{ID: "section-health", Title: "Health check", Empty: "None."}
	if hc := in.HealthCheck; hc != nil {
		health.Items = []views.DetailItem{{Label: "Request", Value: hc.Method + " " + hc.URL, Mono: true}, {Label: "Expected status", Value: strconv.Itoa(hc.ExpectStatus)}}
	}
	return bases, health
}

// secretStatus is all anyone learns of a client secret: builders see its
// last four characters (to tell which one is stored), viewers only whether
// it is set.
func secretStatus(o oauthflow.OAuth2, build bool) string {
	switch {
	case !o.ClientSecretSet:
		return "not set"
	case build && o.ClientSecretLast4 != "":
		return "set, ends in …" + o.ClientSecretLast4
	}
	return "set"
}

// oauthItems are the OAuth settings in the form's words; a client
// credentials integration has no authorization endpoint or PKCE to show.
func oauthItems(o oauthflow.OAuth2, verb, pkce string, build bool) []views.DetailItem {
	item := func(label, value string, mono bool) views.DetailItem {
		return views.DetailItem{Label: label, Value: value, Mono: mono}
	}
	code := o.GrantType == oauthflow.GrantAuthorizationCode
	items := []views.DetailItem{item("Grant type", views.GrantLabel(o.GrantType), false)}
	if code {
		items = append(items, item("Authorization endpoint", o.AuthorizationURL, true))
	}
	items = append(items, item("Access token endpoint", o.TokenURL, true), item("Access token verb", verb, false),
		item("Revoke token endpoint", o.RevokeURL, true), item("Scope", o.Scope, true),
		item("Client ID", o.ClientID, true), item("Client secret", secretStatus(o, build), false),
		item("Client authentication", views.ClientAuthLabel(o.ClientAuth), false))
	if code {
		items = append(items, item("PKCE", pkce, false))
	}
	return items
}

func detailSections(in oauthflow.Integration, build bool) []views.DetailSection {
	o := in.OAuth2
	item := func(label, value string, mono bool) views.DetailItem {
		return views.DetailItem{Label: label, Value: value, Mono: mono}
	}
	verb := o.TokenMethod
	if verb == http.MethodGet {
		verb += " (non-standard)"
	}
	pkce := "off"
	if o.PKCE {
		pkce = "on (S256)"
	}
	params := &views.DetailTable{Caption: "Integration parameters", Head: []string{"Name", "Description", "Allowed values"}, Mono: []bool{true, false, true}}
	for _, p := range in.Parameters {
		allowed := strings.Join(p.AllowedValues, ", ")
		if allowed == "" {
			allowed = "any"
		}
		params.Rows = append(params.Rows, []string{p.Name, p.Description, allowed})
	}
	reqs := &views.DetailTable{Caption: "Request parameters", Head: []string{"Name", "Value", "Where"}, Mono: []bool{true, true, false}}
	for _, r := range in.RequestParameters {
		reqs.Rows = append(reqs.Rows, []string{r.Name, r.Value, r.In})
	}
	bases, health := requestSections(in)
	return []views.DetailSection{
		{ID: "section-properties", Title: "Properties", Items: []views.DetailItem{
			item("Name", in.Name, false), item("Key", in.Key, true),
			item("Updated", views.Ago(in.UpdatedAt), false),
		}},
		{ID: "section-parameters", Title: "Integration parameters", Table: params, Empty: "None: every account uses the same settings."},
		{ID: "section-oauth2", Title: "OAuth 2.0 configuration", Items: oauthItems(o, verb, pkce, build)},
		{ID: "section-provider", Title: "Provider specifics", Items: []views.DetailItem{
			item("Extra authorization parameters", joinParams(o.AuthorizationParams), true),
			item("Extra token parameters", joinParams(o.TokenParams), true),
			item("Expected issuer", o.Issuer, true),
			item("Refresh window", fmt.Sprintf("%d s", o.RefreshWindowSeconds), false),
			item("Token rejected statuses", statusText(o.RejectedStatuses), false),
		}},
		{ID: "section-token", Title: "Auth token", Items: []views.DetailItem{
			item("Token parameter name", in.Token.Name, true), item("Value template", in.Token.Template, true),
			item("Token parameter type", in.Token.In, false),
		}},
		{ID: "section-request-parameters", Title: "Request parameters", Table: reqs, Empty: "None."},
		bases, health,
	}
}

func joinParams(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, "  ")
}

// integrationDeletePage asks before deleting and says how many accounts go.
func (h *Handler) integrationDeletePage(c echo.Context) error {
	in, accounts, err := h.loadIntegration(c)
	if err != nil {
		return err
	}
	p := h.userPage(c, "Delete "+in.Name, "integrations")
	return h.render(c, http.StatusOK, views.IntegrationDelete(p, views.IntegrationDeleteView{
		CSRF: p.CSRF, Key: in.Key, Name: in.Name, Accounts: accounts, HasRevoke: in.OAuth2.RevokeURL != "",
	}))
}

// integrationDelete revokes the accounts' tokens, then deletes the
// integration and its accounts.
func (h *Handler) integrationDelete(c echo.Context) error {
	in, n, err := h.accounts.DeleteIntegration(c.Request().Context(), c.Param("key"), actorLabel(c))
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Integration %s is deleted; %s disconnected.", in.Name, views.Plural(n, "account", "accounts"))
	if err := h.flash(c, "success", msg); err != nil {
		return err
	}
	return seeOther(c, "/integrations")
}

// integrationExport downloads the integration in the API's GET shape,
// without the client secret.
func (h *Handler) integrationExport(c echo.Context) error {
	in, err := h.store.GetIntegration(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(publicIntegration(in), "", "  ")
	if err != nil {
		return fmt.Errorf("export integration %q: %w", in.Key, err)
	}
	hd := c.Response().Header()
	hd.Set("Content-Disposition", `attachment; filename="`+in.Key+`.json"`) // keys are letters and digits only
	hd.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, append(b, '\n'))
}

// integrationImportPage shows the import form.
func (h *Handler) integrationImportPage(c echo.Context) error {
	p := h.userPage(c, "Import an integration", "integrations")
	return h.render(c, http.StatusOK, views.IntegrationImport(p, views.ImportView{CSRF: p.CSRF}))
}

// integrationImport creates an integration from pasted JSON in the API's
// POST shape. The client secret may be missing: the integration is created
// and cannot connect until it is set.
func (h *Handler) integrationImport(c echo.Context) error {
	text := c.FormValue("json")
	v := views.ImportView{JSON: oauthflow.WithoutSecrets(text)}
	in := newIntegrationBase()
	var fe oauthflow.FieldErrors
	status := http.StatusUnprocessableEntity
	switch {
	case strings.TrimSpace(text) == "":
		v.Error = "Paste the integration's JSON, e.g. a file exported from another Airlock."
	case len(text) > maxJSONBody:
		v.Error = "The JSON is larger than 1 MiB: an integration is much smaller; check what was pasted."
	default:
		if p := decodeJSONFrom(strings.NewReader(text), &in); p != nil {
			v.Error = p.msg
			break
		}
		saved, err := h.accounts.CreateIntegration(c.Request().Context(), integrationChange(c, in, nil, false))
		if err == nil {
			return h.imported(c, saved)
		}
		e := oauthflow.ErrorOf(err)
		switch e.Code {
		case oauthflow.CodeForbidden:
			status = http.StatusForbidden
		case oauthflow.CodeConflict:
			e.Fields = oauthflow.FieldErrors{"key": e.Message + ": change \"key\" in the JSON"}
		case oauthflow.CodeInvalidFields:
		default:
			return err
		}
		fe = e.Fields
	}
	for _, path := range views.SortedPaths(fe) {
		v.Errors = append(v.Errors, views.FormError{Label: path, Message: fe[path]})
	}
	switch {
	case v.JSON == "" && text != "":
		v.Errors = append(v.Errors, views.FormError{Label: "json", Message: "Airlock never sends a secret back to the browser, and this text is not valid JSON, so it is not shown again: fix it where the message above says, and paste it again."})
	case v.JSON != text:
		v.Errors = append(v.Errors, views.FormError{Label: "oauth2.client_secret", Message: "Airlock never sends a secret back to the browser: enter it again."})
	}
	p := h.userPage(c, "Import an integration", "integrations")
	v.CSRF = p.CSRF
	return h.render(c, status, views.IntegrationImport(p, v))
}

func (h *Handler) imported(c echo.Context, in oauthflow.Integration) error {
	me, _ := currentIdentity(c)
	h.log.Info("integration imported", "key", in.Key, "secret_set", in.OAuth2.ClientSecretSet, "by", me.Label())
	msg := "Integration " + in.Name + " is imported."
	kind := "success"
	if !in.OAuth2.ClientSecretSet {
		msg += " Set the client secret before connecting."
		kind = "info"
	}
	if err := h.flash(c, kind, msg); err != nil {
		return err
	}
	return seeOther(c, "/integrations/"+in.Key)
}
