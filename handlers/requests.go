package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/views"
)

// maxRequestBody caps what a test request or the request API may send.
const maxRequestBody = 1 << 20

// accountRequest is the console's test request panel.
func (h *Handler) accountRequest(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := h.accounts.Get(ctx, c.Param("id")); err != nil {
		return err
	}
	form := views.RequestForm{Method: c.FormValue("method"), URL: strings.TrimSpace(c.FormValue("url")), Body: c.FormValue("body")}
	hdr := http.Header{}
	params, _ := c.FormParams()
	names, values := params["header_name"], params["header_value"]
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		form.Headers = append(form.Headers, views.KV{Name: n, Value: v})
		if n = strings.TrimSpace(n); n != "" {
			hdr.Add(n, v)
		}
	}
	if len(form.Body) > maxRequestBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The body is larger than 1 MiB.")
	}
	resp, err := h.accounts.Request(ctx, c.Param("id"), oauthflow.Request{Method: form.Method, URL: form.URL, Header: hdr,
		Body: []byte(form.Body), Describe: true, Trace: true})
	result := resultVM(resp, err)
	if !isHTMX(c) {
		v, verr := h.accountView(c, c.Param("id"))
		if verr != nil {
			return verr
		}
		v.Request, v.Result = form, &result
		return h.render(c, http.StatusOK, views.AccountPage(h.userPage(c, v.Account.Name, "accounts"), v))
	}
	return h.render(c, http.StatusOK, views.RequestResultPanel(result))
}

// accountCheck runs the integration's health check and records the verdict.
func (h *Handler) accountCheck(c echo.Context) error {
	if err := h.accounts.CheckHealth(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return h.accountStatusPartial(c, c.Param("id"), nil, "")
}

// resultVM turns the runner's answer into the result panel.
func resultVM(resp *oauthflow.Response, err error) views.RequestResult {
	if err != nil {
		title := "The request was not sent"
		var ue *oauthflow.UpstreamError
		if errors.As(err, &ue) {
			title = "The API did not answer"
		} else if errors.Is(err, oauthflow.ErrNeedsReconnect) {
			title = "No token"
		}
		return views.RequestResult{ErrorTitle: title, Error: err.Error()}
	}
	v := views.RequestResult{Status: resp.Status, DurationMS: resp.Duration.Milliseconds(), Refreshed: resp.Refreshed,
		Truncated: resp.Truncated, SentMethod: resp.Sent.Method, SentURL: resp.Sent.URL}
	if resp.Refreshed || resp.RefreshNote != "" {
		v.RefreshNote = resp.RefreshNote
	}
	v.Headers = kvs(resp.Header)
	v.SentHeaders = kvs(resp.Sent.Header)
	v.Body, v.BodyNote = displayBody(resp.Header.Get("Content-Type"), resp.Body)
	return v
}

func kvs(h http.Header) []views.KV {
	var out []views.KV
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, views.KV{Name: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// displayBody pretty-prints JSON, shows text as is, and sizes binary.
func displayBody(contentType string, b []byte) (string, string) {
	if len(b) == 0 {
		return "", "The body is empty."
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if strings.Contains(mt, "json") || json.Valid(b) {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			return out.String(), ""
		}
	}
	if utf8.Valid(b) && !bytes.ContainsRune(b, 0) {
		return string(b), ""
	}
	return "", fmt.Sprintf("Binary body, %d bytes (%s).", len(b), orUnknown(mt))
}

func orUnknown(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
