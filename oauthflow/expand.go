package oauthflow

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// segment is one piece of a parsed template: literal text or a placeholder.
type segment struct {
	text  string // literal text (braces already unescaped) or the parameter name
	param bool
}

// parseTemplate splits a template into literal text and {name} placeholders.
// {{ and }} stand for literal braces. Positions in errors are 1-based
// character positions, which is what a person counts in a form field.
func parseTemplate(tmpl string) ([]segment, error) {
	if !strings.ContainsAny(tmpl, "{}") { // most templates hold none; parsed on every request
		if tmpl == "" {
			return nil, nil
		}
		return []segment{{text: tmpl}}, nil
	}
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{text: lit.String()})
			lit.Reset()
		}
	}
	pos := func(i int) int { return utf8.RuneCountInString(tmpl[:i]) + 1 }
	for i := 0; i < len(tmpl); {
		switch c := tmpl[i]; c {
		case '{':
			if strings.HasPrefix(tmpl[i:], "{{") {
				lit.WriteByte('{')
				i += 2
				continue
			}
			end := strings.IndexByte(tmpl[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '{' at position %d: write {{ for a literal brace", pos(i))
			}
			name := tmpl[i+1 : i+1+end]
			if name == "" {
				return nil, fmt.Errorf("empty {} at position %d: put a parameter name inside the braces, or write {{}} for literal braces", pos(i))
			}
			if !isParamName(name) {
				return nil, fmt.Errorf("invalid parameter name %q at position %d: names may contain only letters, digits and underscore (write {{ and }} for literal braces)", name, pos(i))
			}
			flush()
			segs = append(segs, segment{text: name, param: true})
			i += end + 2
		case '}':
			if strings.HasPrefix(tmpl[i:], "}}") {
				lit.WriteByte('}')
				i += 2
				continue
			}
			return nil, fmt.Errorf("unmatched '}' at position %d: write }} for a literal brace", pos(i))
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return segs, nil
}

// isParamName reports whether s is a valid parameter name: ASCII letters,
// digits and underscore, so a name never needs escaping anywhere.
func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Placeholders returns the parameter names a template uses, each once, in the
// order of their first use; validation compares them with the declared ones.
func Placeholders(tmpl string) ([]string, error) {
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, s := range segs {
		if s.param && !seen[s.text] {
			seen[s.text] = true
			names = append(names, s.text)
		}
	}
	return names, nil
}

// lookup returns a parameter's value, or an error that names the parameter
// (never its value: values may be secrets).
func lookup(values map[string]string, name string) (string, error) {
	v, ok := values[name]
	if !ok {
		return "", fmt.Errorf("no value for parameter %q: give the account a value for it", name)
	}
	return v, nil
}

// Expand replaces {name} placeholders with values, in one pass: a value is
// inserted as it is and never expanded again. {token} is not special here;
// callers that inject tokens pass it in values.
func Expand(tmpl string, values map[string]string) (string, error) {
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range segs {
		if !s.param {
			b.WriteString(s.text)
			continue
		}
		v, err := lookup(values, s.text)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// ExpandHeaderValue is Expand for a header value: the result may hold no
// control characters except tab (CR and LF would let a value add headers,
// NUL and the rest are refused by HTTP anyway).
func ExpandHeaderValue(tmpl string, values map[string]string) (string, error) {
	return expandHeader(tmpl, values, "", false)
}

// expandHeader is ExpandHeaderValue; with withToken, {token} is token
// whatever values hold (the token template, filled on every request without
// copying the account's values into a map of their own).
func expandHeader(tmpl string, values map[string]string, token string, withToken bool) (string, error) {
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range segs {
		v := s.text
		switch {
		case s.param && withToken && s.text == "token":
			v = token
		case s.param:
			if v, err = lookup(values, s.text); err != nil {
				return "", err
			}
		}
		if hasControl(v) {
			where := "the template"
			if s.param {
				where = fmt.Sprintf("the value of parameter %q", s.text)
			}
			return "", fmt.Errorf("%s contains a line break or control character, which a header value may not hold", where)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// hasControl reports ASCII control characters other than tab.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// errNotAbsolute is returned when a URL template does not give an absolute
// http(s) URL; validation turns it into a field message.
var errNotAbsolute = errors.New("must be an absolute http or https URL, e.g. https://api.example.com/v1")

// ExpandURL expands a URL template so that no value can change the scheme,
// the host boundary or the port. It first parses the template with each
// placeholder replaced by an inert marker, finds the component every marker
// landed in, and only then substitutes: a host value must be a plain host
// name (letters, digits, '-', '.'), a path value is escaped as one path
// segment, a query value with query escaping. The result is re-parsed and
// compared with the skeleton's scheme and port as a last check.
func ExpandURL(tmpl string, values map[string]string) (*url.URL, error) {
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	if t, ok, err := expandLeadingOrigin(tmpl, segs, values); ok {
		if err != nil {
			return nil, err
		}
		return ExpandURL(t, values)
	}
	sk := newSkeleton(tmpl, segs)
	u, err := url.Parse(sk.text)
	if err != nil {
		return nil, sk.parseError()
	}
	if err := sk.checkStructure(u); err != nil {
		return nil, err
	}
	host := u.Host // an IPv6 literal stays: checkStructure refused markers in it
	if !strings.HasPrefix(host, "[") {
		if host, err = sk.expandHost(u.Hostname(), values); err != nil {
			return nil, err
		}
		if u.Port() != "" {
			host += ":" + u.Port()
		}
	}
	path, err := sk.expandPath(u.EscapedPath(), values)
	if err != nil {
		return nil, err
	}
	query, err := sk.expand(u.RawQuery, values, url.QueryEscape)
	if err != nil {
		return nil, err
	}
	frag, err := sk.expand(u.EscapedFragment(), values, url.PathEscape)
	if err != nil {
		return nil, err
	}
	s := u.Scheme + "://" + host + path
	if u.ForceQuery || query != "" {
		s += "?" + query
	}
	if frag != "" {
		s += "#" + frag
	}
	if s == sk.text {
		return u, nil // no placeholder, nothing dropped: u is what parsing s again would give
	}
	out, err := url.Parse(s)
	if err != nil || out.Scheme != u.Scheme || out.Host != host || out.User != nil || out.Port() != u.Port() {
		return nil, fmt.Errorf("the expanded URL changed structure; check the parameter values")
	}
	return out, nil
}

// skeleton is a URL template with every placeholder replaced by a marker: a
// run of lower-case letters and digits that is valid in any URL component and
// cannot occur in the template's own text.
type skeleton struct {
	text    string
	markers []string // markers[i] stands for names[i]
	names   []string
}

func newSkeleton(tmpl string, segs []segment) *skeleton {
	if len(segs) == 1 && !segs[0].param { // no placeholder: no marker to choose
		return &skeleton{text: segs[0].text}
	}
	prefix, low := "xplh", strings.ToLower(tmpl)
	for strings.Contains(low, prefix) {
		prefix += "q"
	}
	sk := &skeleton{}
	var b strings.Builder
	for _, s := range segs {
		if !s.param {
			b.WriteString(s.text)
			continue
		}
		// The trailing z ends the number, so no marker is a prefix of another.
		m := fmt.Sprintf("%s%dz", prefix, len(sk.markers))
		sk.markers = append(sk.markers, m)
		sk.names = append(sk.names, s.text)
		b.WriteString(m)
	}
	sk.text = b.String()
	return sk
}

// count is how many markers occur in s.
func (sk *skeleton) count(s string) int {
	n := 0
	for _, m := range sk.markers {
		n += strings.Count(s, m)
	}
	return n
}

// unmark puts {name} back where markers are, for messages.
func (sk *skeleton) unmark(s string) string {
	for i, m := range sk.markers {
		s = strings.ReplaceAll(s, m, "{"+sk.names[i]+"}")
	}
	return s
}

// parseError explains why the skeleton is not a URL, pointing at a
// placeholder in the port or an IPv6 literal, where url.Parse refuses markers.
func (sk *skeleton) parseError() error {
	rest := sk.text
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.HasPrefix(rest, "[") && sk.count(rest) > 0 {
		return errors.New("a placeholder may not be used inside an IPv6 address")
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "]") && sk.count(rest[i:]) > 0 {
		return errors.New("a placeholder may not be used in the port: write the port as a number")
	}
	if _, err := url.Parse(sk.text); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a valid URL (%s); it %w", sk.unmark(err.Error()), errNotAbsolute)
	}
	return errNotAbsolute
}

// checkStructure refuses templates whose scheme, user info or port holds a
// placeholder, and those that are not absolute http(s) URLs.
func (sk *skeleton) checkStructure(u *url.URL) error {
	if sk.count(u.Scheme) > 0 {
		return errors.New("a placeholder may not be used in the scheme: write http:// or https://")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return fmt.Errorf("the URL is relative; it %w", errNotAbsolute)
		}
		return fmt.Errorf("scheme %q is not allowed; the URL %w", u.Scheme, errNotAbsolute)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("the URL has no host; it %w", errNotAbsolute)
	}
	if u.User != nil {
		return errors.New("a URL may not contain user:password@; put credentials in the client id and secret or a request parameter")
	}
	if sk.count(u.Port()) > 0 {
		return errors.New("a placeholder may not be used in the port: write the port as a number")
	}
	if strings.HasPrefix(u.Host, "[") && sk.count(u.Host) > 0 {
		return errors.New("a placeholder may not be used inside an IPv6 address")
	}
	found := sk.count(u.Hostname()) + sk.count(u.EscapedPath()) + sk.count(u.RawQuery) + sk.count(u.EscapedFragment())
	if found != len(sk.markers) {
		return errors.New("a placeholder is in a part of the URL where parameters are not allowed: use them in the host name, the path, the query or the fragment")
	}
	return nil
}

// replace substitutes the markers found in s, in one pass so that a value is
// never scanned for markers again; esc checks or escapes each value.
func (sk *skeleton) replace(s string, values map[string]string, esc func(name, v string) (string, error)) (string, error) {
	var pairs []string
	for i, m := range sk.markers {
		if !strings.Contains(s, m) {
			continue
		}
		v, err := lookup(values, sk.names[i])
		if err != nil {
			return "", err
		}
		if v, err = esc(sk.names[i], v); err != nil {
			return "", err
		}
		pairs = append(pairs, m, v)
	}
	if pairs == nil {
		return s, nil
	}
	return strings.NewReplacer(pairs...).Replace(s), nil
}

// expand substitutes markers with an escaping function that cannot fail.
func (sk *skeleton) expand(s string, values map[string]string, esc func(string) string) (string, error) {
	return sk.replace(s, values, func(_, v string) (string, error) { return esc(v), nil })
}

// expandHost substitutes host markers; a value must be host-name text, and a
// host that holds a placeholder must come out as a plain DNS-style name.
func (sk *skeleton) expandHost(host string, values map[string]string) (string, error) {
	if sk.count(host) == 0 {
		return host, nil
	}
	out, err := sk.replace(host, values, func(name, v string) (string, error) {
		if !hostChars(v) {
			return "", fmt.Errorf("the value of parameter %q cannot be used in the host: a host name may contain only letters, digits, '-' and '.'", name)
		}
		return v, nil
	})
	if err != nil {
		return "", err
	}
	if len(out) > 253 {
		return "", errors.New("the expanded host name is longer than 253 characters")
	}
	for _, label := range strings.Split(out, ".") {
		if label == "" || len(label) > 63 || !hostChars(label) {
			return "", fmt.Errorf("the expanded host %q is not a valid host name: check the parameter values (no empty parts, no '..')", out)
		}
	}
	return out, nil
}

// hostChars reports whether s has only letters, digits, '-' and '.'.
func hostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// expandPath escapes each value as one path segment, so a value can add
// neither segments nor a "." or ".." that would climb out of the path.
func (sk *skeleton) expandPath(path string, values map[string]string) (string, error) {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if sk.count(p) == 0 {
			continue
		}
		var last string
		out, err := sk.replace(p, values, func(name, v string) (string, error) {
			last = name
			return url.PathEscape(v), nil
		})
		if err != nil {
			return "", err
		}
		if out == "." || out == ".." {
			return "", fmt.Errorf("the value of parameter %q would make a %q path segment; use a value that names something", last, out)
		}
		parts[i] = out
	}
	return strings.Join(parts, "/"), nil
}
