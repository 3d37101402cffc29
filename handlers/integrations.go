package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// integrationsPageSize is how many integrations one page of the list shows.
const integrationsPageSize = 25

// canBuild reports whether the signed-in user may change integrations; the
// pages hide what they may not do.
func canBuild(c echo.Context) bool {
	id, _ := currentIdentity(c)
	return allows(id.Role, permBuild)
}

// integrationsPage lists integrations, searched by name or key and paged by
// cursor. An htmx search gets only the table.
func (h *Handler) integrationsPage(c echo.Context) error {
	ctx := c.Request().Context()
	q := truncate(strings.TrimSpace(c.QueryParam("q")), 200)
	cursor := c.QueryParam("cursor")
	items, next, err := h.store.ListIntegrations(ctx, q, integrationsPageSize, cursor)
	if errors.Is(err, store.ErrNotFound) { // a mangled cursor in a link: start at the first page
		cursor = ""
		items, next, err = h.store.ListIntegrations(ctx, q, integrationsPageSize, cursor)
	}
	if err != nil {
		return err
	}
	v := views.IntegrationsView{Q: q, CanBuild: canBuild(c), None: len(items) == 0 && q == "" && cursor == ""}
	for _, it := range items {
		in := it.Integration
		v.Rows = append(v.Rows, views.IntegrationRow{Key: in.Key, Name: in.Name, GrantType: in.OAuth2.GrantType,
			Accounts: it.Accounts, NoSecret: !in.OAuth2.ClientSecretSet})
	}
	if next != "" {
		v.NextURL = listURL(q, next)
	}
	if cursor != "" {
		v.FirstURL = listURL(q, "")
	}
	if isHTMX(c) && c.Request().Header.Get("HX-Target") == "integrations-table" {
		return h.render(c, http.StatusOK, views.IntegrationsTable(v))
	}
	return h.render(c, http.StatusOK, views.Integrations(h.userPage(c, "Integrations", "integrations"), v))
}

func listURL(q, cursor string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return "/integrations"
	}
	return "/integrations?" + v.Encode()
}

// integrationNew is the empty builder form, with every default set.
func (h *Handler) integrationNew(c echo.Context) error {
	f, err := h.newForm(c)
	if err != nil {
		return err
	}
	return h.renderIntegrationForm(c, http.StatusOK, f, nil)
}

// integrationEdit is the builder form filled from the stored integration.
func (h *Handler) integrationEdit(c echo.Context) error {
	in, accounts, err := h.loadIntegration(c)
	if err != nil {
		return err
	}
	f := formFromIntegration(in)
	f.Editing, f.OriginalKey, f.Accounts = true, in.Key, accounts
	return h.renderIntegrationForm(c, http.StatusOK, f, nil)
}

// loadIntegration reads the :key integration and its account count.
func (h *Handler) loadIntegration(c echo.Context) (oauthflow.Integration, int, error) {
	ctx := c.Request().Context()
	in, err := h.store.GetIntegration(ctx, c.Param("key"))
	if err != nil {
		return in, 0, err
	}
	n, err := h.store.CountAccounts(ctx, in.ID)
	return in, n, err
}

// integrationCreate saves a new integration from the form; with op set (a
// row button pressed without JavaScript) it re-renders instead.
func (h *Handler) integrationCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read: reload the page and try again.")
	}
	f, secret := readIntegrationForm(form)
	if op := form.Get("op"); op != "" {
		return h.rowOpPage(c, f, secret, op)
	}
	return h.saveIntegration(c, f, secret, nil)
}

// integrationUpdate saves the edit form; a blank client secret keeps the
// stored one.
func (h *Handler) integrationUpdate(c echo.Context) error {
	in, accounts, err := h.loadIntegration(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read: reload the page and try again.")
	}
	f, secret := readIntegrationForm(form)
	f.Editing, f.OriginalKey, f.Accounts = true, in.Key, accounts
	f.SecretSet, f.SecretLast4 = in.OAuth2.ClientSecretSet, in.OAuth2.ClientSecretLast4
	if op := form.Get("op"); op != "" {
		return h.rowOpPage(c, f, secret, op)
	}
	return h.saveIntegration(c, f, secret, &in)
}

// saveIntegration creates (old nil) or updates the integration from the
// form, then goes to its page; problems re-render the form with each message
// beside its field (403 for the changes only an admin may make).
func (h *Handler) saveIntegration(c echo.Context, f views.IntegrationForm, secret string, old *oauthflow.Integration) error {
	compactRows(&f)
	in, parsed := integrationFromForm(f, secret)
	ch := integrationChange(c, in, parsed, old == nil)
	var saved oauthflow.Integration
	var err error
	if old == nil {
		saved, err = h.accounts.CreateIntegration(c.Request().Context(), ch)
	} else {
		saved, err = h.accounts.UpdateIntegration(c.Request().Context(), old.Key, ch)
	}
	if err == nil {
		if err := h.flash(c, "success", "Integration "+saved.Name+" is saved."); err != nil {
			return err
		}
		return seeOther(c, "/integrations/"+saved.Key)
	}
	e := oauthflow.ErrorOf(err)
	status := http.StatusUnprocessableEntity
	switch e.Code {
	case oauthflow.CodeForbidden:
		status = http.StatusForbidden
	case oauthflow.CodeConflict:
		e.Fields = map[string]string{"key": e.Message + ": choose another key"}
	case oauthflow.CodeInvalidFields:
	default:
		return err
	}
	if secret != "" && !isHTMX(c) {
		f.SecretNote = "Airlock never sends a secret back to the browser: enter it again."
	}
	return h.renderIntegrationForm(c, status, f, e.Fields)
}

// rowOpPage is a row button pressed without JavaScript: the whole page again,
// with the row added or removed, nothing saved.
func (h *Handler) rowOpPage(c echo.Context, f views.IntegrationForm, secret, op string) error {
	if op == opDiscover {
		return h.discoverIntoForm(c, f, secret)
	}
	if _, ok := applyRowOp(&f, op); !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown form action: use the buttons of the form.")
	}
	if secret != "" {
		f.SecretNote = "Airlock never sends a secret back to the browser: enter it again."
	}
	return h.renderIntegrationForm(c, http.StatusOK, f, nil)
}

// integrationFormRows is the htmx side of the row buttons: the changed
// section and a fresh preview.
func (h *Handler) integrationFormRows(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read: reload the page and try again.")
	}
	f, _ := readIntegrationForm(form)
	list, ok := applyRowOp(&f, form.Get("op"))
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown form action: use the buttons of the form.")
	}
	f.Preview = h.previewForm(f, map[string]bool{}) // rows added or removed: what the person typed is judged, not what is still blank
	return h.render(c, http.StatusOK, views.IntegrationRowsUpdate(list, f))
}

// renderIntegrationForm shows the builder: the full page, or only the form's
// inside for an htmx save that failed.
func (h *Handler) renderIntegrationForm(c echo.Context, status int, f views.IntegrationForm, fe oauthflow.FieldErrors) error {
	f.Action = "/integrations"
	title := "New integration"
	if f.Editing {
		f.Action = "/integrations/" + f.OriginalKey
		title = "Edit " + f.Name
	}
	f.Redirect = views.RedirectPanel{CallbackURL: h.CallbackURL(), Realm: h.cfg.Realm}
	f.Errors, f.ErrorList = views.PlaceErrors(captureLineErrors(fe))
	h.fillAssist(c, &f)
	var touched map[string]bool // a submit: every problem
	if fe == nil {
		touched = map[string]bool{} // a fresh or prefilled form: nothing is the person's problem yet
	}
	f.Preview = h.previewForm(f, touched)
	if isHTMX(c) && c.Request().Method == http.MethodPost {
		f.CSRF = csrfToken(c)
		return h.render(c, status, views.IntegrationFormBody(f))
	}
	p := h.userPage(c, title, "integrations")
	f.CSRF = p.CSRF
	return h.render(c, status, views.IntegrationFormPage(p, f))
}
