package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"airlock/oauthflow"
	"airlock/store"
)

// fullIntegration sets every field away from its default: GET token verb,
// body client authentication, PKCE off, extra parameters, a health check…
func fullIntegration(key string) oauthflow.Integration {
	return oauthflow.Integration{
		Key: key, Name: "Acme CRM " + key,
		Parameters: []oauthflow.Parameter{{Name: "serverName", Description: "Tenant subdomain"}, {Name: "region", Description: "Data region, e.g. eu"}},
		OAuth2: oauthflow.OAuth2{
			GrantType:            oauthflow.GrantAuthorizationCode,
			AuthorizationURL:     "https://{serverName}.example.com/oauth2/authorize?region={region}",
			TokenURL:             "https://{serverName}.example.com/oauth2/token",
			TokenMethod:          "GET",
			RevokeURL:            "https://{serverName}.example.com/oauth2/revoke",
			Scope:                "openid profile offline_access",
			ClientID:             "client-{region}",
			ClientAuth:           oauthflow.ClientAuthBody,
			PKCE:                 false,
			AuthorizationParams:  map[string]string{"access_type": "offline", "prompt": "consent"},
			TokenParams:          map[string]string{"audience": "https://{serverName}.example.com/api"},
			Issuer:               "https://{serverName}.example.com",
			RefreshWindowSeconds: 600,
			RejectedStatuses:     []int{401, 403, 419},
		},
		Token: oauthflow.TokenPlacement{Name: "X-Access-Token", Template: "Token {token}", In: oauthflow.InHeader},
		RequestParameters: []oauthflow.RequestParameter{
			{Name: "X-Api-Version", Value: "2024-01-01", In: oauthflow.InHeader},
			{Name: "tenant", Value: "{serverName}", In: oauthflow.InQuery},
		},
		APIBaseURLs: []string{"https://{serverName}.example.com/api/", "https://files.example.com/"},
		HealthCheck: &oauthflow.HealthCheck{Method: "HEAD", URL: "https://{serverName}.example.com/api/me", ExpectStatus: 204},
	}
}

// machineIntegration takes the other side of every choice: client
// credentials, POST, basic authentication, PKCE off (the grant has no code to protect: Normalize turns it off), the token in the query,
// no parameters, no base URLs, no health check.
func machineIntegration(key string) oauthflow.Integration {
	return oauthflow.Integration{
		Key: key, Name: "Billing " + key,
		Parameters: []oauthflow.Parameter{},
		OAuth2: oauthflow.OAuth2{
			GrantType: oauthflow.GrantClientCredentials, TokenURL: "https://auth.example.net/token", TokenMethod: "POST",
			Scope: "", ClientID: "billing", ClientAuth: oauthflow.ClientAuthBasic, PKCE: false,
			AuthorizationParams: map[string]string{}, TokenParams: map[string]string{},
			RefreshWindowSeconds: 1800, RejectedStatuses: []int{401, 403},
		},
		Token:             oauthflow.TokenPlacement{Name: "access_token", Template: "{token}", In: oauthflow.InQuery},
		RequestParameters: []oauthflow.RequestParameter{},
		APIBaseURLs:       []string{},
	}
}

// integrationJSON is the API's POST body for in, with the secret.
func integrationJSON(t *testing.T, in oauthflow.Integration, secret string) string {
	t.Helper()
	in.OAuth2.ClientSecret = secret
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// integrationForm is the builder form a browser would post for in. It is
// written out by hand: it is the specification of the form's field names.
func integrationForm(in oauthflow.Integration, secret string) url.Values {
	o := in.OAuth2
	f := url.Values{
		"key": {in.Key}, "name": {in.Name},
		"oauth2.grant_type": {o.GrantType}, "oauth2.authorization_url": {o.AuthorizationURL}, "oauth2.token_url": {o.TokenURL},
		"oauth2.token_method": {o.TokenMethod}, "oauth2.revoke_url": {o.RevokeURL}, "oauth2.scope": {o.Scope},
		"oauth2.client_id": {o.ClientID}, "oauth2.client_secret": {secret}, "oauth2.client_auth": {o.ClientAuth},
		"oauth2.pkce": {"false"}, "oauth2.issuer": {o.Issuer},
		"oauth2.refresh_window_seconds": {strconv.Itoa(o.RefreshWindowSeconds)},
		"token.name":                    {in.Token.Name}, "token.template": {in.Token.Template}, "token.in": {in.Token.In},
		"health_check.method": {"GET"}, "health_check.url": {""}, "health_check.expect_status": {""},
	}
	if o.PKCE {
		f.Add("oauth2.pkce", "true")
	}
	f.Set("oauth2.authorization_params", mapLines(o.AuthorizationParams))
	f.Set("oauth2.token_params", mapLines(o.TokenParams))
	var st []string
	for _, s := range o.RejectedStatuses {
		st = append(st, strconv.Itoa(s))
	}
	f.Set("oauth2.rejected_statuses", strings.Join(st, ", "))
	for i, p := range in.Parameters {
		f.Set(fmt.Sprintf("parameters[%d].name", i), p.Name)
		f.Set(fmt.Sprintf("parameters[%d].description", i), p.Description)
	}
	for i, r := range in.RequestParameters {
		f.Set(fmt.Sprintf("request_parameters[%d].name", i), r.Name)
		f.Set(fmt.Sprintf("request_parameters[%d].value", i), r.Value)
		f.Set(fmt.Sprintf("request_parameters[%d].in", i), r.In)
	}
	for i, u := range in.APIBaseURLs {
		f.Set(fmt.Sprintf("api_base_urls[%d]", i), u)
	}
	if hc := in.HealthCheck; hc != nil {
		f.Set("health_check.method", hc.Method)
		f.Set("health_check.url", hc.URL)
		f.Set("health_check.expect_status", strconv.Itoa(hc.ExpectStatus))
	}
	return f
}

func mapLines(m map[string]string) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, k+"="+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\r\n")
}

// sameIntegration compares what a client can see of two integrations.
func sameIntegration(t *testing.T, what string, got, want oauthflow.Integration) {
	t.Helper()
	clean := func(in oauthflow.Integration) oauthflow.Integration {
		in.ID, in.CreatedAt, in.UpdatedAt = 0, time.Time{}, time.Time{}
		in.OAuth2.ClientSecret, in.OAuth2.ClientSecretLast4 = "", ""
		in.AuthType = in.Type() // "" is oauth2 (issue 17)
		return in
	}
	g, w := clean(got), clean(want)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", " ")
		wb, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, gb, wb)
	}
}

// createIntegration stores in with a secret, directly.
func (ts *testServer) createIntegration(in oauthflow.Integration, secret string) oauthflow.Integration {
	ts.t.Helper()
	in.OAuth2.ClientSecret = secret
	oauthflow.Normalize(&in)
	saved, err := ts.store.CreateIntegration(context.Background(), in)
	if err != nil {
		ts.t.Fatal(err)
	}
	return saved
}

// addAccounts gives an integration n accounts.
func (ts *testServer) addAccounts(in oauthflow.Integration, n int) {
	ts.t.Helper()
	for i := range n {
		if _, err := ts.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: in.ID, Name: fmt.Sprintf("account %d", i)}); err != nil {
			ts.t.Fatal(err)
		}
	}
}

func (ts *testServer) getIntegration(key string) oauthflow.Integration {
	ts.t.Helper()
	in, err := ts.store.GetIntegration(context.Background(), key)
	if err != nil {
		ts.t.Fatalf("get integration %q: %v", key, err)
	}
	return in
}

func (ts *testServer) integrationExists(key string) bool {
	ts.t.Helper()
	_, err := ts.store.GetIntegration(context.Background(), key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		ts.t.Fatal(err)
	}
	return err == nil
}

// decodeIntegration reads an API answer.
func decodeIntegration(t *testing.T, body string) oauthflow.Integration {
	t.Helper()
	var in oauthflow.Integration
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return in
}

// apiErrorOf reads an API error answer; ok is false when it is not one.
func apiErrorOf(body string) (apiErrorBody, bool) {
	var e apiError
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		return e.Error, false
	}
	return e.Error, true
}

// formOf reads the values a browser would submit from the form with the id:
// inputs (checked boxes only), selected options, textareas; never buttons.
func formOf(t *testing.T, page, formID string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "id") == formID {
			form = n
		}
		for c := n.FirstChild; c != nil && form == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no form #%s in the page", formID)
	}
	vals := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "name") != "" {
			name := attr(n, "name")
			switch n.Data {
			case "input":
				typ := attr(n, "type")
				if (typ != "checkbox" && typ != "radio") || hasAttr(n, "checked") {
					vals.Add(name, attr(n, "value"))
				}
			case "textarea":
				vals.Add(name, text(n))
			case "select":
				vals.Add(name, selected(n))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return vals
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func selected(sel *html.Node) string {
	first, found := "", false
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "option" {
			if !found && first == "" {
				first = attr(n, "value")
			}
			if hasAttr(n, "selected") && !found {
				first, found = attr(n, "value"), true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sel)
	return first
}
