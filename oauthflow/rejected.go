package oauthflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// RejectedRule marks an API answer as "token rejected" although its status is
// not one of the rejected statuses: Slack answers an expired token with 200
// {"ok":false}, Marketo with 200 {"errors":[{"code":"602"}]}. Every
// condition set must hold: the status is one of Statuses (any when empty),
// and either the JSON body's value at BodyPath equals Equals or matches
// Matches, or the Header's value contains Contains (case-insensitively),
// equals Equals or matches Matches.
type RejectedRule struct {
	Statuses []int  `json:"statuses,omitempty"`
	BodyPath string `json:"body_path,omitempty"`
	Header   string `json:"header,omitempty"`
	Equals   string `json:"equals,omitempty"`
	Matches  string `json:"matches,omitempty"` // a Go regular expression (RE2)
	Contains string `json:"contains,omitempty"`
}

// Rejected reports whether an API status means the token was rejected.
func (in Integration) Rejected(status int) bool {
	rs := in.OAuth2.RejectedStatuses
	if len(rs) == 0 {
		rs = DefaultRejectedStatuses
	}
	return slices.Contains(rs, status)
}

// RejectedResponse reports whether an API answer means the token was
// rejected: a rejected status, or a match of one of RejectedResponses. The
// runner treats both alike (refresh once, retry once).
func (in Integration) RejectedResponse(status int, header http.Header, body []byte) bool {
	if in.Rejected(status) {
		return true
	}
	var doc any
	parsed := false
	for _, r := range in.RejectedResponses {
		if len(r.Statuses) > 0 && !slices.Contains(r.Statuses, status) {
			continue
		}
		if r.Header != "" {
			if _, ok := header[http.CanonicalHeaderKey(r.Header)]; ok && r.valueMatches(strings.Join(header.Values(r.Header), ", ")) {
				return true
			}
			continue
		}
		if r.BodyPath == "" {
			return true // statuses alone
		}
		if !parsed {
			doc, parsed = decodeBody(body), true
		}
		if v, ok := LookupPath(doc, r.BodyPath); ok && doc != nil && r.valueMatches(valueText(v)) {
			return true
		}
	}
	return false
}

// valueMatches applies the rule's comparison to a value's text.
func (r RejectedRule) valueMatches(s string) bool {
	switch {
	case r.Contains != "":
		return strings.Contains(strings.ToLower(s), strings.ToLower(r.Contains))
	case r.Matches != "":
		re, err := compiledRule(r.Matches)
		return err == nil && re.MatchString(s)
	default:
		return s == r.Equals
	}
}

// ruleRegexps holds each rule's compiled expression (pattern → *regexp.Regexp):
// rules are checked on every API answer that matches their statuses, and a
// pattern compiles once per process rather than per answer.
var ruleRegexps sync.Map

// compiledRule is regexp.Compile, remembered per pattern (patterns are
// validated on save, so the set is small and only grows with edits).
func compiledRule(pattern string) (*regexp.Regexp, error) {
	if re, ok := ruleRegexps.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err == nil {
		ruleRegexps.Store(pattern, re)
	}
	return re, err
}

// decodeBody is the answer as JSON, nil when it is not JSON.
func decodeBody(body []byte) any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return nil
	}
	return doc
}

// valueText is how a JSON value compares with equals and matches: strings
// as they are, numbers as written, true/false/null as in JSON, objects and
// arrays as compact JSON.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// rejectedRules checks rejected_responses: each rule names what it looks at
// (body_path or header, not both) and exactly one comparison that fits it.
func (v *validator) rejectedRules(rules []RejectedRule) {
	if len(rules) > maxListLen {
		v.fe.add("rejected_responses", fmt.Sprintf("At most %d rules are allowed: remove some", maxListLen))
		return
	}
	for i, r := range rules {
		p := fmt.Sprintf("rejected_responses[%d]", i)
		for j, s := range r.Statuses {
			if s < 100 || s > 599 {
				v.fe.add(fmt.Sprintf("%s.statuses[%d]", p, j), fmt.Sprintf("%d is not an HTTP status: use 100 to 599", s))
			}
		}
		n := 0
		for _, c := range []string{r.Equals, r.Matches, r.Contains} {
			if c != "" {
				n++
			}
		}
		switch {
		case r.BodyPath != "" && r.Header != "":
			v.fe.add(p+".header", "A rule looks at the body (body_path) or a header, not both: split it into two rules")
		case r.BodyPath != "":
			if err := ValidatePath(r.BodyPath); err != nil {
				v.fe.add(p+".body_path", "Not a JSON path: "+err.Error()+` (write a.b or a[0].b, e.g. errors[0].code)`)
			}
			if r.Contains != "" {
				v.fe.add(p+".contains", `contains applies to a header; for the body use equals or matches, e.g. "equals": "false"`)
			} else if n != 1 {
				v.fe.add(p+".equals", `Give exactly one of equals or matches for the value at body_path, e.g. "equals": "false"`)
			}
		case r.Header != "":
			if !validHeaderName(r.Header) {
				v.fe.add(p+".header", "Not a header name: use letters, digits and dashes, e.g. WWW-Authenticate")
			}
			if n != 1 {
				v.fe.add(p+".contains", `Give exactly one of contains, equals or matches for the header, e.g. "contains": "invalid_token"`)
			}
		case n > 0:
			v.fe.add(p+".body_path", "Say what to compare: a body_path (e.g. ok) or a header (e.g. WWW-Authenticate)")
		case len(r.Statuses) == 0:
			v.fe.add(p+".statuses", "An empty rule would mark every answer as rejected: give statuses, a body_path or a header")
		}
		if r.Matches != "" {
			if _, err := regexp.Compile(r.Matches); err != nil {
				v.fe.add(p+".matches", "Not a regular expression: "+err.Error())
			}
		}
	}
}

// validHeaderName reports whether s is an HTTP header field name (RFC 9110 token).
func validHeaderName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return s != ""
}
