package oauthflow

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScrubProviderText(t *testing.T) {
	s := Secrets{ClientID: "client id", ClientSecret: "s3c/r+t<&>é", Values: []string{"access-tok", "refresh-tok", "the-code", "the-verifier"}}
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(s.ClientID) + ":" + url.QueryEscape(s.ClientSecret)))
	raw := base64.StdEncoding.EncodeToString([]byte(s.ClientID + ":" + s.ClientSecret))
	long := strings.Repeat("x", 295)
	tests := []struct {
		name, text string
		want       string // a substring the result keeps ("" : nothing to check)
	}{
		{"raw secret", "bad secret s3c/r+t<&>é here", "bad secret [redacted] here"},
		{"query-escaped", "client_secret=" + url.QueryEscape(s.ClientSecret), "client_secret=[redacted]"},
		{"path-escaped", "/x/" + url.PathEscape(s.ClientSecret), "/x/[redacted]"},
		{"JSON-escaped", `{"s":"s3c/r+t\u003c\u0026\u003eé"}`, "[redacted]"},
		{"JSON with escaped slashes", `s3c\/r+t<&>é`, "[redacted]"},
		{"Basic value", "Authorization: Basic " + basic, "Authorization: Basic [redacted]"},
		{"Basic of the raw pair", "got " + raw, "got [redacted]"},
		{"Basic without padding", "got " + strings.TrimRight(basic, "="), "got [redacted]"},
		{"tokens, code and verifier", "access-tok refresh-tok the-code the-verifier", "[redacted] [redacted] [redacted] [redacted]"},
		{"secret split by a control character", "s3c/r+t<&>\x00é", ""},
		{"control characters", "line1\r\nline2\x00\u202eend", "line1 line2 end"},
		{"secret across the cap", long + s.ClientSecret, long[:290]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScrubProviderText(tt.text, s)
			for _, leak := range append([]string{basic, raw, "3c/r+t", "access-tok", "refresh-tok", "the-code", "the-verifier"}, s.ClientSecret) {
				if strings.Contains(got, leak) {
					t.Errorf("got %q, which holds %q", got, leak)
				}
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > MaxProviderText+1 || strings.ContainsAny(got, "\r\n\x00\u202e") {
				t.Errorf("got %d characters %q, want at most %d and no control characters", n, got, MaxProviderText)
			}
		})
	}
}

// TestTokenErrorsNeverEchoTheBasicValue: a token endpoint that quotes the
// Authorization header, in JSON, in a form body or an unparseable body.
func TestTokenErrorsNeverEchoTheBasicValue(t *testing.T) {
	echoes := map[string]func(http.ResponseWriter, *http.Request){
		"JSON error_description": func(w http.ResponseWriter, r *http.Request) {
			jsonReply(401, `{"error":"invalid_client","error_description":"you sent `+r.Header.Get("Authorization")+`"}`)(w, r)
		},
		"error code": func(w http.ResponseWriter, r *http.Request) {
			jsonReply(400, `{"error":"`+strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")+`"}`)(w, r)
		},
		"field name": func(w http.ResponseWriter, r *http.Request) {
			jsonReply(200, `{"`+r.Header.Get("Authorization")+`":1}`)(w, r)
		},
		"plain body": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			w.Write([]byte(strings.Repeat(" ", 500) + r.Header.Get("Authorization")))
		},
	}
	for name, reply := range echoes {
		t.Run(name, func(t *testing.T) {
			fe, in, c := newTestProvider(t, reply)
			_, err := c.Refresh(t.Context(), in, testValues, testEndpoints(t, in), "old-rt")
			if err == nil {
				t.Fatal("got a token, want an error")
			}
			basic := strings.TrimPrefix(fe.last(t).authorization, "Basic ")
			if strings.Contains(err.Error(), basic) || strings.Contains(err.Error(), basic[:12]) {
				t.Errorf("got %q, which holds the Basic value", err.Error())
			}
		})
	}
}
