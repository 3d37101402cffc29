package handlers

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"airlock/static"
)

// static serves embedded assets. The URL carries the assets' version hash, so a
// matching version may be cached for a year; an old version is redirected to
// the current one rather than served stale or refused.
func (h *Handler) static(c echo.Context) error {
	name := path.Clean(c.Param("*"))
	if c.Param("version") != h.assets {
		return c.Redirect(http.StatusFound, "/static/"+h.assets+"/"+name)
	}
	b, err := fs.ReadFile(static.FS(), name)
	if err != nil {
		return echo.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Blob(http.StatusOK, ct, b)
}
