package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// ctxSSOAttempt marks a single sign-on callback whose flow this browser
// started, so that its refusal is audited (a stranger's stray one is not).
const ctxSSOAttempt = "airlock.sso_attempt"

// setActor puts who is asking, and from which address, on the request's
// context, where the store finds it to write the audit row of a change in
// the change's own transaction. id's zero value is somebody not signed in.
func (h *Handler) setActor(c echo.Context, id identity) {
	a := oauthflow.Actor{Kind: oauthflow.ActorAnonymous, Address: clientAddr(c.Request(), h.cfg.TrustedProxies).String()}
	switch {
	case id.KeyID != 0:
		a.Kind, a.ID, a.Name = oauthflow.ActorAPIKey, strconv.FormatInt(id.KeyID, 10), id.KeyName
	case id.UserID != 0:
		a.Kind, a.ID, a.Name = oauthflow.ActorUser, strconv.FormatInt(id.UserID, 10), id.Email
	}
	r := c.Request()
	c.SetRequest(r.WithContext(oauthflow.WithActor(r.Context(), a)))
}

// setActorName names who is signing in (not signed in yet), so that a
// refusal after the identity provider said who they are is recorded as theirs.
func (h *Handler) setActorName(c echo.Context, name string) {
	r := c.Request()
	if a, ok := oauthflow.ActorFrom(r.Context()); ok {
		a.Name = name
		c.SetRequest(r.WithContext(oauthflow.WithActor(r.Context(), a)))
	}
}

// signinRefused records a refused password sign-in and shows the form again.
func (h *Handler) signinRefused(c echo.Context, status int, f views.SignInForm, reason string) error {
	if err := h.auditFailedSignIn(c.Request().Context(), "password", f.Email, reason); err != nil {
		return err
	}
	return h.render(c, status, views.SignIn(h.page(c, "Sign in", ""), f))
}

// auditFailedSignIn records a refused sign-in under the address it came
// from; email is what was typed (or what the identity provider said).
func (h *Handler) auditFailedSignIn(ctx context.Context, method, email, reason string) error {
	if a, ok := oauthflow.ActorFrom(ctx); ok && email != "" {
		a.Name = email
		ctx = oauthflow.WithActor(ctx, a)
	}
	return h.store.RecordAudit(context.WithoutCancel(ctx), store.AuditUser, "", store.ActionSignInFailed,
		map[string]any{"method": method, "reason": reason})
}

// auditFilter reads the filters the page and the API share. Dates are
// YYYY-MM-DD (a day in UTC; until includes its day) or RFC 3339 times.
func auditFilter(q url.Values) (store.AuditFilter, map[string]string) {
	f := store.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), ObjectType: strings.TrimSpace(q.Get("object_type")),
		ObjectID: strings.TrimSpace(q.Get("object_id"))}
	problems := map[string]string{}
	for _, p := range []struct {
		name string
		into *time.Time
		end  bool
	}{{"since", &f.Since, false}, {"until", &f.Until, true}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			if p.end {
				t = t.AddDate(0, 0, 1)
			}
			*p.into = t
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			*p.into = t
		} else {
			problems[p.name] = p.name + " must be a date such as 2026-01-31 or a time such as 2026-01-31T12:00:00Z"
		}
	}
	if len(f.Actor) > 200 {
		problems["actor"] = "actor may be at most 200 characters"
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		problems["until"] = "until must be after since"
	}
	return f, problems
}

// auditPage is the audit log, newest first, filtered by the query.
func (h *Handler) auditPage(c echo.Context) error {
	q := c.QueryParams()
	f, problems := auditFilter(q)
	v := views.AuditView{Actor: f.Actor, ObjectType: f.ObjectType, ObjectID: f.ObjectID,
		Since: q.Get("since"), Until: q.Get("until"), Errors: problems}
	status := http.StatusOK
	if len(problems) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		rows, next, err := h.store.ListAudit(c.Request().Context(), f, consolePageSize, c.QueryParam("cursor"))
		if errors.Is(err, store.ErrNotFound) {
			return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
		}
		if err != nil {
			return err
		}
		v.Next = next
		for _, r := range rows {
			v.Rows = append(v.Rows, auditVM(r))
		}
	}
	return h.render(c, status, views.Audit(h.userPage(c, "Audit log", "audit"), v))
}

// auditVM turns an audit row into its view-model.
func auditVM(e store.AuditEntry) views.AuditVM {
	v := views.AuditVM{At: views.Ago(e.At), AtExact: e.At.Format(time.RFC3339), ActorKind: e.Actor.Kind,
		Address: e.Actor.Address, Action: e.Action, Object: strings.TrimSpace(strings.ReplaceAll(e.ObjectType, "_", " ") + " " + e.ObjectID)}
	switch e.Actor.Kind {
	case oauthflow.ActorAPIKey:
		v.Actor = "API key " + e.Actor.Name
	case oauthflow.ActorCLI:
		v.Actor = "airlock CLI"
	case oauthflow.ActorUser:
		v.Actor = e.Actor.Name
	default:
		v.Actor = "not signed in"
		if e.Actor.Name != "" {
			v.Actor += " (as " + e.Actor.Name + ")"
		}
	}
	if e.ObjectID != "" && !strings.HasSuffix(e.Action, ".delete") {
		switch e.ObjectType {
		case store.AuditIntegration:
			v.ObjectHref = "/integrations/" + url.PathEscape(e.ObjectID)
		case store.AuditAccount:
			v.ObjectHref = "/accounts/" + url.PathEscape(e.ObjectID)
		}
	}
	v.Details = auditDetails(e.Details)
	return v
}

// auditDetails words a row's details, one line a field, in name order:
// "role: builder → admin", "oauth2.client_secret: changed".
func auditDetails(raw json.RawMessage) []string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	if changed, ok := m["changed"].(map[string]any); ok {
		for name, c := range changed {
			ft, ok := c.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s: %v", name, c))
				continue
			}
			out = append(out, fmt.Sprintf("%s: %s → %s", name, detailValue(ft["from"]), detailValue(ft["to"])))
		}
		delete(m, "changed")
	}
	for k, val := range m {
		out = append(out, k+": "+detailValue(val))
	}
	sort.Strings(out)
	return out
}

func detailValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return strconv.Quote(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditJSON is one audit row in the API.
type auditJSON struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      auditActorJSON  `json:"actor"`
	Address    string          `json:"address"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Action     string          `json:"action"`
	Details    json.RawMessage `json:"details"`
}

type auditActorJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type auditList struct {
	Items      []auditJSON `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// apiAuditList is GET /api/v1/audit: ?actor=, ?object_type=, ?object_id=,
// ?since=, ?until=, with ?limit= and ?cursor= as every list takes.
func (h *Handler) apiAuditList(c echo.Context) error {
	lp, err := readListParams(c)
	if err != nil {
		return err
	}
	f, problems := auditFilter(c.QueryParams())
	if len(problems) > 0 {
		var msgs []string
		for _, msg := range problems {
			msgs = append(msgs, msg)
		}
		sort.Strings(msgs)
		return apiErr("invalid_fields", strings.Join(msgs, "; "), problems)
	}
	rows, next, err := h.store.ListAudit(c.Request().Context(), f, lp.Limit, lp.Cursor)
	if errors.Is(err, store.ErrNotFound) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	out := auditList{Items: make([]auditJSON, 0, len(rows)), NextCursor: next}
	for _, r := range rows {
		out.Items = append(out.Items, auditJSON{ID: r.ID, At: r.At, Actor: auditActorJSON{Kind: r.Actor.Kind, ID: r.Actor.ID, Name: r.Actor.Name},
			Address: r.Actor.Address, ObjectType: r.ObjectType, ObjectID: r.ObjectID, Action: r.Action, Details: r.Details})
	}
	return c.JSON(http.StatusOK, out)
}
