package handlers

import (
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
)

// requestInput is the body of POST /api/v1/accounts/{id}/request.
type requestInput struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// requestOutput is its answer whenever the upstream answered.
type requestOutput struct {
	Status        int                 `json:"status"`
	Headers       map[string][]string `json:"headers"`
	Body          string              `json:"body"`
	BodyEncoding  string              `json:"body_encoding"`
	BodyTruncated bool                `json:"body_truncated"`
	DurationMS    int64               `json:"duration_ms"`
	Refreshed     bool                `json:"refreshed"`
	RefreshReason string              `json:"refresh_reason"`
	// RefreshError is there when Airlock refreshed after a rejected answer
	// and the refresh failed.
	RefreshError *refreshErrorJSON `json:"refresh_error,omitempty"`
}

// refreshErrorJSON is a failed refresh-after-rejection: the error code, its
// message and the account's status after it.
type refreshErrorJSON struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	AccountStatus string `json:"account_status"`
}

var allowedMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// apiRequest sends a request through the account: 200 whenever the upstream
// answered (whatever its status), 422 for a refused or malformed request, 409
// when the account needs a reconnect, 503 when its token could not be had
// for now, 502/504 when the upstream did not answer.
func (h *Handler) apiRequest(c echo.Context) error {
	var body requestInput
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.Method == "" {
		body.Method = http.MethodGet
	}
	if !allowedMethods[body.Method] {
		return fieldErr("method", "method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case)")
	}
	if body.URL == "" {
		return fieldErr("url", "url is required: the absolute URL to call (placeholders of the integration's parameters allowed)")
	}
	hdr := http.Header{}
	for k, v := range body.Headers {
		hdr.Set(k, v)
	}
	resp, err := h.accounts.Request(c.Request().Context(), c.Param("id"), oauthflow.Request{Method: body.Method, URL: body.URL, Header: hdr, Body: []byte(body.Body)})
	if err != nil {
		return err
	}
	out := requestOutput{Status: resp.Status, Headers: resp.Header, BodyTruncated: resp.Truncated,
		DurationMS: resp.Duration.Milliseconds(), Refreshed: resp.Refreshed, RefreshReason: resp.RefreshReason}
	if e := resp.RefreshError; e != nil {
		out.RefreshError = &refreshErrorJSON{Code: e.Code, Message: e.Message, AccountStatus: e.AccountStatus}
	}
	if out.Headers == nil {
		out.Headers = map[string][]string{}
	}
	if utf8.Valid(resp.Body) {
		out.Body, out.BodyEncoding = string(resp.Body), "utf8"
	} else {
		out.Body, out.BodyEncoding = base64.StdEncoding.EncodeToString(resp.Body), "base64"
	}
	return c.JSON(http.StatusOK, out)
}

func fieldErr(path, msg string) error {
	return apiErr("invalid_fields", msg, map[string]string{path: msg})
}

// apiToken hands out the account's access token (refreshed first when inside
// its window): the one response that carries a token. Admin keys only; every
// call is recorded.
func (h *Handler) apiToken(c echo.Context) error {
	me, _ := currentIdentity(c)
	res, err := h.accounts.Token(c.Request().Context(), c.Param("id"), me.Label())
	if err != nil {
		return err
	}
	out := map[string]any{"access_token": res.Token.AccessToken, "token_type": res.Token.TokenType, "expires_at": nil}
	if !res.Token.Expiry.IsZero() {
		out["expires_at"] = res.Token.Expiry.UTC().Format(time.RFC3339)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}
