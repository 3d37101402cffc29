package views

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// How the integration form names and orders its fields, for the error
// summary, the messages beside the controls and the preview's checks. Paths
// are the JSON paths oauthflow.Validate blames.

// fieldOrder ranks JSON paths in the order the form shows them, so a list
// of problems reads top to bottom.
var fieldOrder = []string{
	"name", "key", "parameters", "oauth2.grant_type", "oauth2.authorization_url", "oauth2.token_url", "oauth2.token_method",
	"oauth2.revoke_url", "oauth2.scope", "oauth2.client_id", "oauth2.client_secret", "oauth2.client_auth", "oauth2.pkce",
	"oauth2.authorization_params", "oauth2.token_params", "oauth2.issuer", "oauth2.refresh_window_seconds",
	"oauth2.rejected_statuses", "oauth2.capture", "oauth2.userinfo_url", "oauth2.identity", "oauth2.required_scopes", "token.name", "token.template", "token.in", "request_parameters", "api_base_urls", "health_check",
	"oauth2.token_body", "oauth2.refresh_url", "oauth2.refresh_params", "oauth2.token_response", "rejected_responses",
}

var fieldLabels = map[string]string{
	"name": "Name", "key": "Key", "parameters": "Integration parameters",
	"oauth2.grant_type": "Grant type", "oauth2.authorization_url": "Authorization endpoint", "oauth2.token_url": "Access token endpoint",
	"oauth2.token_method": "Access token verb", "oauth2.revoke_url": "Revoke token endpoint", "oauth2.scope": "Scope",
	"oauth2.client_id": "Client ID", "oauth2.client_secret": "Client secret", "oauth2.client_auth": "Client authentication",
	"oauth2.pkce": "PKCE", "oauth2.authorization_params": "Extra authorization parameters", "oauth2.token_params": "Extra token parameters",
	"oauth2.capture": "Captured values", "oauth2.userinfo_url": "Userinfo URL", "oauth2.identity.from": "Identity source",
	"oauth2.identity.path": "Identity path", "oauth2.required_scopes": "Required scopes",
	"oauth2.issuer": "Expected issuer", "oauth2.refresh_window_seconds": "Refresh window", "oauth2.rejected_statuses": "Token rejected statuses",
	"token.name": "Token parameter name", "token.template": "Token value template", "token.in": "Token parameter type",
	"request_parameters": "Request parameters", "api_base_urls": "API base URLs",
	"health_check.method": "Health check method", "health_check.url": "Health check URL", "health_check.expect_status": "Health check expected status",
	"oauth2.token_body": "Token request body", "oauth2.refresh_url": "Refresh endpoint", "oauth2.refresh_params": "Extra refresh parameters",
	"oauth2.token_response.access_token": "Access token path", "oauth2.token_response.refresh_token": "Refresh token path",
	"oauth2.token_response.expires_in": "Expires in path", "oauth2.token_response.expires_at": "Expires at path",
	"oauth2.token_response.expires_at_format": "Expires at format", "oauth2.token_response.scope": "Scope path",
	"rejected_responses": "Token rejected rules",
}

var ruleIndexRE = regexp.MustCompile(`^rejected_responses\[(\d+)\](?:\.([\w\[\]]+))?$`)

var indexedPathRE = regexp.MustCompile(`^(parameters|request_parameters|api_base_urls)\[(\d+)\](?:\.(\w+))?$`)

// formField is the form control that shows a path's error: extra
// parameters and rejected statuses are one control each in the form.
func formField(path string) string {
	for _, agg := range []string{"oauth2.authorization_params", "oauth2.token_params", "oauth2.rejected_statuses", "oauth2.capture", "oauth2.required_scopes", "oauth2.refresh_params", "rejected_responses"} {
		if strings.HasPrefix(path, agg) {
			return agg
		}
	}
	return path
}

// fieldLabel names a path for people: "Parameter 2 name".
func fieldLabel(path string) string {
	if l, ok := fieldLabels[path]; ok {
		return l
	}
	if m := indexedPathRE.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[2])
		what := map[string]string{"parameters": "Parameter", "request_parameters": "Request parameter", "api_base_urls": "API base URL"}[m[1]]
		return strings.TrimSpace(fmt.Sprintf("%s %d %s", what, n+1, strings.ReplaceAll(m[3], "_", " ")))
	}
	if m := ruleIndexRE.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[1])
		return strings.TrimSpace(fmt.Sprintf("Token rejected rule %d %s", n+1, strings.ReplaceAll(m[2], "_", " ")))
	}
	if ctl := formField(path); ctl != path {
		if name := strings.TrimPrefix(path[len(ctl):], "."); name != "" && !strings.HasPrefix(name, "[") {
			return fieldLabels[ctl] + " (" + clip(name, 40) + ")"
		}
		return fieldLabels[ctl]
	}
	return path
}

func fieldRank(path string) int {
	for i, p := range fieldOrder {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return i
		}
	}
	return len(fieldOrder)
}

// PlaceErrors places errors on the integration form: a map by control for
// the fields, and the full list, in form order, for the summary and the
// preview.
func PlaceErrors(fe map[string]string) (map[string]string, []FormError) {
	byField := map[string]string{}
	list := make([]FormError, 0, len(fe))
	for _, p := range SortedPaths(fe) {
		ctl := formField(p)
		if _, ok := byField[ctl]; !ok {
			byField[ctl] = fe[p]
		}
		list = append(list, FormError{ID: FieldID(ctl), Label: fieldLabel(p), Message: fe[p]})
	}
	return byField, list
}

// SortedPaths lists the paths of fe in form order.
func SortedPaths(fe map[string]string) []string {
	paths := make([]string, 0, len(fe))
	for p := range fe {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		ri, rj := fieldRank(paths[i]), fieldRank(paths[j])
		if ri != rj {
			return ri < rj
		}
		return naturalLess(paths[i], paths[j])
	})
	return paths
}

// naturalLess orders parameters[2] before parameters[10].
func naturalLess(a, b string) bool {
	ma, mb := indexedPathRE.FindStringSubmatch(a), indexedPathRE.FindStringSubmatch(b)
	if ma != nil && mb != nil && ma[1] == mb[1] {
		ia, _ := strconv.Atoi(ma[2])
		ib, _ := strconv.Atoi(mb[2])
		if ia != ib {
			return ia < ib
		}
	}
	return a < b
}

// clip shortens s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
