package oauthflow

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// validIntegration is a complete, valid authorization-code integration.
func validIntegration() Integration {
	return Integration{
		Key:        "acme",
		Name:       "Acme CRM",
		Parameters: []Parameter{{Name: "region", Description: "eu or us"}, {Name: "tenant"}},
		OAuth2: OAuth2{
			GrantType:            GrantAuthorizationCode,
			AuthorizationURL:     "https://{tenant}.auth.acme.example/authorize?prompt=consent",
			TokenURL:             "https://{tenant}.auth.acme.example/oauth/token",
			TokenMethod:          "POST",
			RevokeURL:            "https://{tenant}.auth.acme.example/oauth/revoke",
			Scope:                "crm.read crm.write offline_access",
			ClientID:             "client-{region}",
			ClientSecret:         "s3cret",
			ClientAuth:           ClientAuthBasic,
			PKCE:                 true,
			AuthorizationParams:  map[string]string{"access_type": "offline"},
			TokenParams:          map[string]string{"audience": "https://api.{region}.acme.example/"},
			RefreshWindowSeconds: 1800,
			RejectedStatuses:     []int{401, 403},
		},
		Token:             TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: InHeader},
		RequestParameters: []RequestParameter{{Name: "X-Region", Value: "{region}", In: InHeader}, {Name: "api-version", Value: "2", In: InQuery}},
		APIBaseURLs:       []string{"https://api.{region}.acme.example/v2/"},
		HealthCheck:       &HealthCheck{Method: "GET", URL: "https://api.{region}.acme.example/v2/me", ExpectStatus: 200},
	}
}

func TestValidateValid(t *testing.T) {
	in := validIntegration()
	if fe := Validate(in, ValidateOptions{RequireSecret: true}); fe != nil {
		t.Fatalf("got %v, want nil", fe)
	}
	cc := validIntegration()
	cc.OAuth2.GrantType, cc.OAuth2.AuthorizationURL, cc.OAuth2.Scope = GrantClientCredentials, "", ""
	cc.OAuth2.ClientSecret = ""
	if fe := Validate(cc, ValidateOptions{}); fe != nil {
		t.Fatalf("client credentials without scope or secret (not required): got %v, want nil", fe)
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name   string
		mutate func(in *Integration)
		opts   ValidateOptions
		path   string
		msg    string
	}{
		{"name missing", func(in *Integration) { in.Name = "" }, ValidateOptions{}, "name", "Name is required"},
		{"name too long", func(in *Integration) { in.Name = strings.Repeat("n", 201) }, ValidateOptions{}, "name", "Name may be at most 200 characters"},
		{"key missing", func(in *Integration) { in.Key = "" }, ValidateOptions{}, "key", "Key is required"},
		{"key bad characters", func(in *Integration) { in.Key = "acme-crm" }, ValidateOptions{}, "key", "Key may contain only letters and digits"},
		{"key underscore", func(in *Integration) { in.Key = "acme_crm" }, ValidateOptions{}, "key", "Key may contain only letters and digits"},
		{"key too long", func(in *Integration) { in.Key = strings.Repeat("k", 65) }, ValidateOptions{}, "key", "Key may be at most 64 characters"},
		{"parameter token reserved", func(in *Integration) { in.Parameters = append(in.Parameters, Parameter{Name: "token"}) }, ValidateOptions{}, "parameters[2].name", "token is reserved for the access token in the token template: choose another name"},
		{"parameter duplicate", func(in *Integration) { in.Parameters = append(in.Parameters, Parameter{Name: "region"}) }, ValidateOptions{}, "parameters[2].name", "Parameter region is already declared as parameters[0]: rename or remove one"},
		{"parameter bad name", func(in *Integration) { in.Parameters = append(in.Parameters, Parameter{Name: "ten-ant"}) }, ValidateOptions{}, "parameters[2].name", "Parameter name may contain only letters, digits and underscore"},
		{"parameter empty name", func(in *Integration) { in.Parameters = append(in.Parameters, Parameter{Description: "x"}) }, ValidateOptions{}, "parameters[2].name", "Parameter name is required"},
		{"too many parameters", func(in *Integration) {
			for i := 0; i < 60; i++ {
				in.Parameters = append(in.Parameters, Parameter{Name: fmt.Sprintf("p%d", i)})
			}
		}, ValidateOptions{}, "parameters", "At most 50 parameters are allowed: remove some"},
		{"undeclared in token url", func(in *Integration) { in.OAuth2.TokenURL = "https://{tenantt}.auth.acme.example/token" }, ValidateOptions{}, "oauth2.token_url", "Parameter tenantt is not declared: add tenantt under Integration parameters, or write {{tenantt}} for literal braces"},
		{"undeclared in scope", func(in *Integration) { in.OAuth2.Scope = "read {env}" }, ValidateOptions{}, "oauth2.scope", "Parameter env is not declared: add env under Integration parameters, or write {{env}} for literal braces"},
		{"undeclared in request parameter", func(in *Integration) { in.RequestParameters[0].Value = "{zone}" }, ValidateOptions{}, "request_parameters[0].value", "Parameter zone is not declared: add zone under Integration parameters, or write {{zone}} for literal braces"},
		{"undeclared in token template", func(in *Integration) { in.Token.Template = "{scheme} {token}" }, ValidateOptions{}, "token.template", "Parameter scheme is not declared: add scheme under Integration parameters, or write {{scheme}} for literal braces"},
		{"undeclared in token params", func(in *Integration) { in.OAuth2.TokenParams["resource"] = "{res}" }, ValidateOptions{}, "oauth2.token_params.resource", "Parameter res is not declared: add res under Integration parameters, or write {{res}} for literal braces"},
		{"undeclared in api base url", func(in *Integration) { in.APIBaseURLs = []string{"https://{host}/"} }, ValidateOptions{}, "api_base_urls[0]", "Parameter host is not declared: add host under Integration parameters, or write {{host}} for literal braces"},
		{"token placeholder outside template", func(in *Integration) { in.RequestParameters[0].Value = "{token}" }, ValidateOptions{}, "request_parameters[0].value", "{token} can be used only in the token template: write {{token}} for literal text"},
		{"template without token", func(in *Integration) { in.Token.Template = "Bearer" }, ValidateOptions{}, "token.template", "The template must contain {token}: for a bearer header write Bearer {token}"},
		{"template escaped token only", func(in *Integration) { in.Token.Template = "Bearer {{token}}" }, ValidateOptions{}, "token.template", "The template must contain {token}: for a bearer header write Bearer {token}"},
		{"template empty", func(in *Integration) { in.Token.Template = "" }, ValidateOptions{}, "token.template", "The template is required: for a bearer header write Bearer {token}"},
		{"template syntax", func(in *Integration) { in.Token.Template = "Bearer {token" }, ValidateOptions{}, "token.template", "Unclosed '{' at position 8: write {{ for a literal brace"},
		{"token url not a url", func(in *Integration) { in.OAuth2.TokenURL = "token endpoint" }, ValidateOptions{}, "oauth2.token_url", "The URL is relative; it must be an absolute http or https URL, e.g. https://api.example.com/v1"},
		{"token url relative", func(in *Integration) { in.OAuth2.TokenURL = "/oauth/token" }, ValidateOptions{}, "oauth2.token_url", "The URL is relative; it must be an absolute http or https URL, e.g. https://api.example.com/v1"},
		{"token url ftp", func(in *Integration) { in.OAuth2.TokenURL = "ftp://files.acme.example/token" }, ValidateOptions{}, "oauth2.token_url", `Scheme "ftp" is not allowed; the URL must be an absolute http or https URL, e.g. https://api.example.com/v1`},
		{"token url missing", func(in *Integration) { in.OAuth2.TokenURL = "" }, ValidateOptions{}, "oauth2.token_url", "Token URL is required"},
		{"revoke url port placeholder", func(in *Integration) { in.OAuth2.RevokeURL = "https://auth.acme.example:{region}/revoke" }, ValidateOptions{}, "oauth2.revoke_url", "A placeholder may not be used in the port: write the port as a number"},
		{"scheme placeholder", func(in *Integration) { in.OAuth2.TokenURL = "{region}://auth.acme.example/token" }, ValidateOptions{}, "oauth2.token_url", "A placeholder may not be used in the scheme: write http:// or https://"},
		{"userinfo placeholder", func(in *Integration) { in.APIBaseURLs = []string{"https://{tenant}@api.acme.example/"} }, ValidateOptions{}, "api_base_urls[0]", "A URL may not contain user:password@; put credentials in the client id and secret or a request parameter"},
		{"health check url relative", func(in *Integration) { in.HealthCheck.URL = "/me" }, ValidateOptions{}, "health_check.url", "The URL is relative; it must be an absolute http or https URL, e.g. https://api.example.com/v1"},
		{"issuer not url", func(in *Integration) { in.OAuth2.Issuer = "acme" }, ValidateOptions{}, "oauth2.issuer", "The URL is relative; it must be an absolute http or https URL, e.g. https://api.example.com/v1"},
		{"authorization url missing for code grant", func(in *Integration) { in.OAuth2.AuthorizationURL = "" }, ValidateOptions{}, "oauth2.authorization_url", "Authorization URL is required for the authorization_code grant"},
		{"scope missing for code grant", func(in *Integration) { in.OAuth2.Scope = "" }, ValidateOptions{}, "oauth2.scope", "Scope is required for the authorization_code grant: enter the scopes the provider expects, separated by spaces, or, if the provider takes no scope parameter (it sets access in its app console), tick “The provider takes no scope” (oauth2.scope_optional)"},
		{"client id missing", func(in *Integration) { in.OAuth2.ClientID = "" }, ValidateOptions{}, "oauth2.client_id", "Client ID is required"},
		{"secret required", func(in *Integration) { in.OAuth2.ClientSecret = "" }, ValidateOptions{RequireSecret: true}, "oauth2.client_secret", "Client secret is required"},
		{"grant type", func(in *Integration) { in.OAuth2.GrantType = "password" }, ValidateOptions{}, "oauth2.grant_type", "Grant type must be authorization_code or client_credentials"},
		{"token method", func(in *Integration) { in.OAuth2.TokenMethod = "PUT" }, ValidateOptions{}, "oauth2.token_method", "Token method must be POST (the standard) or GET"},
		{"client auth", func(in *Integration) { in.OAuth2.ClientAuth = "jwt" }, ValidateOptions{}, "oauth2.client_auth", "Client authentication must be basic (HTTP Basic header) or body (client_id and client_secret in the form)"},
		{"refresh window low", func(in *Integration) { in.OAuth2.RefreshWindowSeconds = 59 }, ValidateOptions{}, "oauth2.refresh_window_seconds", "Refresh window must be between 60 and 86400 seconds (default 1800)"},
		{"refresh window high", func(in *Integration) { in.OAuth2.RefreshWindowSeconds = 86401 }, ValidateOptions{}, "oauth2.refresh_window_seconds", "Refresh window must be between 60 and 86400 seconds (default 1800)"},
		{"rejected status 200", func(in *Integration) { in.OAuth2.RejectedStatuses = []int{401, 200} }, ValidateOptions{}, "oauth2.rejected_statuses[1]", "A rejected status must be between 400 and 599, e.g. 401"},
		{"rejected status 600", func(in *Integration) { in.OAuth2.RejectedStatuses = []int{600} }, ValidateOptions{}, "oauth2.rejected_statuses[0]", "A rejected status must be between 400 and 599, e.g. 401"},
		{"token params override grant_type", func(in *Integration) { in.OAuth2.TokenParams["grant_type"] = "password" }, ValidateOptions{}, "oauth2.token_params.grant_type", "grant_type is set by Airlock from the OAuth 2.0 settings and cannot be overridden here: remove it"},
		{"authorization params override state", func(in *Integration) { in.OAuth2.AuthorizationParams["state"] = "x" }, ValidateOptions{}, "oauth2.authorization_params.state", "state is set by Airlock from the OAuth 2.0 settings and cannot be overridden here: remove it"},
		{"authorization params override redirect_uri", func(in *Integration) { in.OAuth2.AuthorizationParams["redirect_uri"] = "https://evil.test/" }, ValidateOptions{}, "oauth2.authorization_params.redirect_uri", "redirect_uri is set by Airlock from the OAuth 2.0 settings and cannot be overridden here: remove it"},
		{"extra param empty name", func(in *Integration) { in.OAuth2.TokenParams[""] = "x" }, ValidateOptions{}, "oauth2.token_params", "An extra parameter has no name: give it one or remove it"},
		{"token header name with space", func(in *Integration) { in.Token.Name = "X Token" }, ValidateOptions{}, "token.name", "Must be a valid header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons"},
		{"token header name with colon", func(in *Integration) { in.Token.Name = "Authorization:" }, ValidateOptions{}, "token.name", "Must be a valid header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons"},
		{"token name missing", func(in *Integration) { in.Token.Name = "" }, ValidateOptions{}, "token.name", "Token parameter name is required, e.g. Authorization"},
		{"token in", func(in *Integration) { in.Token.In = "cookie" }, ValidateOptions{}, "token.in", "Token location must be header or query"},
		{"request header name bad", func(in *Integration) { in.RequestParameters[0].Name = "X Region" }, ValidateOptions{}, "request_parameters[0].name", "Must be a valid header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons"},
		{"request header host", func(in *Integration) { in.RequestParameters[0].Name = "Host" }, ValidateOptions{}, "request_parameters[0].name", "Host is set by the HTTP client and cannot be set here"},
		{"request param clashes with token", func(in *Integration) { in.RequestParameters[0].Name = "authorization" }, ValidateOptions{}, "request_parameters[0].name", "authorization already carries the token: remove this request parameter or rename the token parameter"},
		{"request param name missing", func(in *Integration) { in.RequestParameters[1].Name = "" }, ValidateOptions{}, "request_parameters[1].name", "Request parameter name is required"},
		{"request param in", func(in *Integration) { in.RequestParameters[1].In = "body" }, ValidateOptions{}, "request_parameters[1].in", "Location must be header or query"},
		{"request param value line break", func(in *Integration) { in.RequestParameters[0].Value = "a\r\nX-Evil: 1" }, ValidateOptions{}, "request_parameters[0].value", "Remove line breaks and control characters"},
		{"base url with query", func(in *Integration) { in.APIBaseURLs = []string{"https://api.acme.example/v2?key=1"} }, ValidateOptions{}, "api_base_urls[0]", "An API base URL may not contain ? or #: give the scheme, the host and an optional path prefix"},
		{"any origin beside another base URL", func(in *Integration) { in.APIBaseURLs = []string{AnyOrigin, "https://api.acme.example/"} }, ValidateOptions{}, "api_base_urls[0]", "* stands for any origin: make it the only API base URL, or remove it and list the API's origins"},
		{"health check outside the base URLs", func(in *Integration) { in.HealthCheck.URL = "https://status.acme.example/me" }, ValidateOptions{}, "health_check.url", "The health check URL must lie under one of the API base URLs (it receives the token): add its origin and path prefix to API base URLs, or change the URL"},
		{"health check on another tenant's host", func(in *Integration) { in.HealthCheck.URL = "https://api.{tenant}.acme.example/v2/me" }, ValidateOptions{}, "health_check.url", "The health check URL must lie under one of the API base URLs (it receives the token): add its origin and path prefix to API base URLs, or change the URL"},
		{"health check without base URLs", func(in *Integration) { in.APIBaseURLs = nil }, ValidateOptions{}, "health_check.url", "The health check URL must lie under one of the API base URLs (it receives the token): add its origin and path prefix to API base URLs, or change the URL"},
		{"whole host parameter in the token url", func(in *Integration) { in.OAuth2.TokenURL = "https://{tenant}/token" }, ValidateOptions{}, "oauth2.token_url", "Parameter tenant is in the host, so an account could send credentials to any host: keep a fixed domain after it (e.g. {tenant}.example.com), or give tenant a list of allowed values (an admin sets them)"},
		{"parameter before a public suffix", func(in *Integration) { in.OAuth2.RevokeURL = "https://{tenant}.co.uk/revoke" }, ValidateOptions{}, "oauth2.revoke_url", "Parameter tenant is in the host, so an account could send credentials to any host: keep a fixed domain after it (e.g. {tenant}.example.com), or give tenant a list of allowed values (an admin sets them)"},
		{"parameter in a base URL host", func(in *Integration) { in.APIBaseURLs = []string{"https://api-{region}.com/"}; in.HealthCheck = nil }, ValidateOptions{}, "api_base_urls[0]", "Parameter region is in the host, so an account could send credentials to any host: keep a fixed domain after it (e.g. {region}.example.com), or give region a list of allowed values (an admin sets them)"},
		{"allowed value with a comma", func(in *Integration) { in.Parameters[0].AllowedValues = []string{"eu,us"} }, ValidateOptions{}, "parameters[0].allowed_values", "An allowed value may not contain a comma, a line break or a control character: list the values separated by commas"},
		{"allowed value twice", func(in *Integration) { in.Parameters[0].AllowedValues = []string{"eu", "eu"} }, ValidateOptions{}, "parameters[0].allowed_values", "eu is listed twice: keep one"},
		{"base url relative second", func(in *Integration) { in.APIBaseURLs = append(in.APIBaseURLs, "api.acme.example") }, ValidateOptions{}, "api_base_urls[1]", "The URL is relative; it must be an absolute http or https URL, e.g. https://api.example.com/v1"},
		{"health method", func(in *Integration) { in.HealthCheck.Method = "TRACE" }, ValidateOptions{}, "health_check.method", "Method must be GET, HEAD, POST, PUT, PATCH or DELETE"},
		{"health status", func(in *Integration) { in.HealthCheck.ExpectStatus = 99 }, ValidateOptions{}, "health_check.expect_status", "Expected status must be between 100 and 599, e.g. 200"},
		{"huge scope", func(in *Integration) { in.OAuth2.Scope = long }, ValidateOptions{}, "oauth2.scope", "Too long: at most 4096 characters (this has 5000)"},
		{"huge url", func(in *Integration) { in.OAuth2.TokenURL = "https://a.example/" + long }, ValidateOptions{}, "oauth2.token_url", "Too long: at most 2048 characters (this has 5018)"},
		{"huge secret", func(in *Integration) { in.OAuth2.ClientSecret = strings.Repeat("s", 1<<20) }, ValidateOptions{}, "oauth2.client_secret", "Too long: at most 4096 characters (this has 1048576)"},
		{"secret braces not quoted", func(in *Integration) { in.OAuth2.ClientSecret = "ab{c-d}ef" }, ValidateOptions{}, "oauth2.client_secret", "The secret has { or } that do not form a declared parameter: write {{ and }} for literal braces"},
		{"secret undeclared not quoted", func(in *Integration) { in.OAuth2.ClientSecret = "ab{xyz}" }, ValidateOptions{}, "oauth2.client_secret", "The secret has { or } that do not form a declared parameter: write {{ and }} for literal braces"},
		{"too many request parameters", func(in *Integration) {
			for i := 0; i < 51; i++ {
				in.RequestParameters = append(in.RequestParameters, RequestParameter{Name: "X-N", In: InHeader})
			}
		}, ValidateOptions{}, "request_parameters", "At most 50 request parameters are allowed: remove some"},
		{"too many token params", func(in *Integration) {
			for i := 0; i < 51; i++ {
				in.OAuth2.TokenParams[fmt.Sprintf("p%d", i)] = "{nope}"
			}
		}, ValidateOptions{}, "oauth2.token_params", "At most 50 extra parameters are allowed: remove some"},
		{"too many base urls", func(in *Integration) {
			for i := 0; i < 21; i++ {
				in.APIBaseURLs = append(in.APIBaseURLs, "https://api.example/")
			}
		}, ValidateOptions{}, "api_base_urls", "At most 20 API base URLs are allowed"},
		{"name control char", func(in *Integration) { in.Name = "Acme\x00" }, ValidateOptions{}, "name", "Name may not contain line breaks or control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntegration()
			tt.mutate(&in)
			fe := Validate(in, tt.opts)
			got, ok := fe[tt.path]
			if !ok {
				t.Fatalf("got errors %v, want one at %s", fe, tt.path)
			}
			if got != tt.msg {
				t.Errorf("got %q, want %q", got, tt.msg)
			}
			if len(fe) != 1 {
				t.Errorf("got %d errors %v, want only %s", len(fe), fe, tt.path)
			}
		})
	}
}

// TestValidateAccepts checks inputs that look odd but are fine.
func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(in *Integration)
	}{
		{"escaped braces in template", func(in *Integration) { in.Token.Template = `{{"t": "{token}"}}` }},
		{"escaped braces in value", func(in *Integration) { in.RequestParameters[1].Value = "{{literal}}" }},
		{"escaped braces in url", func(in *Integration) { in.OAuth2.TokenURL = "https://auth.acme.example/{{v}}/token" }},
		{"token in query", func(in *Integration) {
			in.Token = TokenPlacement{Name: "access_token", Template: "{token}", In: InQuery}
		}},
		{"whole host parameter with allowed values", func(in *Integration) {
			in.OAuth2.TokenURL = "https://{tenant}/token"
			in.Parameters[1].AllowedValues = []string{"auth.acme.example", "auth.acme.test"}
		}},
		{"any origin alone", func(in *Integration) { in.APIBaseURLs = []string{AnyOrigin} }},
		{"get token method", func(in *Integration) { in.OAuth2.TokenMethod = "GET" }},
		{"parameter in client secret", func(in *Integration) { in.OAuth2.ClientSecret = "{tenant}" }},
		{"no health check", func(in *Integration) { in.HealthCheck = nil }},
		{"empty request value", func(in *Integration) { in.RequestParameters[1].Value = "" }},
		{"description with braces", func(in *Integration) { in.Parameters[0].Description = "e.g. {eu}" }},
		{"token params audience", func(in *Integration) { in.OAuth2.TokenParams["resource"] = "https://{region}.example/" }},
		{"no scope where the provider takes none", func(in *Integration) { in.OAuth2.Scope, in.OAuth2.ScopeOptional = "", true }},
		{"scope given though optional", func(in *Integration) { in.OAuth2.ScopeOptional = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntegration()
			tt.mutate(&in)
			if fe := Validate(in, ValidateOptions{RequireSecret: true}); fe != nil {
				t.Errorf("got %v, want nil", fe)
			}
		})
	}
}

// TestHostPlaceholderHostile shows the two halves of the host rule: Validate
// accepts a host placeholder (trial value), ExpandURL refuses hostile values.
func TestHostPlaceholderHostile(t *testing.T) {
	in := validIntegration()
	if fe := Validate(in, ValidateOptions{}); fe != nil {
		t.Fatalf("got %v, want nil", fe)
	}
	for _, v := range []string{"evil.test/x", "evil.test:8080", "evil.test#", "u@evil.test", "evil.test?x", "a..b", ""} {
		t.Run(v, func(t *testing.T) {
			u, err := ExpandURL(in.OAuth2.TokenURL, map[string]string{"tenant": v, "region": "eu"})
			if err == nil {
				t.Errorf("got %v, want an error", u)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	in := Integration{
		Key:               " acme ",
		Name:              " Acme\n",
		Parameters:        []Parameter{{Name: " region "}, {}},
		OAuth2:            OAuth2{GrantType: " Authorization_Code ", TokenMethod: "get", ClientAuth: " BODY ", ClientSecret: "s3cret\n", TokenParams: map[string]string{" audience ": " x "}},
		RequestParameters: []RequestParameter{{Name: " X-A ", Value: " 1 "}, {}},
		APIBaseURLs:       []string{" https://api.example/ ", "  "},
		HealthCheck:       &HealthCheck{URL: " https://api.example/me ", Method: "head"},
	}
	Normalize(&in)
	want := Integration{
		Key:        "acme",
		Name:       "Acme",
		AuthType:   AuthOAuth2,
		Parameters: []Parameter{{Name: "region"}},
		OAuth2: OAuth2{GrantType: GrantAuthorizationCode, TokenMethod: "GET", ClientAuth: ClientAuthBody, ClientSecret: "s3cret",
			AuthorizationParams: map[string]string{}, TokenParams: map[string]string{"audience": "x"},
			RefreshWindowSeconds: 1800, RejectedStatuses: []int{401, 403}},
		Token:             TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: InHeader},
		RequestParameters: []RequestParameter{{Name: "X-A", Value: "1", In: InHeader}},
		APIBaseURLs:       []string{"https://api.example/"},
		HealthCheck:       &HealthCheck{URL: "https://api.example/me", Method: "HEAD", ExpectStatus: 200},
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got %+v, want %+v", in, want)
	}
	in.OAuth2.RejectedStatuses[0] = 999
	if DefaultRejectedStatuses[0] != 401 {
		t.Errorf("got DefaultRejectedStatuses %v, want it untouched by Normalize's copy", DefaultRejectedStatuses)
	}

	q := Integration{Token: TokenPlacement{In: "QUERY"}, HealthCheck: &HealthCheck{}}
	Normalize(&q)
	if q.Token.Name != "access_token" || q.Token.Template != "{token}" || q.HealthCheck != nil {
		t.Errorf("got token %+v, health %v, want access_token={token} in the query and no health check", q.Token, q.HealthCheck)
	}
}

func TestDefaultIntegration(t *testing.T) {
	in := DefaultIntegration()
	if !in.OAuth2.PKCE || in.OAuth2.GrantType != GrantAuthorizationCode || in.OAuth2.TokenMethod != "POST" || in.OAuth2.ClientAuth != ClientAuthBasic {
		t.Errorf("got %+v, want PKCE on, authorization_code, POST, basic", in.OAuth2)
	}
}

func TestWarnings(t *testing.T) {
	in := validIntegration()
	if got := QueryTokenWarning(in); got != "" {
		t.Errorf("header token: got %q, want no warning", got)
	}
	if got := AnyOriginWarning(in); got != "" {
		t.Errorf("with base URLs: got %q, want no warning", got)
	}
	in.Token.In, in.APIBaseURLs = InQuery, nil
	if got := QueryTokenWarning(in); !strings.Contains(got, "tokens in URLs end up in server logs and browser history; prefer a header") {
		t.Errorf("query token: got %q, want the logs warning", got)
	}
	if got := AnyOriginWarning(in); got != "" {
		t.Errorf("no base URLs (requests refused): got %q, want no any-host warning", got)
	}
	in.APIBaseURLs = []string{AnyOrigin}
	if got := AnyOriginWarning(in); !strings.Contains(got, "any host") {
		t.Errorf("base URL *: got %q, want the any-host warning", got)
	}
}

func TestFieldErrorsError(t *testing.T) {
	fe := FieldErrors{"name": "Name is required", "key": "Key is required"}
	want := "invalid integration: key: Key is required; name: Name is required"
	if got := fe.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
