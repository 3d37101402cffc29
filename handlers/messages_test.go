package handlers

import (
	"net/http"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestCheckThatCannotRunSaysWhy: "Check" on an account that cannot be
// checked says why under a headline of its own, never "Conflict.".
func TestCheckThatCannotRunSaysWhy(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	acct := ts.account(in, "prod", nil)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/accounts/" + acct.ID)
	r := c.post("/accounts/"+acct.ID+"/check", nil, "HX-Request", "true")
	if r.status != http.StatusConflict {
		t.Fatalf("check a pending account: got %d, want 409\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "Conflict") || !strings.Contains(r.body, "Not possible now.") || !strings.Contains(r.body, "has no health check: add one") {
		t.Errorf("check without a health check: want 'Not possible now.' and the reason, no 'Conflict'\n%s", r.body)
	}
}

// TestMessagesAreSentences: a message worded in lower case by a lower layer
// reaches the person as a sentence.
func TestMessagesAreSentences(t *testing.T) {
	for in, want := range map[string]string{
		"the account needs to be reconnected": "The account needs to be reconnected",
		"Already fine":                        "Already fine",
		"":                                    "",
		"élan":                                "Élan",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q): got %q, want %q", in, got, want)
		}
	}
}
