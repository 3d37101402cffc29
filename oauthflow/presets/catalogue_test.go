package presets

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"airlock/oauthflow"
)

// TestEveryPresetDecodesIntoAValidIntegration loads each embedded file
// strictly into Airlock's own integration type and validates the template
// (with a client id, which the admin adds) by the rules a saved integration
// must pass.
func TestEveryPresetDecodesIntoAValidIntegration(t *testing.T) {
	names, err := files.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		t.Run(strings.TrimSuffix(f.Name(), ".json"), func(t *testing.T) {
			b, err := files.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPresetFile(b); err != nil {
				t.Errorf("got %v, want nil", err)
			}
		})
	}
}

// checkPresetFile is the check above for one file: it decodes, has
// sources, and its template passes oauthflow.CheckIntegration, the
// validation of every saved integration.
func checkPresetFile(b []byte) error {
	p, err := Decode(b)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(p.Sources) == 0 {
		return errors.New("sources: none, want at least one")
	}
	in := p.Template()
	in.OAuth2.ClientID = "client-id"
	if fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, nil); fe != nil {
		return fmt.Errorf("validate: %w", fe)
	}
	return nil
}

// TestPresetCheckCatchesBrokenPresets feeds checkPresetFile real presets
// with one fault each: the check above can fail.
func TestPresetCheckCatchesBrokenPresets(t *testing.T) {
	tests := []struct {
		name, preset string
		mutate       func(p map[string]any)
		want         string
	}{
		{"no scope, scope_optional dropped", "notion", func(p map[string]any) { delete(oauth2Of(p), "scope_optional") },
			"oauth2.scope: Scope is required"},
		{"a capture used but not declared", "salesforce", func(p map[string]any) { delete(oauth2Of(p), "capture") },
			"Parameter instance_url is not declared"},
		{"health check outside the API base URLs", "docusign", func(p map[string]any) {
			p["integration"].(map[string]any)["api_base_urls"] = []any{"{base_uri}/restapi/v2.1/accounts/{account_id}/"}
		}, "health_check.url: The health check URL must lie under one of the API base URLs"},
		{"no sources", "zoom", func(p map[string]any) { p["sources"] = []any{} }, "sources: none"},
		{"a field Airlock does not know", "box", func(p map[string]any) { oauth2Of(p)["scopes_optional"] = true },
			`unknown field "scopes_optional"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := files.ReadFile(tt.preset + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPresetFile(b); err != nil {
				t.Fatalf("unbroken %s: got %v, want nil", tt.preset, err)
			}
			var p map[string]any
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			tt.mutate(p)
			broken, _ := json.Marshal(p)
			if err := checkPresetFile(broken); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func oauth2Of(p map[string]any) map[string]any {
	return p["integration"].(map[string]any)["oauth2"].(map[string]any)
}

func TestLoadCatalogue(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Logf("presets left out: %v", err) // TestEveryPresetDecodesIntoAValidIntegration fails for each
	}
	for _, name := range required {
		if err == nil && c.Get(name) == nil {
			t.Errorf("Get(%q): got nil, want the preset", name)
		}
	}
	all := c.All()
	for i := 1; i < len(all); i++ {
		if strings.ToLower(all[i-1].Title) > strings.ToLower(all[i].Title) {
			t.Errorf("All: %q before %q, want sorted by title", all[i-1].Title, all[i].Title)
		}
	}
	if c.Get("nope") != nil {
		t.Errorf("Get(nope): got a preset, want nil")
	}
}

func TestTemplateIsACopy(t *testing.T) {
	c, _ := Load()
	for _, p := range c.All() {
		a := p.Template()
		a.Name = "changed"
		if a.OAuth2.AuthorizationParams != nil {
			a.OAuth2.AuthorizationParams["x"] = "y"
		}
		b := p.Template()
		if b.Name == "changed" || b.OAuth2.AuthorizationParams["x"] != "" {
			t.Errorf("%s: a change to one template shows in the next", p.Name)
		}
	}
}

func TestInitialsAndHints(t *testing.T) {
	tests := []struct {
		title, want string
	}{
		{"Google", "Go"}, {"Microsoft Entra ID", "ME"}, {"Atlassian (Jira/Confluence)", "AJ"}, {"X", "X"},
	}
	for _, tt := range tests {
		if got := (&Preset{Title: tt.title}).Initials(); got != tt.want {
			t.Errorf("Initials(%q): got %q, want %q", tt.title, got, tt.want)
		}
	}
	p := &Preset{Integration: oauthflow.Integration{OAuth2: oauthflow.OAuth2{PKCE: true, Scope: "openid offline_access",
		AuthorizationParams: map[string]string{"access_type": "offline", "prompt": "consent"}}}}
	h := p.Hints()
	if h.OfflineAccess == nil || h.OfflineAccess.Scope != "offline_access" || h.OfflineAccess.Params["access_type"] != "offline" || len(h.OfflineAccess.Params) != 1 {
		t.Errorf("Hints().OfflineAccess: got %+v, want scope offline_access and access_type=offline", h.OfflineAccess)
	}
	if !h.PKCESupported {
		t.Errorf("Hints().PKCESupported: got false, want true")
	}
}

// sendsIss are the presets whose provider sends iss with the authorization
// response (RFC 9207). Airlock's callback refuses an answer without iss once
// an integration's issuer is set, so a preset may set oauth2.issuer only for
// these: add a provider here only with a source saying it sends iss.
var sendsIss = map[string]bool{"keycloak": true}

func TestPresetIssuerOnlyWhereIssIsSent(t *testing.T) {
	eachPreset(t, func(t *testing.T, l loaded) {
		if l.p.Integration.OAuth2.Issuer != "" && !sendsIss[l.p.Name] {
			t.Errorf("oauth2.issuer is set, but %s is not known to send iss on the callback: every connect would be refused; leave it out", l.p.Name)
		}
	})
}
