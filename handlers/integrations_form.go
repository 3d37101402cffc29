package handlers

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"airlock/oauthflow"
	"airlock/views"
)

// maxFormRows bounds the rows read from one list of a posted form, so a
// crafted form cannot make a huge page; Validate allows far fewer anyway.
const maxFormRows = 200

// rowFieldRE matches a cell of a repeated row: list[index].field, or list[index].
var rowFieldRE = regexp.MustCompile(`^(parameters|request_parameters|api_base_urls)\[(\d{1,4})\](?:\.(name|description|allowed_values|value|in))?$`)

// readIntegrationForm reads the builder form as typed. It returns the client
// secret apart: the form view-model never holds it.
func readIntegrationForm(form url.Values) (f views.IntegrationForm, secret string) {
	get := func(name string) string { return form.Get(name) }
	f = views.IntegrationForm{
		Key: get("key"), Name: get("name"),
		GrantType: get("oauth2.grant_type"), AuthorizationURL: get("oauth2.authorization_url"),
		TokenURL: get("oauth2.token_url"), TokenMethod: get("oauth2.token_method"), RevokeURL: get("oauth2.revoke_url"),
		Scope: get("oauth2.scope"), ClientID: get("oauth2.client_id"), ClientAuth: get("oauth2.client_auth"),
		AuthorizationParams: get("oauth2.authorization_params"), TokenParams: get("oauth2.token_params"),
		Issuer: get("oauth2.issuer"), RefreshWindow: get("oauth2.refresh_window_seconds"),
		RejectedStatuses: get("oauth2.rejected_statuses"),
		TokenName:        get("token.name"), TokenTemplate: get("token.template"), TokenIn: get("token.in"),
		HealthMethod: get("health_check.method"), HealthURL: get("health_check.url"), HealthStatus: get("health_check.expect_status"),
		Captures: get("oauth2.capture"), UserinfoURL: get("oauth2.userinfo_url"), IdentityFrom: get("oauth2.identity.from"),
		IdentityPath: get("oauth2.identity.path"), RequiredScopes: get("oauth2.required_scopes"),
		AuthType: get("auth_type"), CredentialFields: get("credential_fields"), CustomToken: get("custom_token"),
	}
	// The checkbox posts "true" when on; the hidden "false" beside it tells an
	// unchecked box from a form that never had one (then PKCE keeps its default).
	if vs, ok := form["oauth2.pkce"]; ok {
		f.PKCE = slices.Contains(vs, "true")
	} else {
		f.PKCE = true
	}
	f.ScopeOptional = slices.Contains(form["oauth2.scope_optional"], "true")
	f.Quirks = readQuirksForm(get)
	readRows(form, &f)
	f.Preset, f.Assist.DiscoverIssuer = form.Get("preset"), form.Get("discover_issuer")
	return f, form.Get("oauth2.client_secret")
}

// readRows collects the repeated rows in index order; gaps left by rows
// removed in the browser are closed.
func readRows(form url.Values, f *views.IntegrationForm) {
	type cells map[string]string
	lists := map[string]map[int]cells{}
	for name, vs := range form {
		m := rowFieldRE.FindStringSubmatch(name)
		if m == nil || len(vs) == 0 {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		if lists[m[1]] == nil {
			lists[m[1]] = map[int]cells{}
		}
		if lists[m[1]][i] == nil {
			lists[m[1]][i] = cells{}
		}
		lists[m[1]][i][m[3]] = vs[0]
	}
	ordered := func(list string) []cells {
		idx := make([]int, 0, len(lists[list]))
		for i := range lists[list] {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		out := make([]cells, 0, len(idx))
		for _, i := range idx[:min(len(idx), maxFormRows)] {
			out = append(out, lists[list][i])
		}
		return out
	}
	for _, c := range ordered("parameters") {
		f.Parameters = append(f.Parameters, views.ParameterRow{Name: c["name"], Description: c["description"], AllowedValues: c["allowed_values"]})
	}
	for _, c := range ordered("request_parameters") {
		f.RequestParameters = append(f.RequestParameters, views.RequestParameterRow{Name: c["name"], Value: c["value"], In: c["in"]})
	}
	for _, c := range ordered("api_base_urls") {
		f.BaseURLs = append(f.BaseURLs, c[""])
	}
}

// compactRows drops blank rows the way oauthflow.Normalize does, before
// validation, so that error paths (parameters[1].name) point at the rows the
// form shows again.
func compactRows(f *views.IntegrationForm) {
	blank := func(ss ...string) bool {
		for _, s := range ss {
			if strings.TrimSpace(s) != "" {
				return false
			}
		}
		return true
	}
	f.Parameters = slices.DeleteFunc(f.Parameters, func(r views.ParameterRow) bool { return blank(r.Name, r.Description, r.AllowedValues) })
	f.RequestParameters = slices.DeleteFunc(f.RequestParameters, func(r views.RequestParameterRow) bool { return blank(r.Name, r.Value) })
	f.BaseURLs = slices.DeleteFunc(f.BaseURLs, func(s string) bool { return blank(s) })
}

// integrationFromForm turns the form into an integration. Text that is not
// what a field needs (a word in a number field, a line without "=") is a
// field error here; everything else is left to oauthflow.Validate.
func integrationFromForm(f views.IntegrationForm, secret string) (oauthflow.Integration, oauthflow.FieldErrors) {
	fe := oauthflow.FieldErrors{}
	in := oauthflow.Integration{
		Key: f.Key, Name: f.Name, Preset: f.Preset,
		OAuth2: oauthflow.OAuth2{
			GrantType: f.GrantType, AuthorizationURL: f.AuthorizationURL, TokenURL: f.TokenURL, TokenMethod: f.TokenMethod,
			RevokeURL: f.RevokeURL, Scope: f.Scope, ClientID: f.ClientID, ClientSecret: secret, ClientAuth: f.ClientAuth,
			PKCE: f.PKCE, Issuer: f.Issuer, ScopeOptional: f.ScopeOptional,
		},
		Token:       oauthflow.TokenPlacement{Name: f.TokenName, Template: f.TokenTemplate, In: f.TokenIn},
		APIBaseURLs: slices.Clone(f.BaseURLs),
	}
	for _, p := range f.Parameters {
		in.Parameters = append(in.Parameters, oauthflow.Parameter{Name: p.Name, Description: p.Description,
			AllowedValues: strings.Split(p.AllowedValues, ",")})
	}
	for _, r := range f.RequestParameters {
		in.RequestParameters = append(in.RequestParameters, oauthflow.RequestParameter{Name: r.Name, Value: r.Value, In: r.In})
	}
	in.OAuth2.AuthorizationParams = parseParamLines(fe, "oauth2.authorization_params", f.AuthorizationParams)
	in.OAuth2.TokenParams = parseParamLines(fe, "oauth2.token_params", f.TokenParams)
	in.OAuth2.RefreshWindowSeconds = parseInt(fe, "oauth2.refresh_window_seconds", f.RefreshWindow,
		"Refresh window must be a whole number of seconds, e.g. 1800")
	in.OAuth2.RejectedStatuses = parseStatuses(fe, f.RejectedStatuses)
	quirksBFromForm(fe, f, &in.OAuth2)
	applyQuirks(fe, &in, f.Quirks)
	authTypeFromForm(fe, f, &in)
	if strings.TrimSpace(f.HealthURL) != "" {
		in.HealthCheck = &oauthflow.HealthCheck{Method: f.HealthMethod, URL: f.HealthURL,
			ExpectStatus: parseInt(fe, "health_check.expect_status", f.HealthStatus, "Expected status must be a number, e.g. 200")}
	}
	return in, fe
}

// parseInt reads an optional whole number; blank is 0 (Normalize's default).
func parseInt(fe oauthflow.FieldErrors, path, s, msg string) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		fe[path] = msg
		return 0
	}
	return n
}

// parseStatuses reads "401 403" or "401, 403".
func parseStatuses(fe oauthflow.FieldErrors, s string) []int {
	var out []int
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		n, err := strconv.Atoi(w)
		if err != nil {
			fe["oauth2.rejected_statuses"] = fmt.Sprintf("%q is not a status: write numbers separated by spaces, e.g. 401 403", truncate(w, 20))
			return nil
		}
		out = append(out, n)
	}
	return out
}

// parseParamLines reads "name=value" lines; blank lines are skipped.
func parseParamLines(fe oauthflow.FieldErrors, path, text string) map[string]string {
	out := map[string]string{}
	seen := map[string]int{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		switch first, dup := seen[name]; {
		case !ok:
			fe[path] = fmt.Sprintf("Line %d has no “=”: write one name=value per line, e.g. prompt=consent", i+1)
			return out
		case name == "":
			fe[path] = fmt.Sprintf("Line %d has no name before “=”: write name=value", i+1)
			return out
		case dup:
			fe[path] = fmt.Sprintf("Line %d sets %s again (first on line %d): keep one", i+1, truncate(name, 40), first)
			return out
		}
		seen[name] = i + 1
		out[name] = strings.TrimSpace(value)
	}
	return out
}

// formFromIntegration fills the form from a stored or imported integration.
func formFromIntegration(in oauthflow.Integration) views.IntegrationForm {
	o := in.OAuth2
	f := views.IntegrationForm{
		Key: in.Key, Name: in.Name, Preset: in.Preset,
		GrantType: o.GrantType, AuthorizationURL: o.AuthorizationURL, TokenURL: o.TokenURL, TokenMethod: o.TokenMethod,
		RevokeURL: o.RevokeURL, Scope: o.Scope, ScopeOptional: o.ScopeOptional, ClientID: o.ClientID, ClientAuth: o.ClientAuth, PKCE: o.PKCE,
		SecretSet: o.ClientSecretSet, SecretLast4: o.ClientSecretLast4,
		AuthorizationParams: paramLines(o.AuthorizationParams), TokenParams: paramLines(o.TokenParams),
		Issuer: o.Issuer, RejectedStatuses: statusText(o.RejectedStatuses),
		TokenName: in.Token.Name, TokenTemplate: in.Token.Template, TokenIn: in.Token.In,
		BaseURLs:     slices.Clone(in.APIBaseURLs),
		HealthMethod: "GET",
		Quirks:       quirksForm(in),
	}
	if o.RefreshWindowSeconds != 0 {
		f.RefreshWindow = strconv.Itoa(o.RefreshWindowSeconds)
	}
	for _, p := range in.Parameters {
		f.Parameters = append(f.Parameters, views.ParameterRow{Name: p.Name, Description: p.Description, AllowedValues: strings.Join(p.AllowedValues, ", ")})
	}
	for _, r := range in.RequestParameters {
		f.RequestParameters = append(f.RequestParameters, views.RequestParameterRow{Name: r.Name, Value: r.Value, In: r.In})
	}
	if hc := in.HealthCheck; hc != nil {
		f.HealthMethod, f.HealthURL, f.HealthStatus = hc.Method, hc.URL, strconv.Itoa(hc.ExpectStatus)
	}
	quirksBToForm(o, &f)
	authTypeToForm(in, &f)
	return f
}

func paramLines(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

func statusText(ss []int) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, " ")
}

// applyRowOp adds or removes a row ("add-parameter", "remove-parameter:2"…)
// and says which list changed and which control should get the focus. ok is
// false for an op the form does not have.
func applyRowOp(f *views.IntegrationForm, op string) (list string, ok bool) {
	verb, idx, _ := strings.Cut(op, ":")
	i, err := strconv.Atoi(idx)
	if strings.HasPrefix(verb, "remove-") && (err != nil || i < 0) {
		return "", false
	}
	switch verb {
	case "add-parameter":
		f.Parameters = append(f.Parameters, views.ParameterRow{})
		f.Focus = views.FieldID(fmt.Sprintf("parameters[%d].name", len(f.Parameters)-1))
		return "parameters", true
	case "remove-parameter":
		if i < len(f.Parameters) {
			f.Parameters = slices.Delete(f.Parameters, i, i+1)
		}
		f.Focus = "add-parameter"
		return "parameters", true
	case "add-request-parameter":
		f.RequestParameters = append(f.RequestParameters, views.RequestParameterRow{In: oauthflow.InHeader})
		f.Focus = views.FieldID(fmt.Sprintf("request_parameters[%d].name", len(f.RequestParameters)-1))
		return "request_parameters", true
	case "remove-request-parameter":
		if i < len(f.RequestParameters) {
			f.RequestParameters = slices.Delete(f.RequestParameters, i, i+1)
		}
		f.Focus = "add-request-parameter"
		return "request_parameters", true
	case "add-base-url":
		f.BaseURLs = append(f.BaseURLs, "")
		f.Focus = views.FieldID(fmt.Sprintf("api_base_urls[%d]", len(f.BaseURLs)-1))
		return "api_base_urls", true
	case "remove-base-url":
		if i < len(f.BaseURLs) {
			f.BaseURLs = slices.Delete(f.BaseURLs, i, i+1)
		}
		f.Focus = "add-base-url"
		return "api_base_urls", true
	}
	return "", false
}
