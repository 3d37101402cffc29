package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// home is the dashboard: counts, open alerts, the last 24 hours, recent failures.
func (h *Handler) home(c echo.Context) error {
	ctx := c.Request().Context()
	nInt, err := h.store.CountIntegrations(ctx)
	if err != nil {
		return err
	}
	byStatus, err := h.store.CountAccountsByStatus(ctx)
	if err != nil {
		return err
	}
	alerts, err := h.store.ListAlerts(ctx, "", true, 50)
	if err != nil {
		return err
	}
	fails, _, err := h.store.ListActivity(ctx, store.ActivityFilter{Kinds: []string{"refresh_failed"}}, 10, "")
	if err != nil {
		return err
	}
	hours, err := h.store.ActivityByHour(ctx, h.now().Add(-23*time.Hour))
	if err != nil {
		return err
	}
	p := h.userPage(c, "Dashboard", "home")
	v := views.HomeView{Integrations: nInt, Alerts: alertVMs(alerts), CanAck: canBuild(c), CSRF: p.CSRF, Empty: nInt == 0}
	h.linkAlertTraces(ctx, v.Alerts)
	for _, st := range []string{oauthflow.StatusConnected, oauthflow.StatusPending, oauthflow.StatusNeedsReconnect, oauthflow.StatusError, oauthflow.StatusDisconnected} {
		v.Accounts += byStatus[st]
		if byStatus[st] > 0 {
			v.ByStatus = append(v.ByStatus, views.KV{Name: st, Value: strconv.Itoa(byStatus[st])})
		}
	}
	for _, a := range fails {
		v.Failures = append(v.Failures, activityVM(a))
	}
	for _, b := range hours {
		v.Chart = append(v.Chart, views.ChartBar{Label: b.Start.UTC().Format("15:04"), Refreshes: b.Refreshes, Requests: b.Requests, Failures: b.Failures})
	}
	return h.render(c, http.StatusOK, views.Home(p, v))
}

func alertVMs(as []store.Alert) []views.AlertVM {
	out := make([]views.AlertVM, 0, len(as))
	for _, a := range as {
		out = append(out, views.AlertVM{ID: a.ID, AccountID: a.AccountID, AccountName: a.AccountName, Integration: a.IntegrationKey,
			Kind: a.Kind, Reason: a.Reason, Opened: views.Ago(a.OpenedAt), Resolved: views.AgoOr(a.ResolvedAt, "")})
	}
	return out
}

// alertAck closes an alert on a person's word.
func (h *Handler) alertAck(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	me, _ := currentIdentity(c)
	if err := h.store.AcknowledgeAlert(c.Request().Context(), id, me.Label()); err != nil {
		return err
	}
	if err := h.flash(c, "success", "Alert acknowledged."); err != nil {
		return err
	}
	back := c.Request().Referer()
	if back == "" || !sameSite(back, h.cfg.PublicURL.String()) {
		back = "/"
	}
	return seeOther(c, back)
}
