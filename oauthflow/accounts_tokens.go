package oauthflow

import (
	"context"
	"fmt"
	"net/http"
)

// usable refuses, before any network call, an account that has no token to use.
func usable(a Account) error {
	msg := ""
	switch a.Status {
	case StatusPending, StatusDisconnected:
		msg = fmt.Sprintf("The account is %s: connect it first.", a.Status)
	case StatusNeedsReconnect:
		msg = "The account needs to be reconnected: its authorization no longer matches or was revoked."
	default:
		return nil
	}
	return &Error{Code: CodeNeedsReconnect, Message: msg, Err: ErrNeedsReconnect}
}

// refreshable refuses a manual refresh of an account that only a new
// connection can fix: its parameters changed (its refresh token belongs to
// other values) or its grant is dead.
func refreshable(a Account, in Integration) error {
	if in.StaticCredentials() {
		return conflict(fmt.Sprintf("%s sends the credentials it was given: there is no token to refresh. If the API rejects them, replace them", a.Name), nil)
	}
	switch a.Status {
	case StatusNeedsReconnect:
		return conflict(fmt.Sprintf("%s needs to be reconnected, not refreshed: its authorization no longer matches (or was revoked). Press Reconnect", a.Name), ErrNeedsReconnect)
	case StatusPending, StatusDisconnected:
		return conflict(fmt.Sprintf("%s is not connected: press Connect first", a.Name), ErrNeedsReconnect)
	}
	return nil
}

// Refreshed is what a refresh a person asked for did.
type Refreshed struct {
	Account Account // the account after the attempt
	// Err says why no new token is stored: the refresh failed, or (Refused)
	// nothing was tried because only a new connection helps.
	Err     error
	Refused bool
}

// Refresh refreshes the account's token now (the console's button, the
// API's refresh), even while refreshes are paused after failures.
func (a *Accounts) Refresh(ctx context.Context, id, actor string) (Refreshed, error) {
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return Refreshed{}, err
	}
	if err := refreshable(acct, in); err != nil {
		return Refreshed{Account: acct, Err: err, Refused: true}, nil
	}
	_, rerr := a.mgr.Refresh(ctx, acct, in, ReasonManual)
	if rerr != nil {
		a.o.Log.Info("manual refresh failed", "account_id", id, "by", actor, "err", rerr)
	}
	if acct, err = a.account(ctx, id); err != nil {
		return Refreshed{}, err
	}
	return Refreshed{Account: acct, Err: rerr}, nil
}

// Token hands out the account's access token (refreshed first when inside
// its window) and records who took it: the token API for admin keys.
func (a *Accounts) Token(ctx context.Context, id, actor string) (TokenResult, error) {
	acct, err := a.account(ctx, id)
	if err != nil {
		return TokenResult{}, err
	}
	if err := usable(acct); err != nil {
		return TokenResult{}, err
	}
	in, err := a.st.IntegrationWithSecret(ctx, acct.IntegrationID)
	if err != nil {
		return TokenResult{}, err
	}
	res, err := a.mgr.Token(ctx, acct, in)
	if err != nil {
		return TokenResult{}, err
	}
	ev := Event{Account: acct, Kind: "token", Outcome: "ok", Actor: actor}
	if res.Refreshed {
		ev.RefreshReason = res.Reason
	}
	if a.o.Record != nil {
		a.o.Record(ev)
	}
	return res, nil
}

// Request sends a request through the account, reading the account from the
// cache: nothing from the database while the token is fresh. A second
// rejection (the API refused even a freshly refreshed token) is written on
// the account.
func (a *Accounts) Request(ctx context.Context, id string, req Request) (*Response, error) {
	acct, in, err := a.target(ctx, id)
	if err != nil {
		return nil, err
	}
	if !req.Trace {
		return a.run(ctx, acct, in, req)
	}
	if err := usable(acct); err != nil {
		return nil, err
	}
	return a.runTraced(ctx, TraceTestRequest, acct, in, func(ctx context.Context) (*Response, error) { return a.run(ctx, acct, in, req) }, requestFailure)
}

func (a *Accounts) run(ctx context.Context, acct Account, in Integration, req Request) (*Response, error) {
	if err := usable(acct); err != nil {
		return nil, err
	}
	resp, err := a.o.Runner.Do(ctx, acct, in, req)
	if err == nil && resp.RefreshError != nil {
		resp.RefreshError.AccountStatus = acct.Status
		if now, aerr := a.st.Account(ctx, acct.ID); aerr == nil {
			resp.RefreshError.AccountStatus = now.Status
		}
	}
	if err == nil && resp.RejectedTwice {
		a.rejectedTwice(ctx, acct, resp.Status)
	}
	if err == nil {
		a.recovered(ctx, acct, in, in.RejectedResponse(resp.Status, resp.Header, resp.Body))
	}
	return resp, err
}

// rejectedTwice writes on the account that the API refused even a freshly
// refreshed token.
func (a *Accounts) rejectedTwice(ctx context.Context, acct Account, status int) {
	msg := fmt.Sprintf("The API answered %d even with a freshly refreshed token: check the scopes granted and the integration's token settings.", status)
	if serr := a.st.SetAccountError(ctx, acct.ID, msg); serr != nil {
		a.o.Log.Warn("record rejection", "account_id", acct.ID, "err", serr)
	}
	a.changed(acct.ID)
}

// CheckHealth sends the integration's health check through the account and
// records the verdict on it.
func (a *Accounts) CheckHealth(ctx context.Context, id string) error {
	acct, in, err := a.target(ctx, id)
	if err != nil {
		return err
	}
	hc := in.HealthCheck
	if hc == nil || hc.URL == "" {
		return conflict("This integration has no health check: add one on the integration.", nil)
	}
	if err := usable(acct); err != nil {
		return err
	}
	want := hc.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	resp, err := a.runTraced(ctx, TraceHealthCheck, acct, in, func(ctx context.Context) (*Response, error) {
		return a.run(ctx, acct, in, Request{Method: hc.Method, URL: hc.URL})
	}, func(resp *Response, err error) (*Diagnosis, error) { return healthFailure(hc, want, resp, err) })
	health, detail := "healthy", ""
	switch {
	case err != nil:
		health, detail = "failing", err.Error()
	case resp.RejectedTwice:
		health, detail = "failing", fmt.Sprintf("%s %s rejected the token even after a refresh (answer %d)", hc.Method, hc.URL, resp.Status)
	case resp.Status != want:
		health, detail = "failing", fmt.Sprintf("%s %s answered %d, expected %d", hc.Method, hc.URL, resp.Status, want)
	default:
		detail = fmt.Sprintf("%s %s answered %d in %d ms", hc.Method, hc.URL, resp.Status, resp.Duration.Milliseconds())
	}
	if err := a.st.SetAccountHealth(ctx, id, health, detail); err != nil {
		return err
	}
	a.changed(id)
	return nil
}

// healthFailure is why a health check's trace failed (nil when it passed).
func healthFailure(hc *HealthCheck, want int, resp *Response, err error) (*Diagnosis, error) {
	switch {
	case err != nil:
		return nil, err
	case resp.RejectedTwice:
		return rejectedTwiceDiagnosis(resp.Status), fmt.Errorf("the API answered %d even with a freshly refreshed token", resp.Status)
	case resp.Status != want:
		return &Diagnosis{Code: DiagHealthStatus, Message: fmt.Sprintf("%s %s answered %d, expected %d.", hc.Method, hc.URL, resp.Status, want),
				Hint: "check health_check.url and health_check.expect_status against the API's documentation (the answer is in the step below)"},
			fmt.Errorf("%s %s answered %d, expected %d", hc.Method, hc.URL, resp.Status, want)
	}
	return nil, nil
}
