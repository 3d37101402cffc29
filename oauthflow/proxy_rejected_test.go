package oauthflow

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// countingBody counts the bytes read from it, to tell whether the proxy read
// an answer it must only stream.
type countingBody struct {
	r io.Reader
	n int
}

func (c *countingBody) Read(p []byte) (int, error) { n, err := c.r.Read(p); c.n += n; return n, err }
func (c *countingBody) Close() error               { return nil }

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.String()
}

func TestProxyRejected(t *testing.T) {
	slack := Integration{RejectedResponses: []RejectedRule{{BodyPath: "ok", Equals: "false"}}}
	only200 := Integration{RejectedResponses: []RejectedRule{{Statuses: []int{200}, BodyPath: "ok", Equals: "false"}}}
	header := Integration{RejectedResponses: []RejectedRule{{Header: "WWW-Authenticate", Contains: "invalid_token"}}}
	big := `{"ok":false,"pad":"` + strings.Repeat("p", MaxReplayBody) + `"}`
	cases := []struct {
		name       string
		in         Integration
		status     int
		ctype, enc string
		hdr        http.Header
		body       string
		want       bool
		wantRead   bool // whether the body may be read before the caller streams it
	}{
		{"rejected status", Integration{}, 401, "text/plain", "", nil, "no", true, false},
		{"no rules: 200 streams unread", Integration{}, 200, "application/json", "", nil, `{"ok":false}`, false, false},
		{"body rule matches JSON", slack, 200, "application/json; charset=utf-8", "", nil, `{"ok":false}`, true, true},
		{"body rule, +json type", slack, 200, "application/problem+json", "", nil, `{"ok":false}`, true, true},
		{"body rule does not match", slack, 200, "application/json", "", nil, `{"ok":true}`, false, true},
		{"body rule matches gzip JSON", slack, 200, "application/json", "gzip", nil, gzipped(`{"ok":false}`), true, true},
		{"event stream is not read", slack, 200, "text/event-stream", "", nil, "data: {\"ok\":false}\n\n", false, false},
		{"other encodings are not read", slack, 200, "application/json", "br", nil, `{"ok":false}`, false, false},
		{"status outside the rule is not read", only200, 500, "application/json", "", nil, `{"ok":false}`, false, false},
		{"over 1 MiB: put back, not matched", slack, 200, "application/json", "", nil, big, false, true},
		{"header rule, body unread", header, 403, "application/json", "",
			http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, `{}`, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.ctype}}
			if tc.enc != "" {
				h.Set("Content-Encoding", tc.enc)
			}
			for k, v := range tc.hdr {
				h[k] = v
			}
			cb := &countingBody{r: strings.NewReader(tc.body)}
			resp := &http.Response{StatusCode: tc.status, Header: h, Body: cb, ContentLength: -1}
			got, err := proxyRejected(tc.in, resp)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("rejected: got %v, want %v", got, tc.want)
			}
			if read := cb.n > 0; read != tc.wantRead {
				t.Errorf("body read before streaming: got %v (%d bytes), want %v", read, cb.n, tc.wantRead)
			}
			rest, _ := io.ReadAll(resp.Body)
			if string(rest) != tc.body {
				t.Errorf("the caller's body: got %d bytes, want the %d the upstream sent", len(rest), len(tc.body))
			}
		})
	}
}
