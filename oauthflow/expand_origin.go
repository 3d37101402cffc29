package oauthflow

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// A URL template may begin with a placeholder that stands for a whole origin
// ("{instance_url}/services/data/"): validation allows that only for a
// capture with allowed hosts, whose stored value checkCaptured already held
// to them. Expansion checks the value's form once more.

// leadingOrigin reports whether tmpl begins with a placeholder standing for
// the origin, and returns its name and the rest of the template.
func leadingOrigin(tmpl string, segs []segment) (name, rest string, ok bool) {
	if len(segs) == 0 || !segs[0].param {
		return "", "", false
	}
	if len(segs) > 1 && (segs[1].param || !strings.ContainsAny(segs[1].text[:1], "/?#")) {
		return "", "", false
	}
	name = segs[0].text
	return name, tmpl[len(name)+2:], true
}

// parseOrigin accepts an absolute https URL (http on a loopback host) with
// no user info, path, query or fragment; a lone "/" path is dropped.
func parseOrigin(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return nil, errors.New("not an absolute URL")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())):
		return nil, errors.New("not https (http is allowed only on loopback)")
	case u.User != nil:
		return nil, errors.New("it carries user:password@")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return nil, errors.New("it has a path, query or fragment; an origin is scheme://host[:port] only")
	}
	h := u.Hostname()
	if !hostChars(h) && net.ParseIP(h) == nil {
		return nil, errors.New("the host is not a valid host name")
	}
	u.Path = ""
	return u, nil
}

// expandLeadingOrigin fills in the origin placeholder of tmpl, if it has
// one, and returns the template with the origin written out (braces in it
// escaped, though a checked origin holds none).
func expandLeadingOrigin(tmpl string, segs []segment, values map[string]string) (string, bool, error) {
	name, rest, ok := leadingOrigin(tmpl, segs)
	if !ok {
		return tmpl, false, nil
	}
	v, err := lookup(values, name)
	if err != nil {
		return "", true, err
	}
	u, err := parseOrigin(v)
	if err != nil {
		return "", true, fmt.Errorf("the value of %q stands for the origin but %v", name, err)
	}
	origin := strings.NewReplacer("{", "{{", "}", "}}").Replace(u.Scheme + "://" + u.Host)
	return origin + rest, true, nil
}

// originNames are the placeholders that stand for an origin at the start of
// some URL template of the integration.
func originNames(in Integration) map[string]bool {
	out := map[string]bool{}
	for _, t := range urlTemplates(in) {
		segs, err := parseTemplate(t)
		if err != nil {
			continue
		}
		if name, _, ok := leadingOrigin(t, segs); ok {
			out[name] = true
		}
	}
	return out
}
