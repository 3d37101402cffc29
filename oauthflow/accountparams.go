package oauthflow

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxParamValue bounds one parameter value.
const maxParamValue = 1000

// ValidateAccountParameters checks an account's parameter values against its
// integration: every declared parameter has a value (one of its allowed
// values when it has a list), no undeclared name is given, a value in the
// host of a credential destination keeps that host on what an admin approved
// (the fixed domain after it, or the allowed values; a parameter with
// neither is refused), and every template expands cleanly with these values
// — a value used in a URL host must produce a host name, a value used in a
// header must not hold CR, LF or NUL. Errors are keyed "parameters.<name>".
func ValidateAccountParameters(in Integration, values map[string]string) FieldErrors {
	fe := FieldErrors{}
	declared := map[string]bool{}
	for _, p := range in.Parameters {
		declared[p.Name] = true
		v, ok := values[p.Name]
		switch {
		case !ok || strings.TrimSpace(v) == "":
			fe[paramPath(p.Name)] = fmt.Sprintf("Enter a value for %s%s.", p.Name, describe(p))
		case len(v) > maxParamValue:
			fe[paramPath(p.Name)] = fmt.Sprintf("%s is longer than %d characters.", p.Name, maxParamValue)
		}
	}
	for name := range values {
		if !declared[name] {
			fe[paramPath(name)] = fmt.Sprintf("%s is not a parameter of this integration: remove it, or declare it on the integration first.", name)
		}
	}
	if len(fe) > 0 {
		return fe
	}
	for _, p := range in.Parameters {
		if msg := accountValueProblem(in, values, p); msg != "" {
			fe[paramPath(p.Name)] = msg
		}
	}
	values = withCaptureTrials(in, values) // captured values arrive at the connect
	for field, tmpl := range urlTemplates(in) {
		if tmpl == "" || tmpl == AnyOrigin {
			continue
		}
		if _, err := ExpandURL(tmpl, values); err != nil {
			blame(fe, tmpl, fmt.Sprintf("makes %s invalid: %v", field, err))
		}
	}
	values = withToken(values, "") // the template's {token} is filled at request time
	for field, tmpl := range headerTemplates(in) {
		if _, err := ExpandHeaderValue(tmpl, values); err != nil {
			blame(fe, tmpl, fmt.Sprintf("makes %s invalid: %v", field, err))
		}
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

func paramPath(name string) string { return "parameters." + name }

func describe(p Parameter) string {
	if p.Description == "" {
		return ""
	}
	return " (" + p.Description + ")"
}

// blame puts an expansion error on each parameter the template uses.
func blame(fe FieldErrors, tmpl, msg string) {
	names, _ := Placeholders(tmpl)
	for _, n := range names {
		if _, ok := fe[paramPath(n)]; !ok {
			fe[paramPath(n)] = fmt.Sprintf("The value of %s %s", n, msg)
		}
	}
}

// urlTemplates are the integration's URL fields by JSON path.
func urlTemplates(in Integration) map[string]string {
	m := map[string]string{
		"oauth2.authorization_url": in.OAuth2.AuthorizationURL,
		"oauth2.token_url":         in.OAuth2.TokenURL,
		"oauth2.revoke_url":        in.OAuth2.RevokeURL,
	}
	for i, u := range in.APIBaseURLs {
		m[fmt.Sprintf("api_base_urls[%d]", i)] = u
	}
	if in.HealthCheck != nil {
		m["health_check.url"] = in.HealthCheck.URL
	}
	if in.OAuth2.UserinfoURL != "" {
		m["oauth2.userinfo_url"] = in.OAuth2.UserinfoURL
	}
	return m
}

// headerTemplates are the templates whose expansion can land in a header.
func headerTemplates(in Integration) map[string]string {
	m := map[string]string{"oauth2.client_id": in.OAuth2.ClientID, "token.template": in.Token.Template}
	for i, rp := range in.RequestParameters {
		m[fmt.Sprintf("request_parameters[%d].value", i)] = rp.Value
	}
	return m
}

// ValidateAccount is the one validation of an account's name and values, for
// the console form and the API alike: the parameters as
// ValidateAccountParameters checks them, a name, and no control characters
// or invalid UTF-8 in either. It returns nil when all is well.
func ValidateAccount(in Integration, name string, values map[string]string) FieldErrors {
	fe := ValidateAccountParameters(in, values)
	if fe == nil {
		fe = FieldErrors{}
	}
	switch {
	case name == "":
		fe["name"] = "Give the account a name, for example PROD."
	case len(name) > 200:
		fe["name"] = "The name is longer than 200 characters."
	case !printableText(name):
		fe["name"] = "The name may not contain control characters (such as line breaks) or invalid UTF-8."
	}
	for k, v := range values {
		if _, bad := fe[paramPath(k)]; !bad && !printableText(v) {
			fe[paramPath(k)] = "The value may not contain control characters (such as line breaks) or invalid UTF-8."
		}
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// printableText reports whether s is valid UTF-8 without control characters.
func printableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
