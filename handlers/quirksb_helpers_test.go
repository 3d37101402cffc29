package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"airlock/oauthflow/fakeprovider"
)

// quirkDef is an integration JSON document for the fakes, with oauth2
// fields given by the caller merged in.
func quirkDef(key string, f *quirkFakeB, oauth2 map[string]any, top map[string]any) string {
	o := map[string]any{"grant_type": "authorization_code", "authorization_url": f.URL() + "/authorize",
		"token_url": f.URL() + "/token", "revoke_url": f.URL() + "/revoke", "scope": "read write",
		"client_id": fakeprovider.DefaultClientID, "client_secret": fakeprovider.DefaultClientSecret, "client_auth": "body", "pkce": true}
	for k, v := range oauth2 {
		o[k] = v
	}
	doc := map[string]any{"key": key, "name": "Fake " + key, "oauth2": o, "api_base_urls": []string{f.URL() + "/"}}
	for k, v := range top {
		doc[k] = v
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// quirkAccount defines the integration through the JSON API (as an admin:
// allowed hosts are an admin's approval) and creates an account in it.
func (ts *testServer) quirkAccount(t *testing.T, def string) (accountID, adminKey string) {
	t.Helper()
	adminKey = ts.apiKey("admin")
	if r := ts.api("POST", "/api/v1/integrations", adminKey, def); r.status != http.StatusCreated {
		t.Fatalf("create integration: got %d, want 201\n%s", r.status, r.body)
	}
	var in struct{ Key string }
	json.Unmarshal([]byte(def), &in)
	r := ts.api("POST", "/api/v1/integrations/"+in.Key+"/accounts", adminKey, `{"name":"PROD"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create account: got %d, want 201\n%s", r.status, r.body)
	}
	var a accountJSON
	json.Unmarshal([]byte(r.body), &a)
	return a.ID, adminKey
}

// quirkConnect signs in at the fake through the console and follows its
// redirect back to the callback.
func quirkConnect(t *testing.T, c *client, accountID string) response {
	t.Helper()
	auth := c.startConnect(t, accountID)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(auth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: got %d, want 302", resp.StatusCode)
	}
	return c.follow(t, resp.Header.Get("Location"))
}

// accountOf reads an account through the API.
func (ts *testServer) accountOf(t *testing.T, id, key string) accountJSON {
	t.Helper()
	r := ts.api("GET", "/api/v1/accounts/"+id, key, "")
	if r.status != http.StatusOK {
		t.Fatalf("get account: got %d\n%s", r.status, r.body)
	}
	var a accountJSON
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// send makes a request through the account and returns its answer.
func (ts *testServer) send(t *testing.T, id, key, rawURL string) requestOutput {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"method": "GET", "url": rawURL})
	r := ts.api("POST", "/api/v1/accounts/"+id+"/request", key, string(body))
	if r.status != http.StatusOK {
		t.Fatalf("request %s: got %d, want 200\n%s", rawURL, r.status, r.body)
	}
	var out requestOutput
	json.Unmarshal([]byte(r.body), &out)
	return out
}

func hasWarning(a accountJSON, code string) bool {
	for _, w := range a.Warnings {
		if w.Code == code {
			return true
		}
	}
	return false
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
