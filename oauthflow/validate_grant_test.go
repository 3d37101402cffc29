package oauthflow

import "testing"

// TestNormalizeTurnsPKCEOffForClientCredentials: PKCE protects an
// authorization code, which the client-credentials grant never has.
func TestNormalizeTurnsPKCEOffForClientCredentials(t *testing.T) {
	for grant, want := range map[string]bool{GrantClientCredentials: false, GrantAuthorizationCode: true} {
		in := DefaultIntegration()
		in.OAuth2.GrantType = grant
		Normalize(&in)
		if in.OAuth2.PKCE != want {
			t.Errorf("%s: PKCE %v, want %v", grant, in.OAuth2.PKCE, want)
		}
	}
}
