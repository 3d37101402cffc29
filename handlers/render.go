package handlers

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"airlock/views"
)

// render writes a templ component with the given status. The component is
// rendered into a buffer first, so a template error becomes a clean 500 page
// rather than half a page.
func (h *Handler) render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	if hd.Get("Cache-Control") == "" {
		hd.Set("Cache-Control", "no-store")
	}
	return c.Blob(status, echo.MIMETextHTMLCharsetUTF8, buf.Bytes())
}

// isHTMX reports whether the request comes from htmx and wants a partial.
// Boosted requests and history restores want the full page.
func isHTMX(c echo.Context) bool {
	r := c.Request()
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") == "" &&
		r.Header.Get("HX-History-Restore-Request") == ""
}

// basePage fills the layout's view-model for the request.
func (h *Handler) basePage(c echo.Context, title, nav string) views.Page {
	p := views.Page{
		Title:  title,
		Org:    h.cfg.Org,
		Realm:  h.cfg.Realm,
		Nav:    nav,
		Assets: h.assets,
	}
	p.CSRF = csrfToken(c)
	return p
}

// csrfToken is the CSRF token of the request's browser (its session's, or
// one signed for its cookie), for partials too (which must not use page():
// it would use up flash messages the partial cannot show). Routes without a
// session (static, unknown paths) have none.
func csrfToken(c echo.Context) string {
	s := session(c)
	if s == nil {
		return ""
	}
	if s.ID == "" {
		if mint, ok := c.Get(ctxFormToken).(func() string); ok {
			return mint()
		}
		return ""
	}
	t, _ := s.Values[csrfKey].(string)
	return t
}

// page is basePage plus the flashes waiting for this browser.
func (h *Handler) page(c echo.Context, title, nav string) views.Page {
	p := h.basePage(c, title, nav)
	p.Flashes = h.takeFlashes(c)
	return p
}

// seeOther redirects after a successful POST (or tells htmx to).
func seeOther(c echo.Context, to string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, to)
}
