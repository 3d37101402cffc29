package oauthflow

import (
	"fmt"
	"maps"
	"net"
	"sort"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// normalizeQuirksB trims the captures, identity and required scopes (issue
// 14 part B), drops blank capture rows and an empty identity.
func normalizeQuirksB(o *OAuth2) {
	var caps []Capture
	for _, c := range o.Capture {
		c.Name, c.Path = strings.TrimSpace(c.Name), strings.TrimSpace(c.Path)
		c.From = strings.ToLower(strings.TrimSpace(c.From))
		c.AllowedHosts = trimList(c.AllowedHosts)
		if c.Name != "" || c.Path != "" || c.From != "" || len(c.AllowedHosts) > 0 {
			caps = append(caps, c)
		}
	}
	o.Capture = caps
	o.UserinfoURL = strings.TrimSpace(o.UserinfoURL)
	if id := o.Identity; id != nil {
		id.From, id.Path = strings.ToLower(strings.TrimSpace(id.From)), strings.TrimSpace(id.Path)
		if id.From == "" && id.Path == "" {
			o.Identity = nil
		}
	}
	var scopes []string
	for _, s := range o.RequiredScopes {
		scopes = append(scopes, strings.Fields(s)...)
	}
	o.RequiredScopes = scopes
}

// declareCaptures makes every well-formed capture name usable as a
// placeholder, with a trial value that fits where it is used.
func (v *validator) declareCaptures(in Integration) {
	origins := originNames(in)
	for n := range origins {
		if v.declared[n] { // a parameter there: captureHosts says why it may not
			v.trial[n] = "https://example.com"
		}
	}
	for _, c := range in.OAuth2.Capture {
		if !isParamName(c.Name) || c.Name == "token" || v.declared[c.Name] {
			continue
		}
		v.declared[c.Name], v.trial[c.Name] = true, "example"
		if origins[c.Name] {
			v.trial[c.Name] = "https://example.com"
		}
	}
}

// quirksB checks the capture, userinfo_url, identity and required_scopes
// fields (issue 14 part B).
func (v *validator) quirksB(in Integration, params map[string]bool) {
	o := in.OAuth2
	if len(o.Capture) > maxListLen {
		v.fe.add("oauth2.capture", fmt.Sprintf("At most %d captures are allowed: remove some", maxListLen))
	}
	seen := map[string]int{}
	for i, c := range o.Capture[:min(len(o.Capture), maxListLen)] {
		v.capture(i, c, params, seen, o.UserinfoURL != "")
	}
	v.url("oauth2.userinfo_url", o.UserinfoURL, "")
	if id := o.Identity; id != nil {
		switch {
		case id.From != FromTokenResponse && id.From != FromIDToken && id.From != FromUserinfo && id.From != FromCallback:
			v.fe.add("oauth2.identity.from", "Identity source must be token_response, id_token, userinfo or callback")
		case id.From == FromUserinfo && o.UserinfoURL == "":
			v.fe.add("oauth2.identity.from", "The identity comes from the userinfo answer: set oauth2.userinfo_url too")
		}
		v.capturePath("oauth2.identity.path", id.Path, "Identity path is required, e.g. sub or user.id")
	}
	for i, s := range o.RequiredScopes[:min(len(o.RequiredScopes), maxListLen)] {
		if hasControl(s) || len(s) > 200 {
			v.fe.add(fmt.Sprintf("oauth2.required_scopes[%d]", i), "A scope may be at most 200 characters, without control characters")
		}
	}
	if len(o.RequiredScopes) > maxListLen {
		v.fe.add("oauth2.required_scopes", fmt.Sprintf("At most %d required scopes are allowed", maxListLen))
	}
}

func (v *validator) capture(i int, c Capture, params map[string]bool, seen map[string]int, userinfo bool) {
	p := fmt.Sprintf("oauth2.capture[%d]", i)
	j, dup := seen[c.Name]
	switch {
	case c.Name == "":
		v.fe.add(p+".name", "Capture name is required, e.g. instance_url")
	case !isParamName(c.Name) || len(c.Name) > maxParamNameLen:
		v.fe.add(p+".name", fmt.Sprintf("Capture name may contain only letters, digits and underscore (at most %d)", maxParamNameLen))
	case c.Name == "token":
		v.fe.add(p+".name", "token is reserved for the access token: choose another name")
	case params[c.Name]:
		v.fe.add(p+".name", fmt.Sprintf("%s is already a parameter: a captured value needs a name of its own", c.Name))
	case dup:
		v.fe.add(p+".name", fmt.Sprintf("%s is already captured as oauth2.capture[%d]: rename or remove one", c.Name, j))
	default:
		seen[c.Name] = i
	}
	switch {
	case c.From != FromTokenResponse && c.From != FromCallback && c.From != FromUserinfo:
		v.fe.add(p+".from", "Source must be token_response, callback or userinfo")
	case c.From == FromUserinfo && !userinfo:
		v.fe.add(p+".from", "This capture reads the userinfo answer: set oauth2.userinfo_url too")
	}
	v.capturePath(p+".path", c.Path, "Path is required: a JSON path such as instance_url or data[0].id (for callback, the query parameter)")
	if len(c.AllowedHosts) > maxListLen {
		v.fe.add(p+".allowed_hosts", fmt.Sprintf("At most %d allowed hosts", maxListLen))
	}
	for _, h := range c.AllowedHosts {
		if msg := hostPatternProblem(h); msg != "" {
			v.fe.add(p+".allowed_hosts", msg)
		}
	}
}

func (v *validator) capturePath(path, s, required string) {
	switch {
	case s == "":
		v.fe.add(path, required)
	case len(s) > 200 || hasControl(s):
		v.fe.add(path, "A path may be at most 200 characters, without control characters")
	}
}

// hostPatternProblem says what is wrong with an allowed_hosts entry.
func hostPatternProblem(h string) string {
	if net.ParseIP(h) != nil {
		return ""
	}
	name, wild := strings.CutPrefix(strings.ToLower(h), "*.")
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || !hostChars(l) {
			return fmt.Sprintf("%q is not a host name, an IP literal or *.suffix (e.g. *.salesforce.com)", truncateText(h, 60))
		}
	}
	if wild {
		if ps, _ := publicsuffix.PublicSuffix(name); ps == name {
			return fmt.Sprintf("%s would allow every host under the public suffix %s: name the provider's domain, e.g. *.example.com", h, name)
		}
	}
	return ""
}

// captureHosts holds captured values in hosts and origins to their allowed
// hosts: a capture that lands in a host or stands for an origin must list
// them, a parameter may not stand for an origin, and a value that no answer
// has given yet may not be needed before it can arrive.
func (v *validator) captureHosts(in Integration) {
	caps := map[string]int{}
	for i, c := range in.OAuth2.Capture {
		caps[c.Name] = i
	}
	origins := originNames(in)
	tmpls := urlTemplates(in)
	paths := make([]string, 0, len(tmpls))
	for p := range tmpls {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		tmpl := tmpls[path]
		names, _ := hostParams(tmpl)
		segs, _ := parseTemplate(tmpl)
		if on, _, ok := leadingOrigin(tmpl, segs); ok {
			names = append(names, on)
		}
		for _, n := range names {
			i, isCap := caps[n]
			switch {
			case !isCap && origins[n]:
				v.fe.add(path, fmt.Sprintf("{%s} stands for the whole origin, which only a captured value with allowed_hosts may do: write the scheme and host, and use the parameter in the host name", n))
			case isCap && len(in.OAuth2.Capture[i].AllowedHosts) == 0:
				v.fe.add(fmt.Sprintf("oauth2.capture[%d].allowed_hosts", i), fmt.Sprintf("%s lands in the host of %s: list the hosts it may take (e.g. *.salesforce.com), or Airlock could send credentials anywhere the provider's answer says", n, path))
			}
		}
		v.captureTiming(in, path, tmpl, caps)
	}
}

// captureTiming refuses a capture in a URL used before its answer arrives:
// the authorization URL comes before every answer; the token and revocation
// endpoints of the code exchange can use only callback captures.
func (v *validator) captureTiming(in Integration, path, tmpl string, caps map[string]int) {
	if path != "oauth2.authorization_url" && path != "oauth2.token_url" && path != "oauth2.revoke_url" {
		return
	}
	names, _ := Placeholders(tmpl)
	for _, n := range names {
		i, ok := caps[n]
		if !ok {
			continue
		}
		from := in.OAuth2.Capture[i].From
		if path == "oauth2.authorization_url" {
			v.fe.add(path, fmt.Sprintf("{%s} is captured from the provider's answers, which come after the authorization URL: use a parameter instead", n))
		} else if from != FromCallback {
			v.fe.add(path, fmt.Sprintf("{%s} comes from the %s, which arrives after the code exchange: only callback captures can be used here", n, from))
		}
	}
}

// capturedHostsChanges marks (admin only) every capture whose allowed hosts
// differ from those its name had before: like a parameter's allowed values,
// they are how an admin approves where credentials may go.
func capturedHostsChanges(prev, in Integration, fe FieldErrors) {
	before := map[string][]string{}
	for _, c := range prev.OAuth2.Capture {
		before[c.Name] = c.AllowedHosts
	}
	for i, c := range in.OAuth2.Capture {
		if !sameSet(before[c.Name], c.AllowedHosts) {
			fe[fmt.Sprintf("oauth2.capture[%d].allowed_hosts", i)] = "Only an admin may set or change a capture's allowed hosts: they decide where credentials may be sent."
		}
	}
}

// withCaptureTrials adds a trial value for every capture to an account's
// values, so its templates can be checked before the provider answers.
func withCaptureTrials(in Integration, values map[string]string) map[string]string {
	if len(in.OAuth2.Capture) == 0 {
		return values
	}
	origins := originNames(in)
	m := maps.Clone(values)
	if m == nil {
		m = map[string]string{}
	}
	for _, c := range in.OAuth2.Capture {
		if _, ok := m[c.Name]; ok {
			continue
		}
		m[c.Name] = "example"
		if origins[c.Name] {
			m[c.Name] = "https://example.com"
		}
	}
	return m
}

// captureStandIns gives every capture a stand-in in the builder's preview:
// an origin one where the capture stands for the origin.
func captureStandIns(in Integration, s *standIns, next func() string) {
	origins := originNames(in)
	for _, c := range in.OAuth2.Capture {
		if _, taken := s.values[c.Name]; taken || !isParamName(c.Name) {
			continue
		}
		v := next()
		if origins[c.Name] {
			v = "https://" + v
		}
		s.values[c.Name] = v
		s.pairs = append(s.pairs, v, "{"+c.Name+"}")
	}
}
