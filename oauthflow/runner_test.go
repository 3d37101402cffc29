package oauthflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// newRunner wires a runner to the engine with an API client that, like the
// token client, may only dial loopback.
func (e *engine) newRunner(maxBody int64, records *[]oauthflow.RequestRecord) *oauthflow.Runner {
	var mu sync.Mutex
	hc := oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(e.t)}}, oauthflow.SameOriginRedirects)
	return oauthflow.NewRunner(oauthflow.RunnerOptions{Manager: e.mgr, HTTP: hc, MaxBody: maxBody, Record: func(r oauthflow.RequestRecord) {
		if records != nil {
			mu.Lock()
			*records = append(*records, r)
			mu.Unlock()
		}
	}})
}

// joinHeader is a header as sorted "Name: value" lines.
func joinHeader(h http.Header) string {
	var lines []string
	for k, vs := range h {
		for _, v := range vs {
			lines = append(lines, k+": "+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestRunnerInjectsTokenAndRequestParameters(t *testing.T) {
	cases := []struct {
		name     string
		token    oauthflow.TokenPlacement
		apiName  string
		apiIn    string
		prefix   string
		wantSent string
	}{
		{"custom header template", oauthflow.TokenPlacement{Name: "X-Api-Auth", Template: "token {token}", In: "header"}, "X-Api-Auth", "header", "token ", "X-Api-Auth: token ••••"},
		{"query parameter", oauthflow.TokenPlacement{Name: "access_token", Template: "{token}", In: "query"}, "access_token", "query", "", "access_token=%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2"},
		{"default bearer", oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"}, "Authorization", "header", "Bearer ", "Authorization: Bearer ••••"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
			e.in.Parameters = []oauthflow.Parameter{{Name: "tenant"}}
			e.acct.Parameters = map[string]string{"tenant": "acme corp"}
			e.in.Token = tc.token
			e.in.RequestParameters = []oauthflow.RequestParameter{
				{Name: "X-Tenant", Value: "{tenant}", In: "header"},
				{Name: "org", Value: "org-{tenant}", In: "query"},
			}
			e.provider.SetAPIToken(tc.apiName, tc.apiIn)
			if tc.apiIn == "header" {
				e.provider.SetAPITokenPrefix(tc.prefix)
			}
			e.connect()
			resp, err := e.newRunner(0, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{Method: "GET", URL: e.provider.APIURL() + "me", Describe: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 {
				t.Fatalf("status: got %d, want 200: %s", resp.Status, resp.Body)
			}
			got := e.provider.LastAPIRequest()
			if got.Header.Get("X-Tenant") != "acme corp" || got.Query.Get("org") != "org-acme corp" {
				t.Errorf("request parameters: header %q query %q, want 'acme corp' and 'org-acme corp'", got.Header.Get("X-Tenant"), got.Query.Get("org"))
			}
			sent := joinHeader(resp.Sent.Header) + " " + resp.Sent.URL
			if !strings.Contains(sent, tc.wantSent) {
				t.Errorf("request as sent: %q, want it to contain %q", sent, tc.wantSent)
			}
			tok, _ := e.store.LoadToken(context.Background(), e.acct.ID)
			if strings.Contains(sent, tok.AccessToken) {
				t.Error("the request as sent shows the token unmasked")
			}
		})
	}
}

// TestRunnerRefreshesBeforeTheRequestInsideTheWindow: inside the window the
// request goes out at once with the current token and the refresh runs in
// the background; only a token about to expire is refreshed first.
func TestRunnerRefreshesBeforeTheRequestInsideTheWindow(t *testing.T) {
	for _, tc := range []struct {
		left       time.Duration
		refresh    bool // a refresh happens
		beforehand bool // … before the request, which says so
	}{{29 * time.Minute, true, false}, {31 * time.Minute, false, false}, {oauthflow.UrgentMargin / 2, true, true}} {
		e := newEngine(t, fakeprovider.Options{AccessTTL: 2 * time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
		first := e.connect()
		e.clock.Add(2*time.Hour - tc.left)
		resp, err := e.newRunner(0, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: e.provider.APIURL() + "me"})
		if err != nil {
			t.Fatal(err)
		}
		sentWith := strings.TrimPrefix(e.provider.LastAPIRequest().Header.Get("Authorization"), "Bearer ")
		e.settle()
		if resp.Refreshed != tc.beforehand || (e.provider.RefreshCalls() == 1) != tc.refresh || (sentWith == first.AccessToken) == tc.beforehand {
			t.Errorf("%s left: refreshed %v (%d calls, sent with the first token: %v), want refresh %v, before the request %v",
				tc.left, resp.Refreshed, e.provider.RefreshCalls(), sentWith == first.AccessToken, tc.refresh, tc.beforehand)
		}
		if tc.beforehand && (resp.RefreshReason != oauthflow.ReasonExpiring || !strings.Contains(resp.RefreshNote, "inside the 30 min window")) {
			t.Errorf("refresh reason %q note %q", resp.RefreshReason, resp.RefreshNote)
		}
	}
}

func TestRunner401RefreshesOnceAndReplaysTheBody(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	var records []oauthflow.RequestRecord
	r := e.newRunner(0, &records)
	e.provider.FailNextAPI(401, 1)
	body := []byte(`{"amount": 42, "note": "exact bytes \u00e9"}`)
	resp, err := r.Do(context.Background(), e.acct, e.in, oauthflow.Request{Method: "POST", URL: e.provider.APIURL() + "charges", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || e.provider.APICalls() != 2 || e.provider.RefreshCalls() != 1 {
		t.Errorf("got status %d, %d API calls, %d refreshes; want 200, 2, 1", resp.Status, e.provider.APICalls(), e.provider.RefreshCalls())
	}
	if got := e.provider.LastAPIRequest().Body; got != string(body) {
		t.Errorf("retried body: got %q, want %q", got, body)
	}
	if !resp.Refreshed || resp.RefreshReason != oauthflow.ReasonRejected || resp.RefreshNote != "401 from the API, refreshed and retried" {
		t.Errorf("refresh: %v %q %q", resp.Refreshed, resp.RefreshReason, resp.RefreshNote)
	}
	if len(records) != 1 || records[0].RefreshReason != oauthflow.ReasonRejected || records[0].Status != 200 {
		t.Errorf("activity records: %+v", records)
	}
}

func TestRunner401TwiceStopsAfterTwoCalls(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	var records []oauthflow.RequestRecord
	e.provider.FailNextAPI(401, 5)
	resp, err := e.newRunner(0, &records).Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: e.provider.APIURL() + "me"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 401 || e.provider.APICalls() != 2 || e.provider.RefreshCalls() != 1 {
		t.Errorf("got status %d, %d API calls, %d refreshes; want 401, 2, 1", resp.Status, e.provider.APICalls(), e.provider.RefreshCalls())
	}
	if len(records) != 1 || !records[0].RejectedTwice {
		t.Errorf("second rejection not recorded: %+v", records)
	}
}

func TestRunnerCrossOriginRedirectGetsNoToken(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization") + r.URL.RawQuery)
		w.WriteHeader(200)
	}))
	defer other.Close()
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.connect()
	e.provider.SetAPIRedirect("moved", other.URL+"/steal")
	resp, err := e.newRunner(0, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: e.provider.APIURL() + "moved"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTemporaryRedirect {
		t.Errorf("status: got %d, want the 307 returned as is", resp.Status)
	}
	if got := leaked.Load().(string); got != "" {
		t.Errorf("the other host received credentials: %q", got)
	}
}

func TestRunnerCapsTheResponse(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.connect()
	resp, err := e.newRunner(4096, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{Method: "POST", URL: e.provider.APIURL() + "echo", Body: []byte(strings.Repeat("x", 20000))})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Truncated || len(resp.Body) != 4096 {
		t.Errorf("got truncated=%v and %d bytes, want true and 4096", resp.Truncated, len(resp.Body))
	}
}

func TestRunnerRefusesURLOutsideBaseURLsBeforeAnyDial(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.in.APIBaseURLs = []string{e.provider.URL() + "/api/v2/"}
	e.connect()
	calls := e.provider.APICalls()
	tokenCalls := e.provider.TokenCalls()
	for _, u := range []string{
		e.provider.URL() + "/api/v1/me",                                        // another path
		"http://127.0.0.2:1/api/v2/me",                                         // another host
		e.provider.URL() + "/api/v2x/me",                                       // a prefix that is not a path segment
		strings.Replace(e.provider.URL(), "http:", "https:", 1) + "/api/v2/me", // another scheme
		e.provider.URL() + "/api/v2/../v1/me",                                  // dot segments leave the base path
		e.provider.URL() + "/api/v2/%2e%2e/v1/me",                              // encoded dot segments too
	} {
		_, err := e.newRunner(0, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: u})
		var re *oauthflow.RequestError
		if !errors.As(err, &re) || re.Field != "url" || !(strings.Contains(re.Msg, "outside") || strings.Contains(re.Msg, "..")) {
			t.Errorf("%s: got %v, want a RequestError on url saying outside", u, err)
		}
	}
	if e.provider.APICalls() != calls || e.provider.TokenCalls() != tokenCalls {
		t.Error("a refused URL caused a call")
	}
}

func TestRunnerConcurrentRequestsInsideWindowRefreshOnce(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 30 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	e.connect()
	e.clock.Add(40 * time.Minute)
	r := e.newRunner(0, nil)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: e.provider.APIURL() + "me"})
			if err != nil || resp.Status != 200 {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if e.provider.RefreshCalls() != 1 || bad.Load() != 0 {
		t.Errorf("got %d refreshes and %d failed requests, want 1 and 0", e.provider.RefreshCalls(), bad.Load())
	}
}

// TestRunnerErrorsNeverCarryQueryValues: with the token in the query, a
// request that gets no answer must not put the URL's query (the token, or
// an api_key the caller passed) in its error, hence in activity or logs.
func TestRunnerErrorsNeverCarryQueryValues(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.in.Token = oauthflow.TokenPlacement{Name: "access_token", Template: "{token}", In: "query"}
	e.in.APIBaseURLs = []string{"http://127.0.0.1:1/"}
	tok := e.connect()
	var records []oauthflow.RequestRecord
	_, err := e.newRunner(0, &records).Do(context.Background(), e.acct, e.in,
		oauthflow.Request{URL: "http://127.0.0.1:1/me?api_key=caller-secret-value"})
	var ue *oauthflow.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an UpstreamError", err)
	}
	for _, s := range []string{err.Error(), records[0].Err} {
		if strings.Contains(s, tok.AccessToken) || strings.Contains(s, "caller-secret-value") {
			t.Errorf("error text carries a query value: %s", s)
		}
		if !strings.Contains(s, "127.0.0.1:1/me") {
			t.Errorf("error text %q does not name the URL it failed on", s)
		}
	}
}
