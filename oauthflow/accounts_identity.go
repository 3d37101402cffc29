package oauthflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
)

// AccountFacts are what a connect learnt about the account besides its
// tokens: captured values (merged into the stored ones) and the identity
// (recorded when the account has none).
type AccountFacts struct {
	Captured map[string]string
	Identity string
}

// Userinfo fetches target with the access token (Authorization: Bearer, as
// OpenID Connect's userinfo endpoint expects) through the client's guarded
// HTTP client, redirects not followed, and decodes the JSON answer.
func (c *Client) Userinfo(ctx context.Context, target, accessToken string) (any, error) {
	const endpoint = "userinfo endpoint"
	u, err := endpointURL(target)
	if err != nil {
		return nil, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &TokenError{Kind: KindConfig, Endpoint: endpoint, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	status, _, body, err := c.do(req, endpoint, "userinfo", Secrets{Values: []string{accessToken}})
	if err != nil {
		return nil, scrubError(err, []string{accessToken})
	}
	if status < 200 || status > 299 {
		return nil, &TokenError{Kind: statusKind(status), Endpoint: endpoint, Status: status, Description: fmt.Sprintf("answered HTTP %d", status)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &TokenError{Kind: KindConfig, Endpoint: endpoint, Description: "the answer is not JSON: check oauth2.userinfo_url"}
	}
	return doc, nil
}

// callbackCaptures takes the callback's captures into acct (for the code
// exchange itself); a value outside its allowed hosts refuses the callback
// before anything is sent.
func (a *Accounts) callbackCaptures(ctx context.Context, acct *Account, in Integration, q url.Values) error {
	got, err := takeCaptures(in, answers{callback: q}, FromCallback)
	if err != nil {
		a.recordCallbackFailure(ctx, *acct, err.Error())
		return refused("A captured value was refused", capitalize(err.Error())+".", err)
	}
	acct.Captured = mergeCaptured(acct.Captured, got)
	return nil
}

func mergeCaptured(old, got map[string]string) map[string]string {
	if len(got) == 0 {
		return old
	}
	m := maps.Clone(old)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, got)
	return m
}

// facts reads what the new token set says about the account: the callback,
// token answer and userinfo captures and the identity. An identity other
// than the recorded one, a refused capture or a failed userinfo call fails
// the connect; the new tokens are then revoked (where a revocation
// endpoint is set) and the stored ones stay as they were.
func (a *Accounts) facts(ctx context.Context, acct Account, in Integration, q url.Values, tok Token, user string) (AccountFacts, error) {
	ans := answers{token: tok.Answer, callback: q}
	f, err := a.readFacts(ctx, acct, in, &ans, tok)
	if err == nil && acct.Identity != "" && f.Identity != "" && f.Identity != acct.Identity {
		err = identityConflict(acct.Identity, f.Identity, user)
	}
	if err == nil {
		return f, nil
	}
	rctx, cancel := detached(ctx)
	defer cancel()
	if _, rerr := a.o.Client.RevokeAll(rctx, in, acct.Values(), tok); rerr != nil {
		a.o.Log.Warn("revoke the tokens of a refused connect", "account_id", acct.ID, "err", rerr)
	}
	msg := err.Error()
	if e, ok := err.(*Error); ok {
		msg = e.Message
	}
	if serr := a.st.SetAccountError(rctx, acct.ID, msg); serr != nil {
		a.o.Log.Warn("record a refused connect", "account_id", acct.ID, "err", serr)
	}
	a.changed(acct.ID)
	if _, ok := err.(*Error); ok {
		return f, err
	}
	title := "The connection could not be completed"
	var ce *captureError
	if errors.As(err, &ce) {
		title = "A captured value was refused"
	}
	return f, refused(title, capitalize(msg)+". Nothing was stored; check the integration, then connect again.", err)
}

func (a *Accounts) readFacts(ctx context.Context, acct Account, in Integration, ans *answers, tok Token) (AccountFacts, error) {
	got, err := takeCaptures(in, *ans, FromCallback, FromTokenResponse)
	if err != nil {
		return AccountFacts{}, err
	}
	captured := mergeCaptured(acct.Captured, got)
	if in.OAuth2.UserinfoURL != "" {
		values := Account{Parameters: acct.Parameters, Captured: captured}.Values()
		u, err := ExpandURL(in.OAuth2.UserinfoURL, values)
		if err != nil {
			return AccountFacts{}, fmt.Errorf("build the userinfo URL: %w", err)
		}
		if ans.userinfo, err = a.o.Client.Userinfo(ctx, u.String(), tok.AccessToken); err != nil {
			return AccountFacts{}, err
		}
		more, err := takeCaptures(in, *ans, FromUserinfo)
		if err != nil {
			return AccountFacts{}, err
		}
		maps.Copy(got, more)
	}
	f := AccountFacts{Captured: got}
	if id := in.OAuth2.Identity; id != nil {
		v, ok := ans.text(id.From, id.Path)
		if !ok {
			return f, fmt.Errorf("identity: the %s has nothing at %q: check oauth2.identity", strings.ReplaceAll(id.From, "_", " "), id.Path)
		}
		f.Identity = v
	}
	return f, nil
}

// identityConflict words a connect that signed in someone else.
func identityConflict(had, got, user string) error {
	msg := fmt.Sprintf("This account is connected as %s; the provider just signed in %s. Nothing changed: the new tokens were "+
		"discarded (and revoked where the integration has a revocation URL). Sign in as %s, or reset the account's identity first "+
		"to connect it as someone else.", had, got, had)
	if user == "" {
		msg = fmt.Sprintf("You signed in as %s, but this account is connected as someone else at the provider. Nothing changed. "+
			"Sign in with the account it belongs to, or ask the person who sent the link.", got)
	}
	return &Error{Code: CodeConflict, Title: "A different account signed in", Message: msg}
}

// ResetIdentity forgets the account's identity: the next connect records a
// new one.
func (a *Accounts) ResetIdentity(ctx context.Context, id string) (Account, error) {
	if _, err := a.account(ctx, id); err != nil {
		return Account{}, err
	}
	if err := a.st.ResetIdentity(ctx, id); err != nil {
		return Account{}, err
	}
	a.changed(id)
	return a.account(ctx, id)
}

// flowTokenURL is the token endpoint a flow records: "" when it uses a
// callback capture, which the callback itself brings (and checks).
func flowTokenURL(in Integration, values map[string]string) (string, error) {
	names, _ := Placeholders(in.OAuth2.TokenURL)
	for _, c := range in.OAuth2.Capture {
		if c.From == FromCallback && containsString(names, c.Name) {
			return "", nil
		}
	}
	u, err := ExpandURL(in.OAuth2.TokenURL, values)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// refreshCaptures are the token-answer captures of a refreshed token; a
// value outside its allowed hosts is not stored (the token is: it may have
// rotated) and is logged. The decoded answer is dropped.
func (m *Manager) refreshCaptures(a Account, in Integration, tok *Token) map[string]string {
	ans := answers{token: tok.Answer}
	tok.Answer = nil
	got, err := takeCaptures(in, ans, FromTokenResponse)
	if err != nil {
		m.log.Warn("a refreshed token carried a captured value that was refused", "account_id", a.ID, "err", err)
		return nil
	}
	return got
}

// scopeWarnings: insufficient_scopes when a token answer reported scopes
// and some required ones are not among them.
func scopeWarnings(in Integration, t Token) []Warning {
	if len(in.OAuth2.RequiredScopes) == 0 || len(t.Scopes) == 0 {
		return nil
	}
	var missing []string
	for _, s := range in.OAuth2.RequiredScopes {
		if !containsString(t.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []Warning{{Code: WarnInsufficientScopes, Message: "The provider did not grant every scope this integration needs; missing: " +
		strings.Join(missing, ", ") + ". Reconnect and grant the missing scopes."}}
}
