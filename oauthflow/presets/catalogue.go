// Package presets is the catalogue of provider presets embedded in the
// binary: one JSON file per provider (see README.md for the format), each a
// complete integration template without secrets, with its sources, setup
// notes and what could not be verified.
package presets

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"airlock/oauthflow"
)

//go:embed *.json
var files embed.FS

// Preset is one provider's template. Integration is decoded strictly into
// Airlock's integration type, so a field the running Airlock does not know
// fails the load instead of being silently dropped.
type Preset struct {
	Name         string     `json:"name"`
	Title        string     `json:"title"`
	GrantTypes   []string   `json:"grant_types"`
	Notes        string     `json:"notes"`
	DiscoveryURL string     `json:"discovery_url,omitempty"`
	Lifetimes    *Lifetimes `json:"lifetimes,omitempty"`
	// Integration is the template; use Template for a copy to change.
	Integration oauthflow.Integration `json:"integration"`
	Sources     []Source              `json:"sources"`
	Unverified  []string              `json:"unverified"`

	raw json.RawMessage // the integration as written, for fresh copies
}

// Lifetimes are the provider's known token lifetimes; nil means unknown.
type Lifetimes struct {
	AccessTokenSeconds  *int   `json:"access_token_seconds,omitempty"`
	RefreshTokenSeconds *int   `json:"refresh_token_seconds,omitempty"`
	RefreshTokenRotates *bool  `json:"refresh_token_rotates,omitempty"`
	Notes               string `json:"notes,omitempty"`
}

// Source is a page a preset's facts were checked against.
type Source struct {
	URL      string   `json:"url"`
	Verified string   `json:"verified"`
	Facts    []string `json:"facts"`
}

// Catalogue is the loaded presets, by name. It is read-only after Load and
// safe for concurrent use.
type Catalogue struct {
	byName map[string]*Preset
}

// Load decodes every embedded preset. A preset that does not decode (or
// whose name does not match its file) is left out and named in the error;
// the catalogue holds the rest, so one broken file does not hide them all.
func Load() (*Catalogue, error) {
	c := &Catalogue{byName: map[string]*Preset{}}
	names, err := files.ReadDir(".")
	if err != nil {
		return c, fmt.Errorf("presets: %w", err)
	}
	var errs []error
	for _, f := range names {
		b, err := files.ReadFile(f.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("presets: %s: %w", f.Name(), err))
			continue
		}
		p, err := Decode(b)
		if err == nil && p.Name+".json" != path.Base(f.Name()) {
			err = fmt.Errorf("name %q does not match the file name", p.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("presets: %s: %w", f.Name(), err))
			continue
		}
		c.byName[p.Name] = p
	}
	return c, errors.Join(errs...)
}

// Decode parses one preset file strictly: unknown fields anywhere (in the
// integration too) are an error naming the field.
func Decode(b []byte) (*Preset, error) {
	var p Preset
	if err := strict(b, &p); err != nil {
		return nil, err
	}
	var whole struct {
		Integration json.RawMessage `json:"integration"`
	}
	if err := json.Unmarshal(b, &whole); err != nil {
		return nil, err
	}
	p.raw = whole.Integration
	if p.Name == "" || p.Name != p.Integration.Key {
		return nil, fmt.Errorf("name %q must be set and equal integration.key %q", p.Name, p.Integration.Key)
	}
	return &p, nil
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value")
	}
	return nil
}

// Get returns the named preset, or nil.
func (c *Catalogue) Get(name string) *Preset {
	if c == nil {
		return nil
	}
	return c.byName[name]
}

// All returns the presets sorted by title.
func (c *Catalogue) All() []*Preset {
	if c == nil {
		return nil
	}
	out := slices.Collect(maps.Values(c.byName))
	slices.SortFunc(out, func(a, b *Preset) int { return strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title)) })
	return out
}

// Template is a fresh copy of the preset's integration, safe to change
// (maps and slices are not shared with the catalogue).
func (p *Preset) Template() oauthflow.Integration {
	var in oauthflow.Integration
	if err := json.Unmarshal(p.raw, &in); err != nil {
		// raw decoded strictly into the same type in Decode.
		panic("presets: template of " + p.Name + ": " + err.Error())
	}
	return in
}

// Initials are the two letters drawn as the preset's logo (no remote images).
func (p *Preset) Initials() string {
	words := strings.Fields(strings.NewReplacer("(", " ", ")", " ", "/", " ", "-", " ").Replace(p.Title))
	var r []rune
	for _, w := range words {
		if len(r) == 2 {
			break
		}
		r = append(r, []rune(strings.ToUpper(w))[0])
	}
	if len(r) == 1 && len([]rune(p.Title)) > 1 {
		r = append(r, []rune(strings.ToLower(p.Title))[1])
	}
	return string(r)
}

// Hints are the lint hints the preset gives for an integration built from
// it: how the provider is asked for a refresh token (when the template asks
// in a known way), PKCE, the issuer (kept in a preset only where the
// provider sends iss) and the revocation endpoint.
func (p *Preset) Hints() oauthflow.LintHints {
	o := p.Integration.OAuth2
	h := oauthflow.LintHints{PKCESupported: o.PKCE, Issuer: o.Issuer, RevokeURL: o.RevokeURL}
	for _, s := range strings.Fields(o.Scope) {
		if s == "offline_access" || s == "refresh_token" || s == "offline.access" || s == "offline" {
			h.OfflineAccess = &oauthflow.OfflineRequest{Scope: s}
		}
	}
	for k, v := range o.AuthorizationParams {
		if offlineParams[k] == v {
			if h.OfflineAccess == nil {
				h.OfflineAccess = &oauthflow.OfflineRequest{}
			}
			if h.OfflineAccess.Params == nil {
				h.OfflineAccess.Params = map[string]string{}
			}
			h.OfflineAccess.Params[k] = v
		}
	}
	return h
}

// offlineParams are the authorization parameters providers use to issue a
// refresh token (Google, Dropbox, Reddit-style duration).
var offlineParams = map[string]string{
	"access_type":       "offline",
	"token_access_type": "offline",
	"duration":          "permanent",
}
