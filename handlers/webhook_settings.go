package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"airlock/store"
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
	w := views.WebhookView{Current: maskURL(cfg.URL), SecretSet: cfg.SecretSet}
	for _, d := range ds {
		w.Deliveries = append(w.Deliveries, views.DeliveryVM{ID: d.ID, Event: d.Event, Created: views.Ago(d.CreatedAt),
			Status: d.Status, Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError})
	}
	return w, nil
}

// maskURL is a webhook URL as Airlock shows it, in Settings and in delivery
// errors: scheme and host, then only the last 4 characters of the rest, whose
// path or query often holds the receiver's token (Slack puts it in the path).
func maskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL that does not parse: set it again)"
	}
	shown := u.Scheme + "://" + u.Host + "/…"
	rest := strings.TrimPrefix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		rest += "?" + u.RawQuery
	}
	if utf8.RuneCountInString(rest) > 8 {
		r := []rune(rest)
		shown += string(r[len(r)-4:])
	}
	return shown
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
		w.URLError = msg + " Enter it again: Airlock does not show a webhook URL back, as it may hold a token."
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

// webhookTest queues an account.test event through the same outbox as the
// alerts: it is signed, sent, retried and listed like any delivery.
func (h *Handler) webhookTest(c echo.Context) error {
	me, _ := currentIdentity(c)
	d, err := h.store.QueueTestEvent(c.Request().Context(), "A test event sent from Settings by "+me.Label())
	if errors.Is(err, store.ErrNoWebhook) {
		if err := h.flash(c, "error", "Set a webhook URL first: a test event has nowhere to go."); err != nil {
			return err
		}
		return seeOther(c, "/settings#webhook")
	}
	if err != nil {
		return err
	}
	h.log.Info("webhook test event queued", "delivery_id", d.ID, "by", me.Label())
	if err := h.flash(c, "success", "Test event queued: it appears under Recent deliveries with how its sending went."); err != nil {
		return err
	}
	return seeOther(c, "/settings#webhook")
}
