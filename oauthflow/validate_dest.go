package oauthflow

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// trimList trims every entry and drops the blank ones; nil when none is left.
func trimList(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// allowedValues checks a parameter's list of allowed values.
func (v *validator) allowedValues(path string, vals []string) {
	if len(vals) > maxListLen {
		v.fe.add(path, fmt.Sprintf("At most %d allowed values are allowed: remove some", maxListLen))
		return
	}
	seen := map[string]bool{}
	for _, s := range vals {
		switch {
		case utf8.RuneCountInString(s) > maxParamValue:
			v.fe.add(path, fmt.Sprintf("An allowed value may be at most %d characters", maxParamValue))
		case hasControl(s) || strings.Contains(s, ","):
			v.fe.add(path, "An allowed value may not contain a comma, a line break or a control character: list the values separated by commas")
		case seen[s]:
			v.fe.add(path, fmt.Sprintf("%s is listed twice: keep one", truncateText(s, 40)))
		}
		seen[s] = true
	}
}

// destinations checks the credential destinations as a whole: the health
// check lies under an API base URL, and a parameter in a destination's host
// cannot take it to any host.
func (v *validator) destinations(in Integration) {
	if hc := in.HealthCheck; hc != nil && hc.URL != "" && v.fe["health_check.url"] == "" && !v.hasErrorUnder("api_base_urls") && !healthUnderBases(in) {
		v.fe.add("health_check.url", "The health check URL must lie under one of the API base URLs (it receives the token): "+
			"add its origin and path prefix to API base URLs, or change the URL")
	}
	allowed := allowedValues(in)
	paths := make([]string, 0, 4)
	urls := CredentialURLs(in)
	for p := range urls {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if v.fe[path] != "" {
			continue
		}
		if names, _ := unconstrainedHostParams(urls[path], allowed); len(names) > 0 {
			v.fe.add(path, hostConstraintMessage(names[0]))
		}
	}
}

// hasErrorUnder reports whether a path at or below prefix has an error.
func (v *validator) hasErrorUnder(prefix string) bool {
	for p := range v.fe {
		if p == prefix || strings.HasPrefix(p, prefix+"[") || strings.HasPrefix(p, prefix+".") {
			return true
		}
	}
	return false
}

// healthUnderBases reports whether the health check URL is under one of the
// API base URLs for any values: each parameter gets a trial value of its own,
// so "{a}" and "{b}" are not taken for the same host.
func healthUnderBases(in Integration) bool {
	if AllowsAnyOrigin(in) {
		return true
	}
	trial := map[string]string{}
	for i, p := range in.Parameters {
		trial[p.Name] = "p" + strconv.Itoa(i) + "x"
	}
	u, err := ExpandURL(in.HealthCheck.URL, trial)
	if err != nil {
		return true // the URL's own error is reported on the field
	}
	return checkAgainst(expandBases(in.APIBaseURLs, trial), u) == nil
}

// truncateText shortens s to n characters for a message.
func truncateText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// accountValueProblem says what is wrong with an account's value for a
// parameter: outside the allowed values, or taking a destination's host out
// of its fixed domain, or landing in a host nothing constrains. "" when fine.
func accountValueProblem(in Integration, values map[string]string, p Parameter) string {
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, values[p.Name]) {
		return fmt.Sprintf("%s must be one of the integration's allowed values: %s.", p.Name, strings.Join(p.AllowedValues, ", "))
	}
	allowed := allowedValues(in)
	for path, tmpl := range CredentialURLs(in) {
		names, domain := hostParams(tmpl)
		if !slices.Contains(names, p.Name) {
			continue
		}
		if domain == "" {
			if len(p.AllowedValues) == 0 {
				return fmt.Sprintf("%s goes into the host of %s, which nothing pins down: an admin must give %s a list of allowed values "+
					"(or the URL a fixed domain after it) before an account can use it.", p.Name, path, p.Name)
			}
			if missing, _ := unconstrainedHostParams(tmpl, allowed); len(missing) > 0 {
				return fmt.Sprintf("%s shares the host of %s with %s, which nothing pins down: an admin must give %s a list of allowed values.",
					p.Name, path, missing[0], missing[0])
			}
			continue
		}
		if got := expandedDomain(tmpl, values); got != "" && got != domain {
			return fmt.Sprintf("The value of %s moves the host of %s out of %s: use a value that keeps the host under %s.", p.Name, path, domain, domain)
		}
	}
	return ""
}

// expandedDomain is the registrable domain of tmpl's host filled in with
// values; "" when it does not expand (the expansion check reports that), "-"
// when the host has no registrable domain at all.
func expandedDomain(tmpl string, values map[string]string) string {
	u, err := ExpandURL(tmpl, values)
	if err != nil {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(u.Hostname()))
	if err != nil {
		return "-"
	}
	return d
}
