package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

const consolePageSize = 50

// actorLabel names who makes the request, for activity and logs.
func actorLabel(c echo.Context) string {
	id, _ := currentIdentity(c)
	return id.Label()
}

// accountsPage lists every account, filtered by search and status.
func (h *Handler) accountsPage(c echo.Context) error {
	q, status := strings.TrimSpace(c.QueryParam("q")), c.QueryParam("status")
	sort := cmp.Or(c.QueryParam("sort"), "name")
	if _, ok := store.AccountSorts[sort]; !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown sort: use name, status, expiry or refreshed.")
	}
	f := store.AccountFilter{Q: q, Status: status, Sort: sort}
	key := c.QueryParam("integration")
	if key != "" {
		in, err := h.store.GetIntegration(c.Request().Context(), key)
		if err != nil {
			return err
		}
		f.IntegrationID = in.ID
	}
	rows, next, err := h.store.ListAccounts(c.Request().Context(), f, consolePageSize, c.QueryParam("cursor"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
	}
	if err != nil {
		return err
	}
	total, err := h.store.CountAccountsMatching(c.Request().Context(), f)
	if err != nil {
		return err
	}
	ins, _, err := h.store.ListIntegrations(c.Request().Context(), "", 200, "") // the filter's choices
	if err != nil {
		return err
	}
	v := views.AccountsView{Q: q, Status: status, Sort: sort, Total: total, Next: next, CanEdit: canBuild(c), IntegrationKey: key}
	for _, in := range ins {
		v.Integrations = append(v.Integrations, views.Option{Value: in.Integration.Key, Label: in.Integration.Name})
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, h.accountVM(r, ""))
	}
	return h.render(c, http.StatusOK, views.Accounts(h.userPage(c, "Accounts", "accounts"), v))
}

// accountVM turns a store row into what the console shows: never a token.
func (h *Handler) accountVM(r store.AccountRow, integrationName string) views.AccountVM {
	a := r.Account
	v := views.AccountVM{
		ID: a.ID, Name: a.Name, IntegrationKey: a.IntegrationKey, IntegrationName: integrationName,
		Status: a.Status, Scopes: a.Scopes, HasRefreshToken: a.HasRefreshToken, LastError: a.LastError,
		Health: r.Health, HealthDetail: r.HealthDetail, LastRefreshed: views.AgoOr(a.LastRefreshedAt, "never"),
	}
	if r.Health == "" {
		v.HealthDetail = "" // health belongs to the tokens it was checked with
	} else if r.HealthCheckedAt > 0 {
		v.HealthChecked = views.Ago(time.UnixMilli(r.HealthCheckedAt))
	}
	if v.IntegrationName == "" {
		v.IntegrationName = a.IntegrationKey
	}
	keys := make([]string, 0, len(a.Parameters))
	for k := range a.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Params = append(v.Params, views.KV{Name: k, Value: a.Parameters[k]})
	}
	for _, w := range a.Warnings {
		v.Warnings = append(v.Warnings, views.WarningVM{Code: w.Code, Message: w.Message})
	}
	v.ExpiresIn, v.ExpiresAt = h.expiresIn(a)
	v.Captured, v.Identity = capturedKVs(a.Captured), a.Identity
	v.RefreshDiesIn, v.RefreshDiesAt = h.refreshDiesIn(a)
	return v
}

// refreshDiesIn words when the account's refresh token dies ("" when unknown).
func (h *Handler) refreshDiesIn(a oauthflow.Account) (string, string) {
	if a.RefreshTokenExpiresAt.IsZero() || a.Status == oauthflow.StatusPending || a.Status == oauthflow.StatusDisconnected {
		return "", ""
	}
	left := a.RefreshTokenExpiresAt.Sub(h.now())
	exact := a.RefreshTokenExpiresAt.UTC().Format(time.RFC3339)
	if left <= 0 {
		return "expired " + views.Duration(left) + " ago", exact
	}
	return "in " + views.Duration(left) + " (" + exact + ")", exact
}

// expiresIn words when the account's token expires.
func (h *Handler) expiresIn(a oauthflow.Account) (string, string) {
	switch {
	case a.Status == oauthflow.StatusPending || a.Status == oauthflow.StatusDisconnected:
		return "—", ""
	case a.ExpiresAt.IsZero():
		return "unknown", ""
	}
	left := a.ExpiresAt.Sub(h.now())
	exact := a.ExpiresAt.UTC().Format(time.RFC3339)
	if left <= 0 {
		return "expired " + views.Duration(left) + " ago", exact
	}
	return "in " + views.Duration(left), exact
}

// accountPage shows one account.
func (h *Handler) accountPage(c echo.Context) error {
	v, err := h.accountView(c, c.Param("id"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AccountPage(h.userPage(c, v.Account.Name, "accounts"), v))
}

// accountView gathers what the account page and its partials show.
func (h *Handler) accountView(c echo.Context, id string) (views.AccountView, error) {
	ctx := c.Request().Context()
	r, err := h.store.GetAccount(ctx, id)
	if err != nil {
		return views.AccountView{}, err
	}
	in, err := h.store.GetIntegrationByID(ctx, r.IntegrationID)
	if err != nil {
		return views.AccountView{}, err
	}
	acts, _, err := h.store.ListActivity(ctx, store.ActivityFilter{AccountID: id}, 20, "")
	if err != nil {
		return views.AccountView{}, err
	}
	me, _ := currentIdentity(c)
	v := views.AccountView{
		Account: h.accountVM(r, in.Name), CanEdit: allows(me.Role, permBuild), CanSend: allows(me.Role, permBuild),
		HasHealth: in.HealthCheck != nil && in.HealthCheck.URL != "", CSRF: csrfToken(c),
		Request: views.RequestForm{Method: http.MethodGet, Headers: []views.KV{{Name: "Accept", Value: "application/json"}, {}, {}}},
	}
	v.Account.GrantType = in.OAuth2.GrantType
	if in.UsesCredentials() {
		for _, cf := range in.CredentialFields {
			v.CredentialHints = append(v.CredentialHints, views.CredentialHint{Label: cf.Label, Hint: r.CredentialHints[cf.Name]})
		}
		v.CredentialInputs = credentialInputs(in, r.CredentialHints, nil)
		v.StaticCredentials = in.StaticCredentials()
	}
	v.Account.HasIdentity = in.OAuth2.Identity != nil
	if in.HealthCheck != nil && in.HealthCheck.URL != "" {
		v.Request.URL = in.HealthCheck.URL
	} else if len(in.APIBaseURLs) > 0 && in.APIBaseURLs[0] != oauthflow.AnyOrigin {
		v.Request.URL = in.APIBaseURLs[0]
	}
	for _, a := range acts {
		v.Activity = append(v.Activity, activityVM(a))
	}
	alerts, err := h.store.ListAlerts(ctx, id, true, 10)
	if err != nil {
		return views.AccountView{}, err
	}
	v.Alerts = alertVMs(alerts)
	v.Account.Warnings = withoutAlerted(v.Account.Warnings, v.Alerts)
	if v.Traces, err = h.accountTraces(ctx, id, accountTracesShown, ""); err != nil {
		return views.AccountView{}, err
	}
	if len(v.Alerts) > 0 || v.Account.LastError != "" {
		failed := h.newestFailedTrace(ctx, id)
		v.FailedTrace = failed
		for i := range v.Alerts {
			v.Alerts[i].TraceURL = failed
		}
	}
	return v, nil
}

// withoutAlerted drops the warnings an open alert already says (a short
// token lifetime is both): one place, one sentence.
func withoutAlerted(ws []views.WarningVM, alerts []views.AlertVM) []views.WarningVM {
	open := map[string]bool{}
	for _, a := range alerts {
		open[a.Kind] = true
	}
	out := ws[:0:0]
	for _, w := range ws {
		if !open[w.Code] {
			out = append(out, w)
		}
	}
	return out
}

// accountNewPage is the form to add an account to an integration.
func (h *Handler) accountNewPage(c echo.Context) error {
	in, err := h.store.GetIntegration(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	f := accountFormView(in, "", "", nil)
	return h.render(c, http.StatusOK, views.AccountFormPage(h.userPage(c, "Add an account", "accounts"), f))
}

// accountFormView is the account form for an integration's parameters.
func accountFormView(in oauthflow.Integration, id, name string, values map[string]string) views.AccountForm {
	f := views.AccountForm{IntegrationKey: in.Key, IntegrationName: in.Name, ID: id, Name: name, Errors: map[string]string{}}
	for _, p := range in.Parameters {
		f.Fields = append(f.Fields, views.AccountField{Name: p.Name, Description: paramHelp(p), Value: values[p.Name]})
	}
	f.Credentials = credentialInputs(in, nil, nil)
	return f
}

// credentialInputs are the integration's credential fields as inputs; a
// secret one is never filled in again.
func credentialInputs(in oauthflow.Integration, values, errs map[string]string) []views.CredentialInput {
	var out []views.CredentialInput
	for _, cf := range in.CredentialFields {
		ci := views.CredentialInput{Name: cf.Name, Label: cf.Label, Help: cf.Description, Secret: cf.Secret,
			Error: errs["credentials."+cf.Name]}
		if !cf.Secret {
			ci.Value = values[cf.Name]
		}
		out = append(out, ci)
	}
	return out
}

// credentialValues reads the posted credential fields.
func credentialValues(c echo.Context, in oauthflow.Integration) map[string]string {
	out := map[string]string{}
	for _, cf := range in.CredentialFields {
		out[cf.Name] = c.FormValue("credentials." + cf.Name)
	}
	return out
}

// accountCredentials replaces an account's credentials from its page.
func (h *Handler) accountCredentials(c echo.Context) error {
	r, in, err := h.accountWithIntegration(c)
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	res, err := h.accounts.SetCredentials(c.Request().Context(), r.ID, credentialValues(c, in), me.Label())
	if e := oauthflow.ErrorOf(err); err != nil && e.Code == oauthflow.CodeInvalidFields {
		v, verr := h.accountView(c, r.ID)
		if verr != nil {
			return verr
		}
		v.CredentialInputs = credentialInputs(in, credentialValues(c, in), e.Fields)
		return h.render(c, http.StatusUnprocessableEntity, views.AccountPage(h.userPage(c, v.Account.Name, "accounts"), v))
	}
	if err != nil {
		return err
	}
	kind, msg := "success", "Credentials saved: the account is connected."
	if res.Account.Status != oauthflow.StatusConnected {
		kind, msg = "error", "Credentials saved, but the account is not connected: "+res.Account.LastError
	}
	if err := h.flash(c, kind, msg); err != nil {
		return err
	}
	return seeOther(c, "/accounts/"+r.ID)
}

// accountForm reads the posted name and parameter values.
func accountForm(c echo.Context, in oauthflow.Integration, id string) (views.AccountForm, map[string]string) {
	values := map[string]string{}
	for _, p := range in.Parameters {
		values[p.Name] = strings.TrimSpace(c.FormValue("parameters." + p.Name))
	}
	return accountFormView(in, id, strings.TrimSpace(c.FormValue("name")), values), values
}

// refusedForm shows the service's field errors on the form (422), or
// returns any other error.
func (h *Handler) refusedForm(c echo.Context, title string, f views.AccountForm, err error) error {
	e := oauthflow.ErrorOf(err)
	if e.Code != oauthflow.CodeInvalidFields {
		return err
	}
	for k, msg := range e.Fields {
		f.Errors[k] = msg
	}
	for i := range f.Fields {
		f.Fields[i].Error = e.Fields["parameters."+f.Fields[i].Name]
	}
	return h.render(c, http.StatusUnprocessableEntity, views.AccountFormPage(h.userPage(c, title, "accounts"), f))
}

// accountCreate adds an account from the form.
func (h *Handler) accountCreate(c echo.Context) error {
	in, err := h.store.GetIntegration(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	f, values := accountForm(c, in, "")
	me, _ := currentIdentity(c)
	creds := credentialValues(c, in)
	if !in.UsesCredentials() {
		creds = nil
	}
	// A client-credentials account needs no person at the provider: it is
	// connected at once, as the API does (a failed fetch leaves it in error).
	cc := !in.UsesCredentials() && in.OAuth2.GrantType == oauthflow.GrantClientCredentials
	res, err := h.accounts.Create(c.Request().Context(), in.Key, oauthflow.NewAccount{Name: f.Name, Parameters: values, Credentials: creds, Actor: me.Label(), Connect: cc})
	if err != nil {
		f.Credentials = credentialInputs(in, creds, oauthflow.ErrorOf(err).Fields)
		return h.refusedForm(c, "Add an account", f, err)
	}
	msg := fmt.Sprintf("Account %s added. Connect it to get a token.", res.Account.Name)
	if in.UsesCredentials() || cc {
		msg = fmt.Sprintf("Account %s added: %s.", res.Account.Name, res.Account.Status)
	}
	if cc && res.Account.Status != oauthflow.StatusConnected {
		msg = fmt.Sprintf("Account %s added, but its token could not be fetched: %s", res.Account.Name, res.Account.LastError)
		if err := h.flash(c, "error", msg); err != nil {
			return err
		}
		return seeOther(c, "/accounts/"+res.Account.ID)
	}
	if err := h.flash(c, "success", msg); err != nil {
		return err
	}
	return seeOther(c, "/accounts/"+res.Account.ID)
}

// accountEditPage is the form to rename an account or change its values.
func (h *Handler) accountEditPage(c echo.Context) error {
	r, in, err := h.accountWithIntegration(c)
	if err != nil {
		return err
	}
	f := accountFormView(in, r.ID, r.Name, r.Parameters)
	return h.render(c, http.StatusOK, views.AccountFormPage(h.userPage(c, "Edit "+r.Name, "accounts"), f))
}

// accountWithIntegration reads the route's account and its integration.
func (h *Handler) accountWithIntegration(c echo.Context) (store.AccountRow, oauthflow.Integration, error) {
	r, err := h.store.GetAccount(c.Request().Context(), c.Param("id"))
	if err != nil {
		return r, oauthflow.Integration{}, err
	}
	in, err := h.store.GetIntegrationByID(c.Request().Context(), r.IntegrationID)
	return r, in, err
}

// accountUpdate saves the edit form; changed values mark the account
// needs_reconnect (and, where they move its credentials, revoke and delete
// its tokens: see Accounts.Update).
func (h *Handler) accountUpdate(c echo.Context) error {
	r, in, err := h.accountWithIntegration(c)
	if err != nil {
		return err
	}
	f, values := accountForm(c, in, r.ID)
	upd, err := h.accounts.Update(c.Request().Context(), r.ID, oauthflow.AccountChange{Name: &f.Name, Parameters: values, Actor: actorLabel(c)})
	if err != nil {
		return h.refusedForm(c, "Edit "+r.Name, f, err)
	}
	msg := "Account saved."
	if upd.Reconnect {
		msg = "Account saved. Its parameters changed, so reconnect it."
	}
	if err := h.flash(c, "success", msg); err != nil {
		return err
	}
	return seeOther(c, "/accounts/"+r.ID)
}

// paramHelp is a parameter's description for the account form, with its
// allowed values when it has them.
func paramHelp(p oauthflow.Parameter) string {
	if len(p.AllowedValues) == 0 {
		return p.Description
	}
	return strings.TrimSpace(p.Description + " (one of: " + strings.Join(p.AllowedValues, ", ") + ")")
}
