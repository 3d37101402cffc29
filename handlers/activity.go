package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// activityPage lists activity, newest first.
func (h *Handler) activityPage(c echo.Context) error {
	f := store.ActivityFilter{AccountID: c.QueryParam("account")}
	if k := c.QueryParam("kind"); k != "" {
		f.Kinds = []string{k}
		if k == "request" { // requests are summed per minute; failures keep their own rows
			f.Kinds = append(f.Kinds, "requests")
		}
	}
	rows, next, err := h.store.ListActivity(c.Request().Context(), f, consolePageSize, c.QueryParam("cursor"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
	}
	if err != nil {
		return err
	}
	v := views.ActivityView{Next: next, AccountID: f.AccountID, Kind: c.QueryParam("kind")}
	for _, a := range rows {
		v.Rows = append(v.Rows, activityVM(a))
	}
	return h.render(c, http.StatusOK, views.Activity(h.userPage(c, "Activity", "activity"), v))
}

// activityVM turns an activity row into its view-model.
func activityVM(a store.Activity) views.ActivityVM {
	v := views.ActivityVM{
		At: views.Ago(a.At), AtExact: a.At.Format(time.RFC3339), AccountID: a.AccountID, AccountName: a.AccountName,
		Integration: a.IntegrationKey, Kind: a.Kind, Outcome: a.Outcome, Detail: a.Detail, Status: a.Status,
		DurationMS: a.DurationMS, Reason: a.RefreshReason, Actor: a.Actor,
	}
	if a.Method != "" {
		v.Request = strings.TrimSpace(a.Method + " " + a.URL)
	}
	switch {
	case a.Kind == "requests":
		v.Count, v.Summary, v.Failing = a.Count, minuteSummary(a.Minute), a.Minute.N5xx+a.Minute.Failed > 0
	case a.Kind == "refresh_failed" && a.Count > 1:
		v.Attempts = fmt.Sprintf("%d attempts in a row, the last %s", a.Count, views.Ago(a.LastAt))
	}
	return v
}

// minuteSummary words a minute's requests: "2xx 140 · 4xx 3; p50 12 ms, p99 80 ms".
func minuteSummary(m store.MinuteSummary) string {
	var parts []string
	for _, c := range []struct {
		name string
		n    int
	}{{"2xx", m.N2xx}, {"3xx", m.N3xx}, {"4xx", m.N4xx}, {"5xx", m.N5xx}, {"failed", m.Failed}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	return fmt.Sprintf("%s; p50 %d ms, p99 %d ms", strings.Join(parts, " · "), m.P50MS, m.P99MS)
}
