package oauthflow

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		tmpl    string
		want    []string
		wantErr string
	}{
		{tmpl: "https://{region}.example.com/{id}?r={region}", want: []string{"region", "id"}},
		{tmpl: "no placeholders", want: nil},
		{tmpl: "{{literal}}", want: nil},
		{tmpl: "{{{a}}}", want: []string{"a"}},
		{tmpl: `{{"json": {{value}}}}`, want: nil},
		{tmpl: "Bearer {token}", want: []string{"token"}},
		{tmpl: "{A_1}{b2}", want: []string{"A_1", "b2"}},
		{tmpl: "https://x/abc{", wantErr: "unclosed '{' at position 14: write {{ for a literal brace"},
		{tmpl: "é{", wantErr: "unclosed '{' at position 2"},
		{tmpl: "a}b", wantErr: "unmatched '}' at position 2: write }} for a literal brace"},
		{tmpl: "x{}", wantErr: "empty {} at position 2"},
		{tmpl: "{a-b}", wantErr: `invalid parameter name "a-b" at position 1: names may contain only letters, digits and underscore`},
		{tmpl: "{a b}", wantErr: `invalid parameter name "a b"`},
		{tmpl: `{"a":1}`, wantErr: `write {{ and }} for literal braces`},
		{tmpl: "{é}", wantErr: "invalid parameter name"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := Placeholders(tt.tmpl)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	values := map[string]string{"a": "A", "b": "{a}", "empty": ""}
	tests := []struct {
		name, tmpl, want, wantErr string
	}{
		{name: "plain", tmpl: "x{a}y", want: "xAy"},
		{name: "literal braces", tmpl: "{{a}}={a}", want: "{a}=A"},
		{name: "value not expanded again", tmpl: "{b}", want: "{a}"},
		{name: "empty value", tmpl: "[{empty}]", want: "[]"},
		{name: "missing names parameter", tmpl: "{region}", wantErr: `no value for parameter "region"`},
		{name: "token is not special", tmpl: "Bearer {token}", wantErr: `no value for parameter "token"`},
		{name: "syntax", tmpl: "{a", wantErr: "unclosed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.tmpl, values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q, nil", got, err, tt.want)
			}
		})
	}
}

func TestExpandHeaderValue(t *testing.T) {
	tests := []struct {
		name, tmpl, value, want, wantErr string
	}{
		{name: "bearer", tmpl: "Bearer {token}", value: "abc", want: "Bearer abc"},
		{name: "tab allowed", tmpl: "a\t{token}", value: "b", want: "a\tb"},
		{name: "CRLF in value", tmpl: "Bearer {token}", value: "abc\r\nX-Evil: 1", wantErr: `parameter "token" contains a line break`},
		{name: "LF in value", tmpl: "{token}", value: "a\nb", wantErr: "line break"},
		{name: "NUL in value", tmpl: "{token}", value: "a\x00b", wantErr: "control character"},
		{name: "DEL in value", tmpl: "{token}", value: "a\x7fb", wantErr: "control character"},
		{name: "CR in template", tmpl: "x\r{token}", value: "a", wantErr: "the template contains a line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandHeaderValue(tt.tmpl, map[string]string{"token": tt.value})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v, want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q, nil", got, err, tt.want)
			}
		})
	}
}

func TestExpandURL(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    string
		values  map[string]string
		want    string
		wantErr string
	}{
		{name: "host label", tmpl: "https://{tenant}.example.com/oauth/token", values: map[string]string{"tenant": "acme"}, want: "https://acme.example.com/oauth/token"},
		{name: "whole host", tmpl: "https://{host}/v1", values: map[string]string{"host": "api.example.com"}, want: "https://api.example.com/v1"},
		{name: "host keeps port", tmpl: "http://{h}:8443/x", values: map[string]string{"h": "a-b.example"}, want: "http://a-b.example:8443/x"},
		{name: "host value with path", tmpl: "https://{h}.example.com/", values: map[string]string{"h": "evil.test/x"}, wantErr: `parameter "h" cannot be used in the host`},
		{name: "host value adds port", tmpl: "https://{h}/", values: map[string]string{"h": "evil.test:8080"}, wantErr: "cannot be used in the host"},
		{name: "host value userinfo", tmpl: "https://{h}.example.com/", values: map[string]string{"h": "x@evil.test"}, wantErr: "cannot be used in the host"},
		{name: "host value query", tmpl: "https://{h}/", values: map[string]string{"h": "evil.test?"}, wantErr: "cannot be used in the host"},
		{name: "host value fragment", tmpl: "https://{h}/", values: map[string]string{"h": "evil.test#"}, wantErr: "cannot be used in the host"},
		{name: "host value percent", tmpl: "https://{h}/", values: map[string]string{"h": "evil%2etest"}, wantErr: "cannot be used in the host"},
		{name: "host value space", tmpl: "https://{h}/", values: map[string]string{"h": "a b"}, wantErr: "cannot be used in the host"},
		{name: "host value backslash", tmpl: "https://{h}/", values: map[string]string{"h": `evil.test\`}, wantErr: "cannot be used in the host"},
		{name: "host value empty label", tmpl: "https://{h}.example.com/", values: map[string]string{"h": ""}, wantErr: "is not a valid host name"},
		{name: "host value double dot", tmpl: "https://{h}.example.com/", values: map[string]string{"h": "a."}, wantErr: "is not a valid host name"},
		{name: "host value long label", tmpl: "https://{h}.example.com/", values: map[string]string{"h": strings.Repeat("a", 64)}, wantErr: "is not a valid host name"},
		{name: "port placeholder", tmpl: "https://example.com:{port}/", values: map[string]string{"port": "443"}, wantErr: "may not be used in the port"},
		{name: "scheme placeholder", tmpl: "{scheme}://example.com/", values: map[string]string{"scheme": "https"}, wantErr: "may not be used in the scheme"},
		{name: "scheme part placeholder", tmpl: "http{s}://example.com/", values: map[string]string{"s": "s"}, wantErr: "may not be used in the scheme"},
		{name: "userinfo placeholder", tmpl: "https://{u}@example.com/", values: map[string]string{"u": "x"}, wantErr: "user:password@"},
		{name: "literal userinfo", tmpl: "https://user:pw@example.com/", wantErr: "user:password@"},
		{name: "ipv6 placeholder", tmpl: "http://[{a}]/", values: map[string]string{"a": "::1"}, wantErr: "IPv6"},
		{name: "ipv6 literal kept", tmpl: "http://[::1]:8080/{a}", values: map[string]string{"a": "x"}, want: "http://[::1]:8080/x"},
		{name: "path escaped as segment", tmpl: "https://api.example.com/v1/{id}/items", values: map[string]string{"id": "a/b?c#d %"}, want: "https://api.example.com/v1/a%2Fb%3Fc%23d%20%25/items"},
		{name: "path dotdot", tmpl: "https://api.example.com/v1/{id}/items", values: map[string]string{"id": ".."}, wantErr: `would make a ".." path segment`},
		{name: "path dot", tmpl: "https://api.example.com/{id}", values: map[string]string{"id": "."}, wantErr: `would make a "." path segment`},
		{name: "path three dots fine", tmpl: "https://api.example.com/{id}", values: map[string]string{"id": "..."}, want: "https://api.example.com/..."},
		{name: "query escaped", tmpl: "https://x.example/?q={q}&b=1", values: map[string]string{"q": "a&b=c d+#"}, want: "https://x.example/?q=a%26b%3Dc+d%2B%23&b=1"},
		{name: "fragment escaped", tmpl: "https://x.example/#{f}", values: map[string]string{"f": "a b"}, want: "https://x.example/#a%20b"},
		{name: "own query kept", tmpl: "https://x.example/token?tenant={t}&v=2", values: map[string]string{"t": "acme"}, want: "https://x.example/token?tenant=acme&v=2"},
		{name: "literal braces", tmpl: "https://x.example/{{a}}", want: "https://x.example/%7Ba%7D"},
		{name: "marker look-alike in template", tmpl: "https://xplh0z.example/{a}/xplh1z", values: map[string]string{"a": "v"}, want: "https://xplh0z.example/v/xplh1z"},
		{name: "value looks like marker", tmpl: "https://x.example/{a}/{b}", values: map[string]string{"a": "xplh1z", "b": "B"}, want: "https://x.example/xplh1z/B"},
		{name: "missing value", tmpl: "https://x.example/{a}", values: map[string]string{}, wantErr: `no value for parameter "a"`},
		{name: "relative", tmpl: "/oauth/token", wantErr: "relative"},
		{name: "ftp", tmpl: "ftp://files.example/{a}", values: map[string]string{"a": "x"}, wantErr: `scheme "ftp" is not allowed`},
		{name: "no host", tmpl: "https:///token", wantErr: "no host"},
		{name: "opaque", tmpl: "http:{a}", values: map[string]string{"a": "x"}, wantErr: "no host"},
		{name: "not a url", tmpl: "https://exa mple.com/", wantErr: "not a valid URL"},
		{name: "template syntax", tmpl: "https://x/{a", wantErr: "unclosed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandURL(tt.tmpl, tt.values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v, want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got.String() != tt.want {
				t.Errorf("got %q, want %q", got.String(), tt.want)
			}
		})
	}
}

// fixedTemplates have a literal scheme, host and port: no value may change them.
var fixedTemplates = []string{
	"https://api.example.com:8443/v1/{a}/x?q={b}&r={a}#{b}",
	"http://10.1.2.3/{a}{b}",
	"https://api.example.com/{a}?{b}",
	"https://[2001:db8::1]:9000/{a}?x={b}",
	"https://api.example.com{a}/{b}", // host suffix placeholder: must stay a host name
}

func FuzzExpandURL(f *testing.F) {
	f.Add(uint8(0), "x", "y")
	f.Add(uint8(4), ".evil.test", "@evil.test:80")
	f.Add(uint8(1), "/../../", "?#")
	f.Add(uint8(2), "%2F%2e%2e", "a\r\nb")
	f.Fuzz(func(t *testing.T, i uint8, a, b string) {
		tmpl := fixedTemplates[int(i)%len(fixedTemplates)]
		ref, err := url.Parse(strings.NewReplacer("{a}", "", "{b}", "").Replace(tmpl))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ExpandURL(tmpl, map[string]string{"a": a, "b": b})
		if err != nil {
			return
		}
		if got.Scheme != ref.Scheme || got.Port() != ref.Port() || got.User != nil {
			t.Fatalf("got %q, want scheme %q port %q", got, ref.Scheme, ref.Port())
		}
		if strings.Contains(tmpl, "com{a}") {
			if !strings.HasPrefix(got.Hostname(), "api.example.com") || !hostChars(got.Hostname()) {
				t.Fatalf("got host %q, want api.example.com… made of host characters", got.Hostname())
			}
		} else if got.Host != ref.Host {
			t.Fatalf("got host %q, want %q", got.Host, ref.Host)
		}
	})
}

// FuzzExpandURLTemplate fuzzes the template too: no panic, and when the
// scheme and authority are literal text the result keeps them.
func FuzzExpandURLTemplate(f *testing.F) {
	f.Add("https://{a}.example.com/{a}", "x")
	f.Add("http://h:{a}/", "80")
	f.Add("https://h/{{x}}?{a}", "y")
	f.Fuzz(func(t *testing.T, tmpl, a string) {
		got, err := ExpandURL(tmpl, map[string]string{"a": a})
		if err != nil {
			return
		}
		if got.Scheme != "http" && got.Scheme != "https" || got.Host == "" || got.User != nil {
			t.Fatalf("got %q from %q, want an absolute http(s) URL", got, tmpl)
		}
		i := strings.Index(tmpl, "://")
		if i < 0 {
			t.Fatalf("got %q from %q, which has no ://", got, tmpl)
		}
		end := len(tmpl)
		if j := strings.IndexAny(tmpl[i+3:], "/?#"); j >= 0 {
			end = i + 3 + j
		}
		if strings.ContainsAny(tmpl[:end], "{}") {
			return
		}
		ref, err := url.Parse(tmpl[:end] + "/")
		if err != nil {
			return
		}
		// "host:" and "host" are the same authority (empty port: the default).
		if got.Scheme != ref.Scheme || got.Hostname() != ref.Hostname() || got.Port() != ref.Port() {
			t.Fatalf("got %s://%s, want %s://%s (template %q, value %q)", got.Scheme, got.Host, ref.Scheme, ref.Host, tmpl, a)
		}
	})
}

func FuzzExpandHeaderValue(f *testing.F) {
	f.Add("Bearer {token}", "abc")
	f.Add("{token}", "a\r\nX: y")
	f.Add("{{x}}{token}", "\x00")
	f.Fuzz(func(t *testing.T, tmpl, v string) {
		got, err := ExpandHeaderValue(tmpl, map[string]string{"token": v})
		if err == nil && strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("got %q, want no CR, LF or NUL", got)
		}
	})
}
