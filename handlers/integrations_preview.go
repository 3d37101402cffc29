package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/views"
)

// masked stands in for the client secret in the preview.
const masked = "••••••••"

// integrationPreview answers the builder's live preview: the form as it is
// now, shown as the requests Airlock would send, plus what is still wrong.
func (h *Handler) integrationPreview(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read: reload the page and try again.")
	}
	f, _ := readIntegrationForm(form) // the secret is not needed: it is always shown masked
	return h.render(c, http.StatusOK, views.IntegrationPreviewUpdate(h.previewForm(f)))
}

// previewForm builds the preview of a form's current values.
func (h *Handler) previewForm(f views.IntegrationForm) views.IntegrationPreview {
	compactRows(&f)
	in, parsed := integrationFromForm(f, "")
	fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, parsed)
	_, list := formErrors(fe)
	return h.preview(in, list)
}

// preview renders an integration's requests with placeholder names left
// visible. Each part is shown when it can be built; when a field it needs is
// wrong, a note says which.
func (h *Handler) preview(in oauthflow.Integration, errs []views.FormError) views.IntegrationPreview {
	mk := newMarkers(in)
	v := views.IntegrationPreview{
		Errors:           errs,
		QueryWarning:     oauthflow.QueryTokenWarning(in),
		AnyOriginWarning: oauthflow.AnyOriginWarning(in),
	}
	if in.OAuth2.GrantType == oauthflow.GrantAuthorizationCode {
		verifier := "v"
		mk.add(oauthflow.S256Challenge(verifier), "{code_challenge}")
		u, err := oauthflow.AuthorizationURL(in, mk.values, h.CallbackURL(), mk.proto["state"], verifier)
		if err != nil {
			v.AuthNote = "Fix the authorization endpoint, client ID and scope to see the URL."
		} else {
			v.AuthURL = mk.restore(formatURL("GET", u))
		}
	} else {
		v.AuthNote = "None: the client credentials grant asks the token endpoint directly."
	}
	if tok, err := tokenRequestPreview(in, mk, h.CallbackURL()); err != nil {
		v.TokenNote = "Fix the access token endpoint, client ID and extra token parameters to see the request."
	} else {
		v.Token = tok
	}
	api, note := apiRequestPreview(in, mk)
	v.API, v.APINote = api, note
	return v
}

// markers stand in for placeholders while a request is built: the builders
// escape values, and a run of lower-case letters and digits passes through
// every escaping (host, path, query, form) unchanged. restore then puts the
// {name} back. values holds the integration's parameters; proto the values
// Airlock fills in per flow (state, code, the token…), kept apart so that a
// parameter can never stand for them.
type markers struct {
	values map[string]string
	proto  map[string]string
	pairs  []string
}

// protocolPlaceholders are filled in per flow, not per account.
var protocolPlaceholders = []string{"state", "code", "code_verifier", "token", "client_secret"}

func newMarkers(in oauthflow.Integration) *markers {
	text := strings.ToLower(fmt.Sprintf("%v", in))
	prefix := "zqph"
	for strings.Contains(text, prefix) {
		prefix += "x"
	}
	mk := &markers{values: map[string]string{}, proto: map[string]string{}}
	n := 0
	next := func() string { n++; return fmt.Sprintf("%s%dz", prefix, n) } // the z ends the number: no marker is a prefix of another
	for _, name := range protocolPlaceholders {
		m := next()
		mk.proto[name] = m
		if name == "client_secret" {
			mk.add(m, masked)
		} else {
			mk.add(m, "{"+name+"}")
		}
	}
	for _, p := range in.Parameters {
		m := next()
		mk.values[p.Name] = m
		mk.add(m, "{"+p.Name+"}")
	}
	return mk
}

func (mk *markers) add(from, to string) { mk.pairs = append(mk.pairs, from, to) }

func (mk *markers) restore(s string) string { return strings.NewReplacer(mk.pairs...).Replace(s) }

// formatURL puts each query parameter on its own line, for reading.
func formatURL(method, u string) string {
	base, query, ok := strings.Cut(u, "?")
	if !ok {
		return method + " " + base
	}
	return method + " " + base + "\n  ?" + strings.ReplaceAll(query, "&", "\n  &")
}

// tokenRequestPreview mirrors what oauthflow sends to the token endpoint for
// the integration's first grant: extra token parameters, then the protocol
// ones (which win), client authentication as chosen, POST form or GET query.
func tokenRequestPreview(in oauthflow.Integration, mk *markers, redirectURI string) (string, error) {
	o := in.OAuth2
	form := url.Values{}
	for k, v := range o.TokenParams {
		ev, err := oauthflow.Expand(v, mk.values)
		if err != nil {
			return "", err
		}
		form.Set(k, ev)
	}
	clientID, err := oauthflow.Expand(o.ClientID, mk.values)
	if err != nil || o.ClientID == "" {
		return "", fmt.Errorf("client id: %v", err)
	}
	if o.GrantType == oauthflow.GrantAuthorizationCode {
		form.Set("grant_type", oauthflow.GrantAuthorizationCode)
		form.Set("code", mk.proto["code"])
		form.Set("redirect_uri", redirectURI)
		form.Set("client_id", clientID)
		if o.PKCE {
			form.Set("code_verifier", mk.proto["code_verifier"])
		}
	} else {
		form.Set("grant_type", oauthflow.GrantClientCredentials)
		if scope, err := oauthflow.Expand(o.Scope, mk.values); err == nil && scope != "" {
			form.Set("scope", scope)
		}
	}
	headers := []string{"Accept: application/json", "User-Agent: Airlock"}
	if o.ClientAuth == oauthflow.ClientAuthBody {
		form.Set("client_id", clientID)
		form.Set("client_secret", mk.proto["client_secret"])
	} else {
		headers = append(headers, "Authorization: Basic "+masked+"  (client ID and secret)")
	}
	u, err := oauthflow.ExpandURL(o.TokenURL, mk.values)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if o.TokenMethod == http.MethodGet {
		q := u.Query()
		for k, v := range form {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		b.WriteString(formatURL("GET", u.String()))
		writeHeaders(&b, headers)
	} else {
		b.WriteString("POST " + u.String())
		writeHeaders(&b, append(headers, "Content-Type: application/x-www-form-urlencoded"))
		b.WriteString("\n\n" + strings.ReplaceAll(form.Encode(), "&", "\n&"))
	}
	return mk.restore(b.String()), nil
}

func writeHeaders(b *strings.Builder, headers []string) {
	sort.Strings(headers)
	for _, h := range headers {
		b.WriteString("\n" + h)
	}
}

// apiRequestPreview is an example request through an account: the first API
// base URL, the request parameters and the token where they go.
func apiRequestPreview(in oauthflow.Integration, mk *markers) (req, note string) {
	base := "https://api.example.com"
	switch {
	case len(in.APIBaseURLs) == 0:
		return "", "Add an API base URL to see an example request: with none, requests through an account are refused."
	case in.APIBaseURLs[0] == oauthflow.AnyOrigin:
		note = "api.example.com stands for any host: the API base URL is * (any origin)."
	default:
		u, err := oauthflow.ExpandURL(in.APIBaseURLs[0], mk.values)
		if err != nil {
			return "", "Fix the first API base URL to see an example request."
		}
		base = u.String()
	}
	values := map[string]string{}
	for k, v := range mk.values {
		values[k] = v
	}
	values["token"] = mk.proto["token"]
	query := url.Values{}
	var headers []string
	add := func(name, tmpl, where string) bool {
		n, errN := oauthflow.Expand(name, values)
		v, errV := oauthflow.Expand(tmpl, values)
		if errN != nil || errV != nil {
			return false
		}
		if where == oauthflow.InQuery {
			query.Add(n, v)
		} else {
			headers = append(headers, n+": "+v)
		}
		return true
	}
	for _, rp := range in.RequestParameters {
		if !add(rp.Name, rp.Value, rp.In) {
			return "", "Fix the request parameters to see an example request."
		}
	}
	if !add(in.Token.Name, in.Token.Template, in.Token.In) {
		return "", "Fix the auth token settings to see an example request."
	}
	u := strings.TrimSuffix(base, "/") + "/…"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var b strings.Builder
	b.WriteString(formatURL("GET", u))
	writeHeaders(&b, headers)
	return mk.restore(b.String()), note
}
