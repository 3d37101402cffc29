package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

// TestRedirectURICheck runs the check against the real server on loopback:
// as its own public URL, behind an https proxy that sends the callback to
// http, with an https public URL the server does not answer, with the
// public URL pointing at another server, and at a closed port.
func TestRedirectURICheck(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(other.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name   string
		opt    func(t *testing.T) serverOption
		result string
		ok     bool
	}{
		{"the server itself", func(*testing.T) serverOption { return func(*Deps) {} }, oauthflow.ProbeReachable, true},
		{"https proxy that rewrites to http", func(t *testing.T) serverOption {
			return func(d *Deps) {
				target := *d.Config.PublicURL
				proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.String()+r.URL.RequestURI(), http.StatusFound)
				}))
				t.Cleanup(proxy.Close)
				d.Config.PublicURL, _ = url.Parse(proxy.URL)
				d.ProbeClient = proxy.Client()
			}
		}, oauthflow.ProbeSchemeMismatch, false},
		{"https public URL, http server", func(*testing.T) serverOption {
			return func(d *Deps) {
				u := *d.Config.PublicURL
				u.Scheme = "https"
				d.Config.PublicURL = &u
			}
		}, oauthflow.ProbeSchemeMismatch, false},
		{"another server", func(*testing.T) serverOption {
			return func(d *Deps) { d.Config.PublicURL, _ = url.Parse(other.URL) }
		}, oauthflow.ProbeOtherServer, false},
		{"nothing listening", func(*testing.T) serverOption {
			return func(d *Deps) { d.Config.PublicURL, _ = url.Parse(closedURL) }
		}, oauthflow.ProbeUnreachable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.opt(t))
			r := ts.api("POST", "/api/v1/redirect-uri/check", ts.apiKey(store.RoleBuilder), "")
			var got oauthflow.ProbeResult
			if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK {
				t.Fatalf("got %d %v\n%s", r.status, err, r.body)
			}
			if got.Result != tt.result || got.OK != tt.ok || got.RedirectURI != ts.h.CallbackURL() || got.Detail == "" {
				t.Errorf("got %+v, want result %s ok %v for %s", got, tt.result, tt.ok, ts.h.CallbackURL())
			}
			if strings.Contains(got.Detail, oauthflow.ProbeParam) {
				t.Errorf("detail shows the probe value: %s", got.Detail)
			}
		})
	}
}

func TestProbeIsNotACallback(t *testing.T) {
	ts := newTestServer(t)
	r := ts.newClient().get(CallbackPath + "?state=bogus&" + oauthflow.ProbeParam + "=unknown")
	if r.status != http.StatusOK || r.header.Get(oauthflow.ProbeHeader) != "" {
		t.Errorf("unknown probe: got %d signature %q, want 200 without a signature", r.status, r.header.Get(oauthflow.ProbeHeader))
	}
	value := ts.h.prober.NewProbe()
	r = ts.newClient().get(CallbackPath + "?" + oauthflow.ProbeParam + "=" + value)
	if r.header.Get(oauthflow.ProbeHeader) == "" {
		t.Errorf("live probe: got no signature, want one")
	}
	r = ts.newClient().get(CallbackPath + "?" + oauthflow.ProbeParam + "=" + value)
	if r.header.Get(oauthflow.ProbeHeader) != "" {
		t.Errorf("second use of a probe: got a signature, want none (single use)")
	}
	if strings.Contains(ts.logs.String(), "refused") {
		t.Errorf("a probe was logged as a refused callback:\n%s", ts.logs.String())
	}
}

func TestRedirectCheckButton(t *testing.T) {
	ts := newTestServer(t)
	ts.createIntegration(fullIntegration("acme"), "s3cret")
	builder := ts.signedIn(store.RoleBuilder)
	page := builder.get("/integrations/acme")
	if !strings.Contains(page.body, `id="redirect-check-button"`) {
		t.Fatalf("integration page: want the Check button for a builder")
	}
	if strings.Contains(ts.signedIn(store.RoleViewer).get("/integrations/acme").body, `id="redirect-check-button"`) {
		t.Errorf("viewer sees the Check button; want builders only")
	}
	r := builder.post("/redirect-uri/check", url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-result="reachable"`) {
		t.Errorf("check: got %d, want the reachable result\n%s", r.status, r.body)
	}
}
