package presets

import (
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
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: got %v, want nil", err)
			}
			if len(p.Sources) == 0 {
				t.Errorf("sources: got none, want at least one")
			}
			in := p.Template()
			in.OAuth2.ClientID = "client-id"
			if fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, nil); fe != nil {
				t.Errorf("validate: got %v, want nil", fe)
			}
		})
	}
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
