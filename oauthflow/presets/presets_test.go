package presets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

// The structs mirror the preset format described in README.md. Decoding
// with DisallowUnknownFields turns a misspelt or invented field (or a
// client_id / client_secret, which have no place in a preset) into a failure.
type preset struct {
	Name         string      `json:"name"`
	Title        string      `json:"title"`
	GrantTypes   []string    `json:"grant_types"`
	Notes        string      `json:"notes"`
	DiscoveryURL string      `json:"discovery_url"`
	Lifetimes    *lifetimes  `json:"lifetimes"`
	Integration  integration `json:"integration"`
	Sources      []source    `json:"sources"`
	Unverified   []string    `json:"unverified"`
}

type lifetimes struct {
	AccessTokenSeconds  *int   `json:"access_token_seconds"`
	RefreshTokenSeconds *int   `json:"refresh_token_seconds"`
	RefreshTokenRotates *bool  `json:"refresh_token_rotates"`
	Notes               string `json:"notes"`
}

type integration struct {
	Key               string             `json:"key"`
	Name              string             `json:"name"`
	Parameters        []parameter        `json:"parameters"`
	OAuth2            oauth2             `json:"oauth2"`
	Token             *tokenPlacement    `json:"token"`
	RequestParameters []requestParameter `json:"request_parameters"`
	APIBaseURLs       []string           `json:"api_base_urls"`
	HealthCheck       *healthCheck       `json:"health_check"`
	RejectedResponses []rejectedResponse `json:"rejected_responses"`
}

type parameter struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	AllowedValues []string `json:"allowed_values"`
}

type oauth2 struct {
	GrantType            string            `json:"grant_type"`
	AuthorizationURL     string            `json:"authorization_url"`
	TokenURL             string            `json:"token_url"`
	TokenMethod          string            `json:"token_method"`
	RevokeURL            string            `json:"revoke_url"`
	Scope                string            `json:"scope"`
	ScopeOptional        bool              `json:"scope_optional"`
	ClientAuth           string            `json:"client_auth"`
	PKCE                 bool              `json:"pkce"`
	AuthorizationParams  map[string]string `json:"authorization_params"`
	TokenParams          map[string]string `json:"token_params"`
	Issuer               string            `json:"issuer"`
	TokenBody            string            `json:"token_body"`
	RefreshURL           string            `json:"refresh_url"`
	RefreshParams        map[string]string `json:"refresh_params"`
	TokenResponse        *tokenResponse    `json:"token_response"`
	Capture              []capture         `json:"capture"`
	UserinfoURL          string            `json:"userinfo_url"`
	Identity             *identity         `json:"identity"`
	RequiredScopes       []string          `json:"required_scopes"`
	RejectedStatuses     []int             `json:"rejected_statuses"`
	RefreshWindowSeconds int               `json:"refresh_window_seconds"`
}

type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	RefreshToken    string `json:"refresh_token"`
	ExpiresIn       string `json:"expires_in"`
	ExpiresAt       string `json:"expires_at"`
	ExpiresAtFormat string `json:"expires_at_format"`
	Scope           string `json:"scope"`
}

type capture struct {
	Name         string   `json:"name"`
	From         string   `json:"from"`
	Path         string   `json:"path"`
	AllowedHosts []string `json:"allowed_hosts"`
}

type identity struct {
	From string `json:"from"`
	Path string `json:"path"`
}

type tokenPlacement struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	In       string `json:"in"`
}

type requestParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	In    string `json:"in"`
}

type healthCheck struct {
	Method       string `json:"method"`
	URL          string `json:"url"`
	ExpectStatus int    `json:"expect_status"`
}

type rejectedResponse struct {
	Statuses []int  `json:"statuses"`
	BodyPath string `json:"body_path"`
	Equals   string `json:"equals"`
	Matches  string `json:"matches"`
	Header   string `json:"header"`
	Contains string `json:"contains"`
}

type source struct {
	URL      string   `json:"url"`
	Verified string   `json:"verified"`
	Facts    []string `json:"facts"`
}

// required are the providers issue 16 names; the catalogue may hold more.
var required = []string{
	"google", "microsoft", "salesforce", "slack", "hubspot", "github", "gitlab", "atlassian", "zendesk",
	"zoho", "quickbooks", "xero", "shopify", "notion", "dropbox", "box", "docusign", "pipedrive", "zoom",
	"intercom", "linkedin", "x", "figma", "mailchimp", "asana", "linear", "okta", "auth0", "keycloak", "spotify",
}

// loaded is one preset file: its typed form and its generic JSON tree.
type loaded struct {
	file string
	p    preset
	tree map[string]any
}

var nameRE = regexp.MustCompile(`^[a-z0-9]+$`)

func loadAll(t *testing.T) []loaded {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []loaded
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l := loaded{file: f}
		if err := decodeStrict(data, &l.p); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := json.Unmarshal(data, &l.tree); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out = append(out, l)
	}
	return out
}

// decodeStrict refuses unknown fields and anything after the one value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the preset object")
	}
	return nil
}

// eachPreset runs fn as a subtest for every preset file.
func eachPreset(t *testing.T, fn func(t *testing.T, l loaded)) {
	t.Helper()
	for _, l := range loadAll(t) {
		t.Run(l.file, func(t *testing.T) { fn(t, l) })
	}
}

func TestPresetsParseStrictly(t *testing.T) {
	names := map[string]bool{}
	eachPreset(t, func(t *testing.T, l loaded) {
		p := l.p
		names[p.Name] = true
		if base := strings.TrimSuffix(l.file, ".json"); p.Name != base || !nameRE.MatchString(base) {
			t.Errorf("name %q, file %q: want the file name, lowercase letters and digits", p.Name, l.file)
		}
		if p.Integration.Key != p.Name {
			t.Errorf("integration.key = %q, want %q", p.Integration.Key, p.Name)
		}
		if p.Title == "" || p.Integration.Name == "" || p.Notes == "" {
			t.Errorf("title, integration.name and notes must be set")
		}
		if len(p.Sources) == 0 {
			t.Errorf("no sources")
		}
		for i, s := range p.Sources {
			if !strings.HasPrefix(s.URL, "https://") {
				t.Errorf("sources[%d].url %q: want an https URL", i, s.URL)
			}
			if _, err := time.Parse(time.DateOnly, s.Verified); err != nil {
				t.Errorf("sources[%d].verified %q: want YYYY-MM-DD", i, s.Verified)
			}
			if len(s.Facts) == 0 {
				t.Errorf("sources[%d] (%s) names no facts", i, s.URL)
			}
		}
	})
	for _, n := range required {
		if !names[n] {
			t.Errorf("preset %q is missing", n)
		}
	}
}

var pathRE = regexp.MustCompile(`^(integration|lifetimes|discovery_url|grant_types)([.][a-zA-Z0-9_-]+|\[[0-9]+\])*$`)

func TestPresetFactsExist(t *testing.T) {
	eachPreset(t, func(t *testing.T, l loaded) {
		paths := map[string]bool{}
		walk("", l.tree, func(p string, _ any, _ bool) { paths[p] = true })
		for i, s := range l.p.Sources {
			for _, f := range s.Facts {
				if !paths[f] {
					t.Errorf("sources[%d] (%s): fact %q is not a path in the file", i, s.URL, f)
				}
			}
		}
		for _, u := range l.p.Unverified {
			path, reason, ok := strings.Cut(u, ": ")
			if !ok || strings.TrimSpace(reason) == "" || !pathRE.MatchString(path) {
				t.Errorf("unverified %q: want \"<path>: <reason>\"", u)
			}
		}
	})
}

// TestPresetFieldsCovered: every value a preset states is either backed by a
// source or written down as unverified (with the reason), and the integration
// holds no empty values (they are omitted instead).
func TestPresetFieldsCovered(t *testing.T) {
	eachPreset(t, func(t *testing.T, l loaded) {
		var cover []string
		for _, s := range l.p.Sources {
			cover = append(cover, s.Facts...)
		}
		for _, u := range l.p.Unverified {
			path, _, _ := strings.Cut(u, ": ")
			cover = append(cover, path)
		}
		walk("", l.tree, func(p string, v any, leaf bool) {
			inIntegration := strings.HasPrefix(p, "integration.")
			if inIntegration && empty(v) {
				t.Errorf("%s is empty: omit it", p)
			}
			if !leaf || !needsSource(p) || inIntegration && empty(v) {
				return
			}
			if !slices.ContainsFunc(cover, func(c string) bool { return covers(c, p) }) {
				t.Errorf("%s = %v: no source lists it (or a parent) in facts, and it is not in unverified", p, v)
			}
		})
	})
}

// needsSource: the facts are the integration (bar its key and display name),
// the lifetimes (bar their prose), the discovery URL and the grant types.
func needsSource(p string) bool {
	switch {
	case p == "integration.key" || p == "integration.name" || p == "lifetimes.notes":
		return false
	case strings.HasPrefix(p, "integration.") || strings.HasPrefix(p, "lifetimes."):
		return true
	}
	return p == "discovery_url" || strings.HasPrefix(p, "grant_types")
}

func covers(c, p string) bool {
	return c == p || strings.HasPrefix(p, c+".") || strings.HasPrefix(p, c+"[")
}

// walk calls fn for every node below v with its JSON path (a.b, a[0].b).
func walk(prefix string, v any, fn func(path string, v any, leaf bool)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			fn(p, c, isLeaf(c))
			walk(p, c, fn)
		}
	case []any:
		for i, c := range x {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			fn(p, c, isLeaf(c))
			walk(p, c, fn)
		}
	}
}

func isLeaf(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func TestPresetValues(t *testing.T) {
	eachPreset(t, func(t *testing.T, l loaded) {
		p, o := l.p, l.p.Integration.OAuth2
		check := func(field, v string, allowed ...string) {
			if v != "" && !slices.Contains(allowed, v) {
				t.Errorf("%s = %q, want one of %v", field, v, allowed)
			}
		}
		if len(p.GrantTypes) == 0 || !slices.Contains(p.GrantTypes, o.GrantType) {
			t.Errorf("grant_types %v must include integration.oauth2.grant_type %q", p.GrantTypes, o.GrantType)
		}
		for _, g := range p.GrantTypes {
			check("grant_types", g, "authorization_code", "client_credentials")
		}
		check("oauth2.client_auth", o.ClientAuth, "basic", "body")
		check("oauth2.token_body", o.TokenBody, "form", "json")
		check("oauth2.token_method", o.TokenMethod, "GET", "POST")
		if tr := o.TokenResponse; tr != nil {
			check("oauth2.token_response.expires_at_format", tr.ExpiresAtFormat, "unix", "unix_ms", "rfc3339")
		}
		for _, c := range o.Capture {
			check("oauth2.capture.from", c.From, "token_response", "callback", "userinfo")
		}
		if id := o.Identity; id != nil {
			check("oauth2.identity.from", id.From, "token_response", "id_token", "userinfo", "callback")
		}
		if tp := p.Integration.Token; tp != nil {
			check("token.in", tp.In, "header", "query")
		}
		for _, rp := range p.Integration.RequestParameters {
			check("request_parameters.in", rp.In, "header", "query")
		}
		for i, r := range p.Integration.RejectedResponses {
			body := r.BodyPath != "" && (r.Equals != "") != (r.Matches != "")
			header := r.Header != "" && r.Contains != ""
			if body == header {
				t.Errorf("rejected_responses[%d]: want body_path with equals or matches, or header with contains", i)
			}
		}
		for _, u := range p.Integration.APIBaseURLs {
			if u == "*" || !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "{") {
				t.Errorf("api_base_urls entry %q: want an https origin and path prefix", u)
			}
		}
	})
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// TestPresetPlaceholders: every {name} is a parameter or a capture, and one
// that lands in a host obeys the host rule of issue 11 (a fixed registrable
// domain after it, or allowed_values) or, for a capture, has allowed_hosts.
func TestPresetPlaceholders(t *testing.T) {
	eachPreset(t, func(t *testing.T, l loaded) {
		in := l.p.Integration
		params, captures := map[string]parameter{}, map[string]capture{}
		for _, p := range in.Parameters {
			params[p.Name] = p
		}
		for _, c := range in.OAuth2.Capture {
			captures[c.Name] = c
		}
		walk("integration", l.tree["integration"], func(path string, v any, _ bool) {
			s, ok := v.(string)
			if !ok || path == "integration.token.template" {
				return
			}
			for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
				_, isParam := params[m[1]]
				_, isCapture := captures[m[1]]
				if !isParam && !isCapture {
					t.Errorf("%s: {%s} is neither a parameter nor a capture", path, m[1])
				}
			}
			if isURLField(path) {
				checkHost(t, path, s, params, captures)
			}
		})
	})
}

func isURLField(path string) bool {
	return strings.HasSuffix(path, "_url") || strings.HasSuffix(path, ".url") ||
		strings.HasSuffix(path, ".issuer") || strings.Contains(path, ".api_base_urls[")
}

func checkHost(t *testing.T, path, s string, params map[string]parameter, captures map[string]capture) {
	t.Helper()
	if m := placeholderRE.FindStringSubmatchIndex(s); m != nil && m[0] == 0 {
		if c, ok := captures[s[m[2]:m[3]]]; !ok || len(c.AllowedHosts) == 0 {
			t.Errorf("%s: {%s} stands for an origin: it must be a capture with allowed_hosts", path, s[m[2]:m[3]])
		}
		return
	}
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		return
	}
	host, _, _ := strings.Cut(rest, "/")
	ms := placeholderRE.FindAllStringSubmatchIndex(host, -1)
	for _, m := range ms {
		name := host[m[2]:m[3]]
		if c, ok := captures[name]; ok {
			if len(c.AllowedHosts) == 0 {
				t.Errorf("%s: capture {%s} lands in a host without allowed_hosts", path, name)
			}
			continue
		}
		if len(params[name].AllowedValues) > 0 {
			continue
		}
		suffix := strings.TrimPrefix(host[ms[len(ms)-1][1]:], ".")
		if _, err := publicsuffix.EffectiveTLDPlusOne(suffix); err != nil || suffix == "" {
			t.Errorf("%s: {%s} lands in the host %q with no fixed registrable domain after it: give it allowed_values", path, name, host)
		}
	}
}
