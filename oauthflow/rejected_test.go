package oauthflow

import (
	"net/http"
	"strings"
	"testing"
)

func TestRejectedResponse(t *testing.T) {
	slack := RejectedRule{Statuses: []int{200}, BodyPath: "ok", Equals: "false"}
	marketo := RejectedRule{Statuses: []int{200}, BodyPath: "errors[0].code", Equals: "602"}
	bearer := RejectedRule{Header: "WWW-Authenticate", Contains: "invalid_token"}
	re := RejectedRule{BodyPath: "error", Matches: "^(token_expired|token_revoked)$"}
	tests := []struct {
		name   string
		rules  []RejectedRule
		status int
		header http.Header
		body   string
		want   bool
	}{
		{"401 without rules", nil, 401, nil, "", true},
		{"200 without rules", nil, 200, nil, `{"ok":false}`, false},
		{"slack expired", []RejectedRule{slack}, 200, nil, `{"ok":false,"error":"token_expired"}`, true},
		{"slack fine", []RejectedRule{slack}, 200, nil, `{"ok":true}`, false},
		{"slack: status not listed", []RejectedRule{slack}, 500, nil, `{"ok":false}`, false},
		{"slack: not json", []RejectedRule{slack}, 200, nil, `ok=false`, false},
		{"slack: string false is equal too", []RejectedRule{slack}, 200, nil, `{"ok":"false"}`, true},
		{"marketo 602 as number", []RejectedRule{marketo}, 200, nil, `{"success":false,"errors":[{"code":602,"message":"Access token expired"}]}`, true},
		{"marketo 602 as string", []RejectedRule{marketo}, 200, nil, `{"errors":[{"code":"602"}]}`, true},
		{"marketo other code", []RejectedRule{marketo}, 200, nil, `{"errors":[{"code":"606"}]}`, false},
		{"marketo no errors", []RejectedRule{marketo}, 200, nil, `{"success":true,"result":[]}`, false},
		{"header contains, any status", []RejectedRule{bearer}, 400, http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, "", true},
		{"header contains is case-insensitive", []RejectedRule{bearer}, 200, http.Header{"Www-Authenticate": {`Bearer error="INVALID_TOKEN"`}}, "", true},
		{"header other error", []RejectedRule{bearer}, 400, http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope"`}}, "", false},
		{"header absent", []RejectedRule{bearer}, 400, http.Header{}, "", false},
		{"matches", []RejectedRule{re}, 200, nil, `{"error":"token_revoked"}`, true},
		{"matches not", []RejectedRule{re}, 200, nil, `{"error":"token_revoked_not"}`, false},
		{"second rule matches", []RejectedRule{slack, marketo}, 200, nil, `{"errors":[{"code":602}]}`, true},
		{"statuses alone", []RejectedRule{{Statuses: []int{419}}}, 419, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Integration{RejectedResponses: tt.rules}
			if got := in.RejectedResponse(tt.status, tt.header, []byte(tt.body)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidateQuirks(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(in *Integration)
		wantField string // "" means valid
		wantText  string
	}{
		{"all quirks valid", func(in *Integration) {
			in.OAuth2.TokenBody, in.OAuth2.RefreshURL = "json", "https://api.example.com/refresh"
			in.OAuth2.RefreshParams = map[string]string{"audience": "x"}
			in.OAuth2.TokenResponse = TokenResponsePaths{AccessToken: "authed_user.access_token", ExpiresAt: "data[0].exp", ExpiresAtFormat: "rfc3339"}
			in.RejectedResponses = []RejectedRule{{Statuses: []int{200}, BodyPath: "ok", Equals: "false"},
				{Header: "WWW-Authenticate", Contains: "invalid_token"}, {BodyPath: "error", Matches: "^token_"}}
		}, "", ""},
		{"token body", func(in *Integration) { in.OAuth2.TokenBody = "xml" }, "oauth2.token_body", "form"},
		{"json body with GET", func(in *Integration) { in.OAuth2.TokenBody, in.OAuth2.TokenMethod = "json", "GET" }, "oauth2.token_body", "POST"},
		{"refresh url not a url", func(in *Integration) { in.OAuth2.RefreshURL = "refresh" }, "oauth2.refresh_url", ""},
		{"refresh url undeclared parameter", func(in *Integration) { in.OAuth2.RefreshURL = "https://{nope}.example.com/r" }, "oauth2.refresh_url", ""},
		{"refresh url host parameter unconstrained", func(in *Integration) {
			in.Parameters = []Parameter{{Name: "host"}}
			in.OAuth2.RefreshURL = "https://{host}/refresh"
		}, "oauth2.refresh_url", "any host"},
		{"refresh params protocol name", func(in *Integration) { in.OAuth2.RefreshParams = map[string]string{"refresh_token": "x"} }, "oauth2.refresh_params.refresh_token", ""},
		{"bad path", func(in *Integration) { in.OAuth2.TokenResponse.AccessToken = "a..b" }, "oauth2.token_response.access_token", "JSON path"},
		{"bad format", func(in *Integration) {
			in.OAuth2.TokenResponse = TokenResponsePaths{ExpiresAt: "exp", ExpiresAtFormat: "iso"}
		}, "oauth2.token_response.expires_at_format", "rfc3339"},
		{"format without path", func(in *Integration) { in.OAuth2.TokenResponse.ExpiresAtFormat = "unix" }, "oauth2.token_response.expires_at_format", "expires_at"},
		{"rule bad regexp", func(in *Integration) {
			in.RejectedResponses = []RejectedRule{{BodyPath: "ok", Equals: "false"}, {BodyPath: "ok", Matches: "(["}}
		}, "rejected_responses[1].matches", "regular expression"},
		{"rule body path without comparison", func(in *Integration) { in.RejectedResponses = []RejectedRule{{BodyPath: "ok"}} }, "rejected_responses[0].equals", "equals"},
		{"rule both equals and matches", func(in *Integration) {
			in.RejectedResponses = []RejectedRule{{BodyPath: "ok", Equals: "false", Matches: "f"}}
		}, "rejected_responses[0].equals", "exactly one"},
		{"rule bad body path", func(in *Integration) { in.RejectedResponses = []RejectedRule{{BodyPath: "errors[x]", Equals: "1"}} }, "rejected_responses[0].body_path", "JSON path"},
		{"rule header without comparison", func(in *Integration) { in.RejectedResponses = []RejectedRule{{Header: "WWW-Authenticate"}} }, "rejected_responses[0].contains", ""},
		{"rule bad header name", func(in *Integration) {
			in.RejectedResponses = []RejectedRule{{Header: "WWW Authenticate", Contains: "x"}}
		}, "rejected_responses[0].header", "header name"},
		{"rule header and body", func(in *Integration) {
			in.RejectedResponses = []RejectedRule{{Header: "X", BodyPath: "ok", Equals: "1"}}
		}, "rejected_responses[0].header", "not both"},
		{"rule comparison without subject", func(in *Integration) { in.RejectedResponses = []RejectedRule{{Equals: "false"}} }, "rejected_responses[0].body_path", ""},
		{"empty rule", func(in *Integration) { in.RejectedResponses = []RejectedRule{{}} }, "rejected_responses[0].statuses", "every answer"},
		{"rule bad status", func(in *Integration) { in.RejectedResponses = []RejectedRule{{Statuses: []int{99}}} }, "rejected_responses[0].statuses[0]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntegration()
			tt.edit(&in)
			Normalize(&in)
			fe := Validate(in, ValidateOptions{})
			if tt.wantField == "" {
				if fe != nil {
					t.Fatalf("got %v, want valid", fe)
				}
				return
			}
			if msg := fe[tt.wantField]; msg == "" || !strings.Contains(msg, tt.wantText) {
				t.Errorf("got %v, want %s to say %q", fe, tt.wantField, tt.wantText)
			}
		})
	}
}
