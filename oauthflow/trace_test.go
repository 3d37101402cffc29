package oauthflow_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

func TestMask(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "••••"},
		{"short-value", "••••"}, // 11 characters: nothing of it shows
		{"twelve-chars", "••••hars"},
		{"fp_rt_0123456789abcdef", "••••cdef"},
	} {
		if got := oauthflow.Mask(c.in); got != c.want {
			t.Errorf("Mask(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}

// tracedManager is a manager of e that keeps traces in e's store.
func tracedManager(e *engine) *oauthflow.Manager {
	m := oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, Traces: e.store})
	e.managers = append(e.managers, m)
	return m
}

// lastTrace is the account's newest trace, with its steps.
func lastTrace(t *testing.T, e *engine) oauthflow.Trace {
	t.Helper()
	e.settle() // the manager saves a trace in the background
	list, _, err := e.store.ListTraces(context.Background(), e.acct.ID, 10, "")
	if err != nil || len(list) == 0 {
		t.Fatalf("traces: got %v, %v; want at least one", list, err)
	}
	tr, err := e.store.Trace(context.Background(), list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTraceRefreshMasked refreshes a rotating account with traces on: the
// trace has the exchange with every secret masked (last 4 kept), the note
// of the rotation, and neither the trace nor the database files hold a
// secret in plaintext.
func TestTraceRefreshMasked(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	old := e.connect()
	m := tracedManager(e)
	res, err := m.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonManual)
	if err != nil {
		t.Fatal(err)
	}
	tr := lastTrace(t, e)
	if tr.Kind != oauthflow.TraceRefresh || tr.Outcome != oauthflow.TraceOK || tr.Diagnosis != nil || tr.Integration != "fake" {
		t.Fatalf("trace: got kind %q outcome %q diagnosis %+v integration %q, want refresh ok without diagnosis", tr.Kind, tr.Outcome, tr.Diagnosis, tr.Integration)
	}
	if len(tr.Steps) != 1 {
		t.Fatalf("steps: got %+v, want one", tr.Steps)
	}
	st := tr.Steps[0]
	basic := base64.StdEncoding.EncodeToString([]byte(fakeprovider.DefaultClientID + ":" + fakeprovider.DefaultClientSecret))
	checks := []struct{ what, got, want string }{
		{"name", st.Name, "refresh"},
		{"method", st.Request.Method, "POST"},
		{"authorization", st.Request.Headers["Authorization"], "Basic " + oauthflow.Mask(basic)},
		{"note", st.Note, "new refresh token saved (rotated)"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.Contains(st.Request.Body, "refresh_token="+oauthflow.Mask(old.RefreshToken)) || !strings.Contains(st.Request.Body, "grant_type=refresh_token") {
		t.Errorf("request body: got %q, want the refresh token masked and the grant type plain", st.Request.Body)
	}
	if st.Response == nil || st.Response.Status != 200 || !strings.Contains(st.Response.Body, `"access_token":"`+oauthflow.Mask(res.Token.AccessToken)+`"`) ||
		!strings.Contains(st.Response.Body, `"refresh_token":"`+oauthflow.Mask(res.Token.RefreshToken)+`"`) {
		t.Errorf("response: got %+v, want 200 with both new tokens masked", st.Response)
	}
	raw, _ := json.Marshal(tr)
	e.settle()
	secrets := []string{fakeprovider.DefaultClientSecret, basic, old.AccessToken, old.RefreshToken, res.Token.AccessToken, res.Token.RefreshToken}
	haystacks := map[string]string{"the trace": string(raw)}
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(e.store.Path() + suffix)
		haystacks["the database file"+suffix] = string(b)
	}
	for where, h := range haystacks {
		for _, s := range secrets {
			if strings.Contains(h, s) {
				t.Errorf("%s contains the secret %q", where, s)
			}
		}
	}
}

// TestTraceFailedMasksEchoedSecrets: a provider that quotes the request in
// its error (Authorization header, client secret, refresh token) leaves
// only masks in the trace, which fails with invalid_client diagnosed.
func TestTraceFailedMasksEchoedSecrets(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{}, oauthflow.GrantAuthorizationCode)
	tok := e.connect()
	m := tracedManager(e)
	e.provider.FailNextToken(401, `{"error":"invalid_client","error_description":"client_secret=`+fakeprovider.DefaultClientSecret+` refresh_token=`+tok.RefreshToken+`"}`, 1)
	if _, err := m.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonManual); err == nil {
		t.Fatal("refresh: got no error, want invalid_client")
	}
	tr := lastTrace(t, e)
	if tr.Outcome != oauthflow.TraceFailed || tr.Diagnosis == nil || tr.Diagnosis.Code != oauthflow.DiagInvalidClient {
		t.Fatalf("trace: got outcome %q diagnosis %+v, want failed, invalid_client", tr.Outcome, tr.Diagnosis)
	}
	raw, _ := json.Marshal(tr)
	for _, s := range []string{fakeprovider.DefaultClientSecret, tok.RefreshToken, tok.AccessToken} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the trace contains the secret %q: %s", s, raw)
		}
	}
	if !strings.Contains(string(raw), oauthflow.Mask(tok.RefreshToken)) {
		t.Errorf("the trace: got %s, want the echoed refresh token masked", raw)
	}
	if len(tr.Steps) != 1 || !strings.Contains(tr.Steps[0].Note, "configuration problem") {
		t.Errorf("steps: got %+v, want one with the decision", tr.Steps)
	}
}

// TestTracesOffRecordsNothing: without a TraceStore no trace is written.
func TestTracesOffRecordsNothing(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{}, oauthflow.GrantAuthorizationCode)
	e.connect()
	if _, err := e.mgr.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonManual); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := e.store.ListTraces(context.Background(), e.acct.ID, 10, ""); len(list) != 0 {
		t.Fatalf("traces: got %d, want none", len(list))
	}
}
