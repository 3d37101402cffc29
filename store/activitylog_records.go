package store

import "airlock/oauthflow"

// Request keeps what the activity log holds of a request through an account
// (the runner's record hook): every request is counted in its account's
// minute (one row per account and minute), and failures — no answer, no
// token, a second rejection, a 5xx — and the console's test requests keep a
// row of their own. A nil log keeps nothing.
func (l *ActivityLog) Request(r oauthflow.RequestRecord) {
	if l == nil {
		return
	}
	l.AddRequest(RequestSample{AccountID: r.Account.ID, AccountName: r.Account.Name, IntegrationKey: r.IntegrationKey,
		Status: r.Status, Failed: r.Err != "", Duration: r.Duration})
	outcome := "ok"
	switch {
	case r.Err != "":
		outcome = "failed"
	case r.RejectedTwice:
		outcome = "rejected_twice"
	case r.Status >= 400:
		outcome = "error_status"
	}
	if !r.Console && r.Err == "" && !r.RejectedTwice && r.Status < 500 {
		return
	}
	l.Add(Activity{AccountID: r.Account.ID, AccountName: r.Account.Name, IntegrationKey: r.IntegrationKey,
		Kind: "request", Outcome: outcome, Method: r.Method, URL: r.URL, Status: r.Status, Counted: true,
		DurationMS: r.Duration.Milliseconds(), RefreshReason: r.RefreshReason, Detail: truncate(r.Err, 300)})
}

// Event keeps the accounts service's activity (a token handed out). A nil
// log keeps nothing.
func (l *ActivityLog) Event(e oauthflow.Event) {
	if l != nil {
		l.Add(Activity{AccountID: e.Account.ID, AccountName: e.Account.Name, IntegrationKey: e.Account.IntegrationKey,
			Kind: e.Kind, Outcome: e.Outcome, Actor: e.Actor, RefreshReason: e.RefreshReason})
	}
}
