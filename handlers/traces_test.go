package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// wrongSecret is long enough to be masked as •••• and its last 4.
const wrongSecret = "wrong-secret-0123456789"

// noPlaintext fails when body holds the wrong secret or its HTTP Basic form.
func noPlaintext(t *testing.T, where, body string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(fakeprovider.DefaultClientID + ":" + wrongSecret))
	for _, s := range []string{wrongSecret, basic} {
		if strings.Contains(body, s) {
			t.Errorf("%s holds the plaintext %q", where, s)
		}
	}
}

func TestTraceAPIAndConsole(t *testing.T) {
	ts := newTestServer(t)
	opts := fakeprovider.Options{AccessTTL: 20 * time.Minute}
	p := ts.provider(opts)
	ts.integrationFor(p, "ccbad", oauthflow.GrantClientCredentials, opts, func(i *oauthflow.Integration) { i.OAuth2.ClientSecret = wrongSecret })
	builder, viewer := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleViewer)
	r := ts.api("POST", "/api/v1/integrations/ccbad/accounts", builder, `{"name": "svc"}`)
	var a accountJSON
	if err := json.Unmarshal([]byte(r.body), &a); err != nil || r.status != http.StatusCreated {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}

	// The list, read with a viewer key.
	r = ts.api("GET", "/api/v1/accounts/"+a.ID+"/traces", viewer, "")
	var list struct {
		Items      []traceSummaryJSON `json:"items"`
		NextCursor string             `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != http.StatusOK || len(list.Items) != 1 {
		t.Fatalf("list: got %d %s, want 200 and one trace", r.status, r.body)
	}
	first := list.Items[0]
	if first.Kind != oauthflow.TraceClientCredentials || first.Outcome != "failed" || first.Diagnosis == nil || first.Diagnosis.Code != oauthflow.DiagInvalidClient {
		t.Errorf("list item: got %+v, want a failed client_credentials trace diagnosed invalid_client", first)
	}
	noPlaintext(t, "the list", r.body)

	// One trace: the token step with the masked Basic header.
	id := strconvFormat(first.ID)
	r = ts.api("GET", "/api/v1/traces/"+id, viewer, "")
	var tr traceJSON
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil || r.status != http.StatusOK {
		t.Fatalf("trace: got %d %s", r.status, r.body)
	}
	if tr.AccountID != a.ID || tr.Integration != "ccbad" || len(tr.Steps) == 0 || tr.Diagnosis == nil || tr.Diagnosis.Hint == "" {
		t.Errorf("trace: got %+v", tr)
	}
	var auth string
	for _, s := range tr.Steps {
		if s.Response != nil && s.Response.Status == http.StatusUnauthorized {
			auth = s.Request.Headers["Authorization"]
		}
	}
	if !strings.HasPrefix(auth, "Basic ••••") || len([]rune(auth)) != len([]rune("Basic ••••"))+4 {
		t.Errorf("token step's Authorization: got %q, want Basic •••• and 4 characters", auth)
	}
	noPlaintext(t, "the trace", r.body)

	// Refusals name what is wrong.
	for _, tc := range []struct{ name, path, code, field string }{
		{"unknown trace", "/api/v1/traces/999999", "not_found", ""},
		{"trace id not a number", "/api/v1/traces/abc", "not_found", ""},
		{"unknown account", "/api/v1/accounts/acc_nope/traces", "not_found", ""},
		{"limit not a number", "/api/v1/accounts/" + a.ID + "/traces?limit=ten", "invalid_fields", "limit"},
		{"limit too big", "/api/v1/accounts/" + a.ID + "/traces?limit=201", "invalid_fields", "limit"},
		{"bad cursor", "/api/v1/accounts/" + a.ID + "/traces?cursor=zz", "invalid_fields", "cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ts.api("GET", tc.path, viewer, "")
			e, ok := apiErrorOf(got.body)
			if !ok || e.Code != tc.code || (tc.field != "" && e.Fields[tc.field] == "") {
				t.Errorf("got %d %s, want %s naming %q", got.status, got.body, tc.code, tc.field)
			}
		})
	}

	// The console: the account page lists it, the trace page shows the
	// diagnosis and the masked header, the download is the API's JSON.
	c := ts.signedIn(store.RoleViewer)
	page := c.get("/accounts/" + a.ID)
	link := traceLink(a.ID, first.ID)
	if !strings.Contains(page.body, `id="traces-title"`) || !strings.Contains(page.body, `href="`+link+`"`) {
		t.Errorf("account page: no Traces section linking %s", link)
	}
	if !strings.Contains(page.body, `id="last-error-trace" href="`+link+`"`) && !strings.Contains(page.body, `class="alert-trace" href="`+link+`"`) {
		t.Errorf("account page: neither last_error nor the alert links the trace")
	}
	if home := c.get("/"); strings.Contains(home.body, `data-alert=`) && !strings.Contains(home.body, `class="alert-trace" href="`+link+`"`) {
		t.Errorf("dashboard: the alert does not link the trace")
	}
	page = c.get(link)
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="diagnosis-hint"`) || !strings.Contains(page.body, "Basic ••••") ||
		!strings.Contains(page.body, "data-request=") {
		t.Errorf("trace page: got %d without the hint, the masked header or Copy as curl\n%s", page.status, truncate(page.body, 800))
	}
	noPlaintext(t, "the trace page", page.body)
	dl := c.get(link + "/json")
	if dl.status != http.StatusOK || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: got %d Content-Disposition %q", dl.status, dl.header.Get("Content-Disposition"))
	}
	var dj traceJSON
	if err := json.Unmarshal([]byte(dl.body), &dj); err != nil || dj.ID != tr.ID || len(dj.Steps) != len(tr.Steps) {
		t.Errorf("download: not the API's JSON: %v %s", err, truncate(dl.body, 300))
	}
	if got := c.get("/accounts/" + a.ID + "/traces/999999"); got.status != http.StatusNotFound {
		t.Errorf("unknown trace page: got %d, want 404", got.status)
	}
	if got := c.get("/accounts/" + a.ID + "/traces"); got.status != http.StatusOK || !strings.Contains(got.body, link) {
		t.Errorf("traces page: got %d without %s", got.status, link)
	}

	// Connect again from the console: the failure's flash links the new trace.
	bc := ts.signedIn(store.RoleBuilder)
	bc.get("/accounts/" + a.ID)
	if r := bc.post("/accounts/"+a.ID+"/connect", nil); r.status != http.StatusSeeOther {
		t.Fatalf("connect: got %d", r.status)
	}
	page = bc.get("/accounts/" + a.ID)
	m := regexp.MustCompile(`class="flash-link" href="(/accounts/[^"]+/traces/\d+)"`).FindStringSubmatch(page.body)
	if m == nil || m[1] == link {
		t.Fatalf("flash after a failed connect: no link to the new trace\n%s", truncate(page.body, 800))
	}
}

func TestTraceLinkFromAFailedCallback(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	in := ts.integrationFor(p, "bad", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, func(i *oauthflow.Integration) { i.OAuth2.ClientSecret = wrongSecret })
	acct := ts.account(in, "prod", nil)
	if page := ts.signedIn(store.RoleViewer).get("/accounts/" + acct.ID); !strings.Contains(page.body, `id="no-traces"`) {
		t.Errorf("account page without traces: no empty state")
	}
	c := ts.signedIn(store.RoleBuilder)
	cb, err := p.Approve(c.startConnect(t, acct.ID))
	if err != nil {
		t.Fatal(err)
	}
	r := c.follow(t, cb)
	m := regexp.MustCompile(`id="trace-link" href="(/accounts/` + acct.ID + `/traces/\d+)"`).FindStringSubmatch(r.body)
	if r.status != http.StatusBadRequest || m == nil {
		t.Fatalf("failed callback: got %d without a trace link\n%s", r.status, truncate(r.body, 800))
	}
	page := c.get(m[1])
	if !strings.Contains(page.body, `data-code="invalid_client"`) || !strings.Contains(page.body, "code exchange") {
		t.Errorf("trace page: no invalid_client diagnosis or code exchange step\n%s", truncate(page.body, 800))
	}
	noPlaintext(t, "the trace page", page.body)
}
