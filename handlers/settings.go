package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// settingsPage shows the deployment's settings and API keys (admin).
func (h *Handler) settingsPage(c echo.Context) error {
	return h.renderSettings(c, http.StatusOK, newKeyForm(), nil)
}

// newKeyForm is the create-key form as it first shows: a builder key for 90 days.
func newKeyForm() views.APIKeyForm {
	return views.APIKeyForm{Role: store.RoleBuilder, Expires: "90"}
}

func (h *Handler) renderSettings(c echo.Context, status int, f views.APIKeyForm, created *views.CreatedKey) error {
	w, err := h.webhookView(c)
	if err != nil {
		return err
	}
	return h.renderSettingsFull(c, status, f, created, w)
}

// renderSettingsWith renders the settings page with a given webhook section.
func (h *Handler) renderSettingsWith(c echo.Context, status int, w views.WebhookView) error {
	return h.renderSettingsFull(c, status, newKeyForm(), nil, w)
}

func (h *Handler) renderSettingsFull(c echo.Context, status int, f views.APIKeyForm, created *views.CreatedKey, w views.WebhookView) error {
	ks, err := h.store.ListAPIKeys(c.Request().Context())
	if err != nil {
		return err
	}
	rows := make([]views.APIKeyRow, 0, len(ks))
	now := h.now()
	for _, k := range ks {
		rows = append(rows, views.APIKeyRow{ID: k.ID, Name: k.Name, Role: k.Role, Last4: k.Last4,
			CreatedBy: k.CreatedBy, Created: k.CreatedAt, LastUsed: k.LastUsedAt, Disabled: k.Disabled(),
			Expires: k.ExpiresAt, Expired: k.Expired(now)})
	}
	p := h.userPage(c, "Settings", "settings")
	v := views.SettingsView{
		Keys: rows, Form: f, Created: created, CSRF: p.CSRF, Webhook: w,
		PublicURL: h.cfg.PublicURL.String(), CallbackURL: h.CallbackURL(), Realm: h.cfg.Realm,
	}
	if isHTMX(c) && (created != nil || len(f.Errors) > 0) {
		return h.render(c, status, views.APIKeysSection(v))
	}
	return h.render(c, status, views.Settings(p, v))
}
