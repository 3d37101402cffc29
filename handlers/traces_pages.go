package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// accountTracesShown is how many traces the account page lists; older ones
// are a page of their own.
const accountTracesShown = 10

// accountTraces is a page of the account's traces for the console.
func (h *Handler) accountTraces(ctx context.Context, accountID string, limit int, cursor string) (views.TracesVM, error) {
	ts, next, err := h.store.ListTraces(ctx, accountID, limit, cursor)
	if err != nil {
		return views.TracesVM{}, err
	}
	v := views.TracesVM{AccountID: accountID}
	for _, t := range ts {
		r := views.TraceRowVM{URL: traceLink(accountID, t.ID), Kind: t.Kind, Outcome: t.Outcome, At: views.Ago(t.StartedAt),
			AtExact: t.StartedAt.UTC().Format(time.RFC3339), Duration: msText(t.Duration)}
		if t.Diagnosis != nil {
			r.Cause = t.Diagnosis.Message
		}
		v.Rows = append(v.Rows, r)
	}
	if next != "" {
		v.Next = "/accounts/" + accountID + "/traces?cursor=" + url.QueryEscape(next)
	}
	return v, nil
}

// msText words a trace's duration: "240 ms", "3.2 s".
func msText(d time.Duration) string {
	if d < 10*time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// linkAlertTraces links each alert to its account's newest failed trace,
// looking each account up once.
func (h *Handler) linkAlertTraces(ctx context.Context, alerts []views.AlertVM) {
	seen := map[string]string{}
	for i, a := range alerts {
		link, ok := seen[a.AccountID]
		if !ok {
			link = h.newestFailedTrace(ctx, a.AccountID)
			seen[a.AccountID] = link
		}
		alerts[i].TraceURL = link
	}
}

// tracesPage lists an account's traces, older pages included.
func (h *Handler) tracesPage(c echo.Context) error {
	r, in, err := h.accountWithIntegration(c)
	if err != nil {
		return err
	}
	tv, err := h.accountTraces(c.Request().Context(), r.ID, consolePageSize, c.QueryParam("cursor"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
	}
	if err != nil {
		return err
	}
	v := views.TraceListPage{AccountID: r.ID, AccountName: r.Name, IntegrationKey: in.Key, IntegrationName: in.Name, Traces: tv}
	return h.render(c, http.StatusOK, views.TracesPage(h.userPage(c, "Traces of "+r.Name, "accounts"), v))
}

// accountTrace reads the route's trace, which must be the route's account's.
func (h *Handler) accountTrace(c echo.Context) (oauthflow.Trace, error) {
	t, err := h.traceByParam(c.Request().Context(), c.Param("trace"))
	if err != nil {
		return t, err
	}
	if t.AccountID != c.Param("id") {
		return oauthflow.Trace{}, echo.ErrNotFound
	}
	return t, nil
}

// tracePage shows one trace: the diagnosis, then the timeline of steps.
func (h *Handler) tracePage(c echo.Context) error {
	t, err := h.accountTrace(c)
	if err != nil {
		return err
	}
	r, in, err := h.accountWithIntegration(c)
	if err != nil {
		return err
	}
	v := traceView(t)
	v.AccountID, v.AccountName, v.IntegrationKey, v.IntegrationName = r.ID, r.Name, in.Key, in.Name
	return h.render(c, http.StatusOK, views.TracePage(h.userPage(c, "Trace of "+r.Name, "accounts"), v))
}

// traceDownload serves the trace as the API gives it, as a file.
func (h *Handler) traceDownload(c echo.Context) error {
	t, err := h.accountTrace(c)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(toTraceJSON(t), "", "  ")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+traceFileName(t)+`"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, append(b, '\n'))
}

func traceFileName(t oauthflow.Trace) string {
	return "airlock-trace-" + strconv.FormatInt(t.ID, 10) + ".json"
}

// traceView turns a trace into the page's view-model.
func traceView(t oauthflow.Trace) views.TraceView {
	v := views.TraceView{Kind: t.Kind, Outcome: t.Outcome, At: views.Ago(t.StartedAt), AtExact: t.StartedAt.UTC().Format(time.RFC3339),
		Duration: msText(t.Duration), JSONURL: traceLink(t.AccountID, t.ID) + "/json", JSONName: traceFileName(t)}
	if d := t.Diagnosis; d != nil {
		v.Diagnosis = &views.DiagnosisVM{Code: d.Code, Message: d.Message, Hint: d.Hint}
	}
	for i, s := range t.Steps {
		v.Steps = append(v.Steps, stepView(i, t.StartedAt, s))
	}
	return v
}

func stepView(i int, start time.Time, s oauthflow.TraceStep) views.TraceStepVM {
	sv := views.TraceStepVM{ID: "step-" + strconv.Itoa(i+1), Name: s.Name, At: s.At.UTC().Format("15:04:05.000 UTC"),
		Offset: "+" + msText(max(0, s.At.Sub(start))), Duration: msText(s.Duration), Method: s.Request.Method, URL: s.Request.URL,
		Headers: sortedKVs(s.Request.Headers), Body: s.Request.Body, Error: s.Error, Note: s.Note, Failed: s.Error != ""}
	if r := s.Response; r != nil {
		sv.Response = &views.TraceResponseVM{Status: httpStatusText(r.Status), Failed: r.Status >= 400, Headers: sortedKVs(r.Headers),
			Body: r.Body, Truncated: r.BodyTruncated}
		sv.Failed = sv.Failed || r.Status >= 400
	}
	if s.Request.URL != "" && (s.Response != nil || s.Error != "") {
		sv.Curl = curlData(s.Request)
	}
	return sv
}

func httpStatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

func sortedKVs(m map[string]string) []views.KV {
	out := make([]views.KV, 0, len(m))
	for k, v := range m {
		out = append(out, views.KV{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// curlData is a step's request as static/app.js builds its curl command
// from: the masked values as they are, headers in order.
func curlData(r oauthflow.TraceRequest) string {
	type curl struct {
		Method  string      `json:"method"`
		URL     string      `json:"url"`
		Headers [][2]string `json:"headers"`
		Body    string      `json:"body"`
	}
	c := curl{Method: r.Method, URL: r.URL, Body: r.Body, Headers: [][2]string{}}
	for _, kv := range sortedKVs(r.Headers) {
		c.Headers = append(c.Headers, [2]string{kv.Name, kv.Value})
	}
	b, _ := json.Marshal(c)
	return string(b)
}
