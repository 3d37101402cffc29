package oauthflow

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLookupPathB(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"a":{"b":"x","n":12,"t":true},"list":[{"id":"first"},{"id":7}],"nested":[[1,2]],"nil":null}`), &doc)
	cases := []struct {
		path string
		want string
		ok   bool
	}{
		{"a.b", "x", true},
		{"a.n", "12", true},
		{"a.t", "true", true},
		{"list[0].id", "first", true},
		{"list[1].id", "7", true},
		{"nested[0][1]", "2", true},
		{"a.missing", "", false},
		{"list[2].id", "", false},
		{"list[-1].id", "", false},
		{"list.id", "", false},
		{"a[0]", "", false},
		{"a", "", false}, // an object is not text
		{"nil", "", false},
		{"a..b", "", false},
		{"", "", false},
		{"list[x]", "", false},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			got, ok := pathText(doc, c.path)
			if got != c.want || ok != c.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestCheckCapturedHosts(t *testing.T) {
	sf := Capture{Name: "instance_url", From: FromTokenResponse, Path: "instance_url", AllowedHosts: []string{"*.salesforce.com", "*.force.com", "127.0.0.1"}}
	cases := []struct {
		name, value, want, wantErr string
	}{
		{"subdomain", "https://na1.salesforce.com", "https://na1.salesforce.com", ""},
		{"trailing slash dropped", "https://acme.my.salesforce.com/", "https://acme.my.salesforce.com", ""},
		{"second suffix", "https://x.force.com", "https://x.force.com", ""},
		{"ip literal over loopback http", "http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"evil host", "https://evil.test", "", `host "evil.test"`},
		{"suffix trick", "https://evilsalesforce.com", "", "evilsalesforce.com"},
		{"apex is not under *.", "https://salesforce.com", "", `host "salesforce.com"`},
		{"lookalike with suffix inside", "https://na1.salesforce.com.evil.test", "", "na1.salesforce.com.evil.test"},
		{"http off loopback", "http://na1.salesforce.com", "", "not https"},
		{"path", "https://na1.salesforce.com/services", "", "path"},
		{"query", "https://na1.salesforce.com?x=1", "", "path, query"},
		{"userinfo", "https://u:p@na1.salesforce.com", "", "user:password"},
		{"fragment", "https://na1.salesforce.com#f", "", "fragment"},
		{"bare host allowed", "na1.salesforce.com", "na1.salesforce.com", ""},
		{"bare host refused", "evil.test", "", "evil.test"},
		{"bare host with junk", "na1.salesforce.com/x", "", "na1.salesforce.com/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkCaptured(sf, c.value)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want %q", err, c.want)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "instance_url")):
				t.Fatalf("got %q, %v; want an error naming instance_url and containing %q", got, err, c.wantErr)
			case got != c.want:
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	if got, err := checkCaptured(Capture{Name: "realm_id"}, "9130/../x"); err != nil || got != "9130/../x" {
		t.Errorf("a capture without allowed hosts: got %q, %v; want the value as it is (it lands only in escaped path segments)", got, err)
	}
}

func TestHostPatternProblem(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{{"*.salesforce.com", true}, {"accounts.zoho.eu", true}, {"127.0.0.1", true}, {"::1", true},
		{"*.com", false}, {"*.co.uk", false}, {"https://x.com", false}, {"a..b", false}, {"*", false}} {
		if got := hostPatternProblem(c.in) == ""; got != c.ok {
			t.Errorf("%s: got ok=%v, want %v", c.in, got, c.ok)
		}
	}
}

func TestIDTokenClaims(t *testing.T) {
	ans := answers{token: map[string]any{"id_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiIwMDV4eCJ9.c2ln"}}
	if got, ok := ans.text(FromIDToken, "sub"); !ok || got != "005xx" {
		t.Errorf("got %q %v, want 005xx true", got, ok)
	}
	if _, ok := (answers{token: map[string]any{"id_token": "not-a-jwt"}}).text(FromIDToken, "sub"); ok {
		t.Error("a malformed ID token gave an identity")
	}
}

func TestScopeWarnings(t *testing.T) {
	in := Integration{OAuth2: OAuth2{RequiredScopes: []string{"api", "refresh_token"}}}
	cases := []struct {
		name    string
		granted []string
		want    string
	}{
		{"all granted", []string{"refresh_token", "api", "id"}, ""},
		{"one missing", []string{"api"}, "refresh_token"},
		{"none reported", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := scopeWarnings(in, Token{Scopes: c.granted})
			got := ""
			if len(ws) == 1 && ws[0].Code == WarnInsufficientScopes {
				got = ws[0].Message
			}
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("got %q, want a warning listing %q", got, c.want)
			}
		})
	}
}
