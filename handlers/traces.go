package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
)

// traceTimeFormat is RFC 3339 with milliseconds: a trace's steps are apart
// by milliseconds, which whole seconds would hide.
const traceTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// traceSummaryJSON is a trace in a list: no steps.
type traceSummaryJSON struct {
	ID         int64                `json:"id"`
	Kind       string               `json:"kind"`
	Outcome    string               `json:"outcome"`
	StartedAt  string               `json:"started_at"`
	DurationMS int64                `json:"duration_ms"`
	Diagnosis  *oauthflow.Diagnosis `json:"diagnosis"`
}

// traceJSON is one trace with its steps, as the API and the console's
// download give it. Everything in it was masked before it was stored.
type traceJSON struct {
	ID          int64                `json:"id"`
	AccountID   string               `json:"account_id"`
	Integration string               `json:"integration"`
	Kind        string               `json:"kind"`
	Outcome     string               `json:"outcome"`
	StartedAt   string               `json:"started_at"`
	DurationMS  int64                `json:"duration_ms"`
	Steps       []traceStepJSON      `json:"steps"`
	Diagnosis   *oauthflow.Diagnosis `json:"diagnosis"`
}

type traceStepJSON struct {
	Name       string                   `json:"name"`
	At         string                   `json:"at"`
	DurationMS int64                    `json:"duration_ms"`
	Request    oauthflow.TraceRequest   `json:"request"`
	Response   *oauthflow.TraceResponse `json:"response"`
	Error      *string                  `json:"error"`
	Note       string                   `json:"note"`
}

func traceTime(t time.Time) string { return t.UTC().Format(traceTimeFormat) }

func toTraceSummaryJSON(t oauthflow.Trace) traceSummaryJSON {
	return traceSummaryJSON{ID: t.ID, Kind: t.Kind, Outcome: t.Outcome, StartedAt: traceTime(t.StartedAt),
		DurationMS: t.Duration.Milliseconds(), Diagnosis: t.Diagnosis}
}

// toTraceJSON is the API's shape of a trace: headers are never null, a
// step without an answer has "response": null, one without a transport
// error "error": null.
func toTraceJSON(t oauthflow.Trace) traceJSON {
	j := traceJSON{ID: t.ID, AccountID: t.AccountID, Integration: t.Integration, Kind: t.Kind, Outcome: t.Outcome,
		StartedAt: traceTime(t.StartedAt), DurationMS: t.Duration.Milliseconds(), Diagnosis: t.Diagnosis,
		Steps: make([]traceStepJSON, 0, len(t.Steps))}
	for _, s := range t.Steps {
		st := traceStepJSON{Name: s.Name, At: traceTime(s.At), DurationMS: s.Duration.Milliseconds(), Request: s.Request, Note: s.Note}
		if st.Request.Headers == nil {
			st.Request.Headers = map[string]string{}
		}
		if s.Response != nil {
			r := *s.Response
			if r.Headers == nil {
				r.Headers = map[string]string{}
			}
			st.Response = &r
		}
		if s.Error != "" {
			e := s.Error
			st.Error = &e
		}
		j.Steps = append(j.Steps, st)
	}
	return j
}

// apiTraceList: GET /api/v1/accounts/{id}/traces → the account's traces,
// newest first, without their steps.
func (h *Handler) apiTraceList(c echo.Context) error {
	r, err := h.apiAccount(c)
	if err != nil {
		return err
	}
	p, err := readListParams(c)
	if err != nil {
		return err
	}
	ts, next, err := h.store.ListTraces(c.Request().Context(), r.ID, p.Limit, p.Cursor)
	if errors.Is(err, store.ErrNotFound) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	items := make([]traceSummaryJSON, 0, len(ts))
	for _, t := range ts {
		items = append(items, toTraceSummaryJSON(t))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

// apiTraceGet: GET /api/v1/traces/{id} → one trace with its steps.
func (h *Handler) apiTraceGet(c echo.Context) error {
	t, err := h.traceByParam(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTraceJSON(t))
}

// traceByParam reads the trace a route names; an id that is not a
// positive number names no trace (404 like a missing one).
func (h *Handler) traceByParam(ctx context.Context, raw string) (oauthflow.Trace, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err == nil && id > 0 {
		var t oauthflow.Trace
		t, err = h.store.Trace(ctx, id)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return t, err
		}
	}
	return oauthflow.Trace{}, apiErr(oauthflow.CodeNotFound, fmt.Sprintf("No trace has the id %q: traces are kept for the last %d runs of each account.", raw, store.TracesKept), nil)
}

// traceLink is the console page of a trace.
func traceLink(accountID string, id int64) string {
	return "/accounts/" + accountID + "/traces/" + strconv.FormatInt(id, 10)
}

// newestTrace is the console link of the account's newest trace when it
// failed, or "". Handlers use it right after an action they let run
// (a refresh, a client-credentials connect): the trace it recorded is the
// newest. A failed read only loses the link.
func (h *Handler) newestTrace(ctx context.Context, accountID string) string {
	ts, _, err := h.store.ListTraces(ctx, accountID, 1, "")
	if err != nil {
		h.log.Warn("find the newest trace", "account_id", accountID, "err", err)
		return ""
	}
	if len(ts) == 0 || ts[0].Outcome != oauthflow.TraceFailed {
		return ""
	}
	return traceLink(accountID, ts[0].ID)
}

// failedTraceScan is how many of an account's newest traces are looked
// through for a failed one to link from an alert.
const failedTraceScan = 10

// newestFailedTrace is the console link of the newest failed trace among
// the account's last few, or "": what an alert links to.
func (h *Handler) newestFailedTrace(ctx context.Context, accountID string) string {
	ts, _, err := h.store.ListTraces(ctx, accountID, failedTraceScan, "")
	if err != nil {
		h.log.Warn("find the newest failed trace", "account_id", accountID, "err", err)
		return ""
	}
	for _, t := range ts {
		if t.Outcome == oauthflow.TraceFailed {
			return traceLink(accountID, t.ID)
		}
	}
	return ""
}
