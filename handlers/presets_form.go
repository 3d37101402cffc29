package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/oauthflow/presets"
	"airlock/views"
)

// opDiscover is the builder's "Fill from issuer" button (the form's op).
const opDiscover = "discover"

// newForm is the form of GET /integrations/new: blank, or filled from
// ?preset=<name>.
func (h *Handler) newForm(c echo.Context) (views.IntegrationForm, error) {
	name := c.QueryParam("preset")
	if name == "" {
		return formFromIntegration(oauthflow.DefaultIntegration()), nil
	}
	p := h.presets.Get(name)
	if p == nil {
		return views.IntegrationForm{}, echo.NewHTTPError(http.StatusNotFound, "There is no preset called "+truncate(name, 64)+": choose one from the list.")
	}
	in := p.Template()
	oauthflow.Normalize(&in)
	f := formFromIntegration(in)
	f.Preset = p.Name
	return f, nil
}

// fillAssist sets the builder's preset list, the chosen preset's notes and
// the lint warnings (unless discovery already set them, with its hints).
func (h *Handler) fillAssist(c echo.Context, f *views.IntegrationForm) {
	a := &f.Assist
	if !f.Editing {
		a.PresetQuery = c.QueryParam("q")
		q := strings.ToLower(strings.TrimSpace(a.PresetQuery))
		for _, p := range h.presets.All() {
			if q == "" || strings.Contains(strings.ToLower(p.Title), q) || strings.Contains(p.Name, q) {
				a.Presets = append(a.Presets, views.PresetChoice{Name: p.Name, Title: p.Title, Initials: p.Initials(),
					GrantTypes: p.GrantTypes, Parameters: paramNames(p.Integration.Parameters)})
			}
		}
	}
	a.Preset = presetInfo(h.presets.Get(f.Preset))
	if a.Lint == nil {
		in, _ := integrationFromForm(*f, "")
		oauthflow.Normalize(&in)
		a.Lint = lintItems(h.lint(in))
	}
}

func paramNames(ps []oauthflow.Parameter) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// presetInfo is a preset's notes for a page (nil for no preset).
func presetInfo(p *presets.Preset) *views.PresetInfo {
	if p == nil {
		return nil
	}
	info := &views.PresetInfo{Name: p.Name, Title: p.Title, Notes: p.Notes, Unverified: p.Unverified}
	for _, prm := range p.Integration.Parameters {
		info.Parameters = append(info.Parameters, prm.Name+" ("+prm.Description+")")
	}
	return info
}

func lintItems(ws []oauthflow.LintWarning) []views.LintItem {
	var code, field, msg []string
	for _, w := range ws {
		code, field, msg = append(code, w.Code), append(field, w.Field), append(msg, w.Message)
	}
	return views.PlaceLint(code, field, msg)
}

// discoverIntoForm is "Fill from issuer": the form again, with what the
// provider's discovery document says filled in and listed. Nothing is
// saved; the client secret, if typed, must be typed again (it never goes
// back to the browser).
func (h *Handler) discoverIntoForm(c echo.Context, f views.IntegrationForm, secret string) error {
	d, err := oauthflow.Discover(c.Request().Context(), h.discoveryHTTP, f.Assist.DiscoverIssuer)
	var fe oauthflow.FieldErrors
	switch {
	case errors.As(err, &fe):
		f.Assist.DiscoverError = fe["issuer"]
	case err != nil:
		return err
	default:
		applyDiscovery(&f, d)
		in, _ := integrationFromForm(f, "")
		oauthflow.Normalize(&in)
		f.Assist.Lint = lintItems(oauthflow.Lint(in, d.Hints()))
	}
	if secret != "" {
		f.SecretNote = "Airlock never sends a secret back to the browser: enter it again."
	}
	return h.renderIntegrationForm(c, http.StatusOK, f, nil)
}

// applyDiscovery fills the form from a discovery result and lists each
// change. The issuer is filled only where the provider says it sends iss
// with the authorization response (RFC 9207): Airlock's callback refuses
// answers without iss once an issuer is set, so filling it for a provider
// that does not send iss would break every connect.
func applyDiscovery(f *views.IntegrationForm, d oauthflow.Discovery) {
	a := &f.Assist
	set := func(label string, field *string, v string) {
		if v != "" && *field != v {
			*field = v
			a.Filled = append(a.Filled, label+": "+v)
		}
	}
	set("Authorization URL", &f.AuthorizationURL, d.AuthorizationURL)
	set("Token URL", &f.TokenURL, d.TokenURL)
	set("Revocation URL", &f.RevokeURL, d.RevokeURL)
	set("Client authentication", &f.ClientAuth, d.ClientAuth)
	if iss := d.Hints().Issuer; iss != "" {
		set("Issuer", &f.Issuer, iss)
	}
	if d.PKCE && !f.PKCE {
		f.PKCE = true
		a.Filled = append(a.Filled, "PKCE: on (the provider supports S256)")
	}
	scopes := strings.Fields(f.Scope)
	for _, s := range strings.Fields(d.SuggestedScope) {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	set("Scope", &f.Scope, strings.Join(scopes, " "))
	if d.UserinfoURL != "" {
		a.Filled = append(a.Filled, "Userinfo URL found: "+d.UserinfoURL)
	}
	if len(d.ScopesSupported) > 0 {
		a.Filled = append(a.Filled, "Scopes the provider lists: "+truncate(strings.Join(d.ScopesSupported, " "), 400))
	}
	a.DiscoverWarnings = d.Warnings
}

// apiDiscovery is POST /api/v1/discovery {"issuer": "…"}: what "Fill from
// issuer" would fill, or a 422 on issuer saying why not.
func (h *Handler) apiDiscovery(c echo.Context) error {
	var body struct {
		Issuer string `json:"issuer"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	d, err := oauthflow.Discover(c.Request().Context(), h.discoveryHTTP, body.Issuer)
	var fe oauthflow.FieldErrors
	if errors.As(err, &fe) {
		return &oauthflow.Error{Code: oauthflow.CodeInvalidFields, Message: fe["issuer"], Fields: fe}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// answerProbe is the callback's side of the redirect-URI check: a live
// probe gets this server's signature; any probe ends here, never as a
// failed callback.
func (h *Handler) answerProbe(c echo.Context, value string) error {
	if sig, ok := h.prober.Answer(value); ok {
		c.Response().Header().Set(oauthflow.ProbeHeader, sig)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "Airlock redirect-URI check.")
}

// redirectCheck runs the redirect-URI check against this deployment's own
// callback (nothing in the request chooses the URL).
func (h *Handler) redirectCheck(c echo.Context) oauthflow.ProbeResult {
	return h.prober.Check(c.Request().Context(), h.probeHTTP, h.CallbackURL())
}

// apiRedirectCheck is POST /api/v1/redirect-uri/check.
func (h *Handler) apiRedirectCheck(c echo.Context) error {
	return c.JSON(http.StatusOK, h.redirectCheck(c))
}

// consoleRedirectCheck is the integration page's "Check" button.
func (h *Handler) consoleRedirectCheck(c echo.Context) error {
	r := h.redirectCheck(c)
	v := views.ProbeView{RedirectURI: r.RedirectURI, Result: r.Result, Detail: r.Detail, OK: r.OK}
	if isHTMX(c) {
		return h.render(c, http.StatusOK, views.RedirectCheckResult(v))
	}
	return h.render(c, http.StatusOK, views.RedirectCheckPage(h.userPage(c, "Redirect URI check", "integrations"), v))
}
