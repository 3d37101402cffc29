package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/oauthflow/presets"
)

// initPresets loads the embedded catalogue and sets up discovery and the
// redirect-URI check. A preset that does not load is logged and left out;
// the rest stay usable.
func (h *Handler) initPresets(d Deps) {
	cat, err := presets.Load()
	if err != nil && h.log != nil {
		h.log.Warn("some presets were left out", "err", err)
	}
	h.presets = cat
	h.discoveryHTTP = d.APIClient
	if h.discoveryHTTP == nil {
		h.discoveryHTTP = oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{}}, oauthflow.SameOriginRedirects)
	}
	h.prober = oauthflow.NewProber()
	h.probeHTTP = d.ProbeClient
	if h.probeHTTP == nil {
		h.probeHTTP = &http.Client{Timeout: 10 * time.Second}
	}
}

// presetItem is one entry of GET /api/v1/presets.
type presetItem struct {
	Name       string                `json:"name"`
	Title      string                `json:"title"`
	GrantTypes []string              `json:"grant_types"`
	Parameters []oauthflow.Parameter `json:"parameters"`
}

// presetTemplate is GET /api/v1/presets/{name}: the preset with its
// integration template (no client id, no secret).
type presetTemplate struct {
	Name         string                `json:"name"`
	Title        string                `json:"title"`
	GrantTypes   []string              `json:"grant_types"`
	Notes        string                `json:"notes"`
	DiscoveryURL string                `json:"discovery_url,omitempty"`
	Lifetimes    *presets.Lifetimes    `json:"lifetimes,omitempty"`
	Integration  oauthflow.Integration `json:"integration"`
	Sources      []presets.Source      `json:"sources"`
	Unverified   []string              `json:"unverified"`
}

// apiPresetList lists the catalogue, sorted by title.
func (h *Handler) apiPresetList(c echo.Context) error {
	items := []presetItem{}
	for _, p := range h.presets.All() {
		params := p.Integration.Parameters
		if params == nil {
			params = []oauthflow.Parameter{}
		}
		items = append(items, presetItem{Name: p.Name, Title: p.Title, GrantTypes: p.GrantTypes, Parameters: params})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// apiPresetGet returns one preset's template with its sources and notes.
func (h *Handler) apiPresetGet(c echo.Context) error {
	p := h.presets.Get(c.Param("name"))
	if p == nil {
		return &oauthflow.Error{Code: oauthflow.CodeNotFound, Message: "No preset is called " + truncate(c.Param("name"), 64) + ": GET /api/v1/presets lists them."}
	}
	return c.JSON(http.StatusOK, presetTemplate{Name: p.Name, Title: p.Title, GrantTypes: p.GrantTypes, Notes: p.Notes,
		DiscoveryURL: p.DiscoveryURL, Lifetimes: p.Lifetimes, Integration: p.Template(), Sources: p.Sources, Unverified: p.Unverified})
}

// unknownPreset is the 422 for a "preset" the catalogue does not hold.
func unknownPreset(name string) error {
	msg := "There is no preset called " + truncate(name, 64) + ": GET /api/v1/presets lists them."
	return &oauthflow.Error{Code: oauthflow.CodeInvalidFields, Message: msg, Fields: oauthflow.FieldErrors{"preset": msg}}
}

// integrationBody is an integration as the API reads and writes it: the
// integration's own fields plus its lint warnings, which are read-only
// (sent back in a PUT, they are ignored).
type integrationBody struct {
	oauthflow.Integration
	Warnings []oauthflow.LintWarning `json:"warnings"`
}

// readIntegrationBody decodes a create or replace body. With "preset", the
// preset's template is the base and the body's fields replace its fields
// (a field the body leaves out keeps the preset's value); an unknown preset
// is a 422 on "preset".
func (h *Handler) readIntegrationBody(c echo.Context) (oauthflow.Integration, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody))
	if err != nil {
		return oauthflow.Integration{}, apiErr("bad_json", jsonError(err).msg, nil)
	}
	var peek struct {
		Preset string `json:"preset"`
	}
	_ = json.Unmarshal(b, &peek) // a broken body is reported by the strict decode below
	body := integrationBody{Integration: newIntegrationBase()}
	if peek.Preset != "" {
		p := h.presets.Get(peek.Preset)
		if p == nil {
			return oauthflow.Integration{}, unknownPreset(peek.Preset)
		}
		body.Integration = p.Template()
	}
	if p := decodeJSONFrom(bytes.NewReader(b), &body); p != nil {
		// encoding/json names a field of the embedded struct by its Go
		// name first; the API's paths are the JSON ones.
		p.path = strings.TrimPrefix(p.path, "Integration.")
		p.msg = strings.TrimPrefix(p.msg, "Integration.")
		return oauthflow.Integration{}, apiErr("bad_json", p.msg, p.fields())
	}
	return body.Integration, nil
}

// checkPreset refuses a "preset" the catalogue does not hold (a PUT may
// keep the one an integration was created from).
func (h *Handler) checkPreset(in oauthflow.Integration) error {
	if in.Preset != "" && h.presets.Get(in.Preset) == nil {
		return unknownPreset(in.Preset)
	}
	return nil
}

// integrationOut is what the API answers for an integration: without its
// secret, with its lint warnings.
func (h *Handler) integrationOut(in oauthflow.Integration) integrationBody {
	return integrationBody{Integration: publicIntegration(in), Warnings: h.lint(in)}
}

// lint is the integration's warnings, with its preset's hints.
func (h *Handler) lint(in oauthflow.Integration) []oauthflow.LintWarning {
	var hints oauthflow.LintHints
	if p := h.presets.Get(in.Preset); p != nil {
		hints = p.Hints()
	}
	return oauthflow.Lint(in, hints)
}
