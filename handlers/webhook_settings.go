package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/views"
)

// webhookView reads the webhook section's state.
func (h *Handler) webhookView(c echo.Context) (views.WebhookView, error) {
	ctx := c.Request().Context()
	cfg, err := h.store.GetWebhook(ctx)
	if err != nil {
		return views.WebhookView{}, err
	}
	ds, err := h.store.ListDeliveries(ctx, 20)
	if err != nil {
		return views.WebhookView{}, err
	}
	w := views.WebhookView{URL: cfg.URL, SecretSet: cfg.SecretSet}
	for _, d := range ds {
		w.Deliveries = append(w.Deliveries, views.DeliveryVM{ID: d.ID, Event: d.Event, Created: views.Ago(d.CreatedAt),
			Status: d.Status, Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError})
	}
	return w, nil
}

// checkWebhookURL says what is wrong with a webhook URL, or "".
func checkWebhookURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return "Enter an absolute http(s) URL such as https://hooks.example.com/airlock (no user:password@)."
	}
	return ""
}

// webhookSave sets the webhook URL.
func (h *Handler) webhookSave(c echo.Context) error {
	raw := strings.TrimSpace(c.FormValue("url"))
	if msg := checkWebhookURL(raw); msg != "" {
		w, err := h.webhookView(c)
		if err != nil {
			return err
		}
		w.URL, w.URLError = raw, msg
		return h.renderSettingsWith(c, http.StatusUnprocessableEntity, w)
	}
	if err := h.store.SetWebhookURL(c.Request().Context(), raw); err != nil {
		return err
	}
	msg := "Webhook URL saved."
	if raw == "" {
		msg = "Webhook turned off."
	}
	if err := h.flash(c, "success", msg); err != nil {
		return err
	}
	return seeOther(c, "/settings#webhook")
}

// webhookSecret generates a new signing secret and shows it once.
func (h *Handler) webhookSecret(c echo.Context) error {
	secret := "whsec_" + randomToken()
	if err := h.store.SetWebhookSecret(c.Request().Context(), secret); err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	h.log.Info("webhook secret generated", "by", me.Label())
	w, err := h.webhookView(c)
	if err != nil {
		return err
	}
	w.NewSecret = secret
	return h.renderSettingsWith(c, http.StatusOK, w)
}

// webhookResend queues a delivery again.
func (h *Handler) webhookResend(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	if err := h.store.ResendDelivery(c.Request().Context(), id); err != nil {
		return err
	}
	if err := h.flash(c, "success", "Delivery queued again."); err != nil {
		return err
	}
	return seeOther(c, "/settings#webhook")
}
