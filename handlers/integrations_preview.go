package handlers

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/views"
)

// integrationPreview answers the builder's live preview: the form as it is
// now, shown as the requests Airlock would send, plus what is still wrong.
func (h *Handler) integrationPreview(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read: reload the page and try again.")
	}
	f, _ := readIntegrationForm(form) // the secret is not needed: it is always shown masked
	touched := map[string]bool{}
	for _, n := range strings.Split(form.Get("_touched"), ",") {
		touched[strings.TrimSpace(n)] = true
	}
	return h.render(c, http.StatusOK, views.IntegrationPreviewUpdate(h.previewForm(f, touched)))
}

// untouchedErrors are the problems of a new, blank integration ("Name is
// required" …). The live preview leaves them out, so a fresh form does not
// open on a list of problems nobody made yet; the same message on the same
// field later means the field is still blank. A submit lists them all.
var untouchedErrors = sync.OnceValue(func() oauthflow.FieldErrors {
	in := oauthflow.DefaultIntegration()
	return oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, nil)
})

// previewForm renders the requests oauthflow builds for the form's current
// values (oauthflow.SampleRequests), placeholder names left visible and the
// secret masked. Each part is shown when it can be built; when a field it
// needs is wrong, a note says which.
//
// touched are the fields the person has been in: a problem a blank form has
// too is named only for those (nil: named for every field, after a submit).
func (h *Handler) previewForm(f views.IntegrationForm, touched map[string]bool) views.IntegrationPreview {
	compactRows(&f)
	in, parsed := integrationFromForm(f, "")
	fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, parsed)
	for p, m := range untouchedErrors() {
		if touched != nil && !touched[p] && fe[p] == m {
			delete(fe, p) // a field not filled in yet: said on submit, not while typing elsewhere
		}
	}
	_, errs := views.PlaceErrors(fe)
	s := oauthflow.SampleRequests(in, h.CallbackURL())
	v := views.IntegrationPreview{Errors: errs, QueryWarning: oauthflow.QueryTokenWarning(in), AnyOriginWarning: oauthflow.AnyOriginWarning(in),
		AuthNote:  "None: the client credentials grant asks the token endpoint directly.",
		TokenNote: "Fix the access token endpoint, client ID and extra token parameters to see the request."}
	switch {
	case s.AuthErr != nil:
		v.AuthNote = "Fix the authorization endpoint, client ID and scope to see the URL."
	case s.AuthURL != "":
		v.AuthURL, v.AuthNote = s.Show(formatURL(http.MethodGet, s.AuthURL)), ""
	}
	if s.Token != nil {
		v.Token, v.TokenNote = s.Show(requestText(s.Token)), ""
	}
	switch {
	case s.NoBase:
		v.APINote = "Add an API base URL to see an example request: with none, requests through an account are refused."
	case s.API != nil:
		v.API = s.Show(requestText(s.API))
	default:
		v.APINote = apiSampleNote(s.APIErr)
	}
	if s.AnyOrigin && s.API != nil {
		v.APINote = "api.example.com stands for any host: the API base URL is * (any origin)."
	}
	return v
}

// apiSampleNote says which field keeps the sample API request from being built.
func apiSampleNote(err error) string {
	switch field := oauthflow.ErrorOf(err).Fields; {
	case field["url"] != "":
		return "Fix the first API base URL to see an example request."
	case strings.HasPrefix(firstKey(field), "request_parameters"):
		return "Fix the request parameters to see an example request."
	}
	return "Fix the auth token settings to see an example request."
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// requestText is a request as the preview shows it: the method and URL
// (a GET's query one parameter a line), the headers sorted, the body.
func requestText(r *http.Request) string {
	var b strings.Builder
	if r.Method == http.MethodGet {
		b.WriteString(formatURL(r.Method, r.URL.String()))
	} else {
		b.WriteString(r.Method + " " + r.URL.String())
	}
	var headers []string
	for name, vs := range r.Header {
		for _, v := range vs {
			headers = append(headers, name+": "+v)
		}
	}
	sort.Strings(headers)
	for _, h := range headers {
		b.WriteString("\n" + h)
	}
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			form, _ := io.ReadAll(body)
			b.WriteString("\n\n" + strings.ReplaceAll(string(form), "&", "\n&"))
		}
	}
	return b.String()
}

// formatURL puts each query parameter on its own line, for reading.
func formatURL(method, u string) string {
	base, query, ok := strings.Cut(u, "?")
	if !ok {
		return method + " " + base
	}
	return method + " " + base + "\n  ?" + strings.ReplaceAll(query, "&", "\n  &")
}
