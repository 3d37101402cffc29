package oauthflow

import (
	"net/http"
	"strings"
	"testing"
)

// TestMaskerByName masks fields by their names alone (no secret known):
// JSON at any depth, forms, queries, the Authorization value and cookies.
func TestMaskerByName(t *testing.T) {
	m := newMasker(Secrets{})
	long := "abcdefghijklmnop-1234"
	cases := []struct{ what, got, want string }{
		{"json", m.body([]byte(`{"data":{"accessToken":"`+long+`","user":"ann"},"id_token":"`+long+`","client_assertion":"`+long+`"}`), "application/json"),
			`{"client_assertion":"••••1234","data":{"accessToken":"••••1234","user":"ann"},"id_token":"••••1234"}`},
		{"form", m.body([]byte("code="+long+"&code_verifier="+long+"&state=s1&password=pw&scope=read"), "application/x-www-form-urlencoded"),
			"code=••••1234&code_verifier=••••1234&password=••••&scope=read&state=••••"},
		{"query", m.query("client_secret=" + long + "&x=1"), "client_secret=••••1234&x=1"},
	}
	h := m.headers(http.Header{"Authorization": {"Basic " + long}, "Cookie": {"sid=" + long}, "Accept": {"application/json"}})
	cases = append(cases, struct{ what, got, want string }{"authorization", h["Authorization"], "Basic ••••1234"},
		struct{ what, got, want string }{"cookie", h["Cookie"], "••••1234"},
		struct{ what, got, want string }{"accept", h["Accept"], "application/json"})
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	// A known secret is masked wherever it appears, in any encoding.
	k := newMasker(Secrets{ClientID: "id", ClientSecret: "s3cr3t/with+chars", Values: []string{long}})
	if got := k.text("echo: s3cr3t%2Fwith%2Bchars and " + long); strings.Contains(got, "s3cr3t") || strings.Contains(got, long) {
		t.Errorf("known secrets: got %q, want both masked", got)
	}
	r := m.response(200, http.Header{}, []byte(strings.Repeat("é", MaxTraceBody)))
	if !r.BodyTruncated || len(r.Body) > MaxTraceBody || !strings.HasSuffix(r.Body, "é") {
		t.Errorf("a long body: got %d bytes, truncated %v; want at most %d bytes, whole characters, truncated", len(r.Body), r.BodyTruncated, MaxTraceBody)
	}
}
