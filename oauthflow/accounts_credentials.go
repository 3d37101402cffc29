package oauthflow

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// credentialPath is the JSON path of a credential field in a request.
func credentialPath(name string) string { return "credentials." + name }

// ValidateCredentials checks what an account supplies against the
// integration's credential fields: each is given, none is unknown.
func ValidateCredentials(in Integration, creds map[string]string) FieldErrors {
	fe := FieldErrors{}
	known := map[string]bool{}
	for _, f := range in.CredentialFields {
		known[f.Name] = true
		v, ok := creds[f.Name]
		switch {
		case !ok || strings.TrimSpace(v) == "":
			fe[credentialPath(f.Name)] = fmt.Sprintf("Enter the %s (%s): the account needs it.", f.Label, f.Name)
		case len(v) > maxCredentialValue:
			fe[credentialPath(f.Name)] = fmt.Sprintf("%s is longer than %d characters.", f.Label, maxCredentialValue)
		case in.Type() == AuthBasic && f.Name == CredUsername && strings.Contains(v, ":"):
			fe[credentialPath(f.Name)] = "An HTTP Basic username may not contain a colon."
		case hasControl(v):
			fe[credentialPath(f.Name)] = "The value may not contain line breaks or control characters."
		}
	}
	names := make([]string, 0, len(in.CredentialFields))
	for _, f := range in.CredentialFields {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	for k := range creds {
		if !known[k] {
			fe[credentialPath(k)] = fmt.Sprintf("%s is not a credential field of this integration (its fields: %s): remove it.", k, strings.Join(names, ", "))
		}
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// CredentialHints mask credentials for display: a secret field as "set,
// ends in …1234" (just "set" when it is short), a plain field's value.
func CredentialHints(in Integration, creds map[string]string) map[string]string {
	h := make(map[string]string, len(creds))
	for _, f := range in.CredentialFields {
		v := creds[f.Name]
		switch {
		case !f.Secret:
			h[f.Name] = v
		case len(v) >= 8:
			h[f.Name] = "set, ends in …" + v[len(v)-4:]
		default:
			h[f.Name] = "set"
		}
	}
	return h
}

// staticToken is the token an api_token or basic account sends.
func staticToken(in Integration, creds map[string]string) string {
	if in.Type() == AuthBasic {
		return base64.StdEncoding.EncodeToString([]byte(creds[CredUsername] + ":" + creds[CredPassword]))
	}
	return creds[CredToken]
}

// trimCredentials trims each value (pasted keys often carry a newline).
func trimCredentials(creds map[string]string) map[string]string {
	out := make(map[string]string, len(creds))
	for k, v := range creds {
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// SetCredentials replaces an account's credentials (a builder, the API's
// PUT /accounts/{id}/credentials or the account page) and connects it with
// them: at once for api_token and basic, after a successful fetch for
// custom_token. A failed fetch keeps the new credentials and leaves the
// account in status error with the reason (Failure).
func (a *Accounts) SetCredentials(ctx context.Context, id string, creds map[string]string, actor string) (Created, error) {
	acct, in, err := a.load(ctx, id)
	if err != nil {
		return Created{}, err
	}
	if !in.UsesCredentials() {
		return Created{}, conflict("This account's integration uses OAuth 2.0: it connects with Connect, not with credentials.", nil)
	}
	creds = trimCredentials(creds)
	if fe := ValidateCredentials(in, creds); fe != nil {
		return Created{}, invalidAccount(fe)
	}
	return a.useCredentials(ctx, acct, in, creds, actor)
}

// useCredentials stores the credentials and connects the account with them.
func (a *Accounts) useCredentials(ctx context.Context, acct Account, in Integration, creds map[string]string, actor string) (Created, error) {
	defer a.written(acct.ID)
	if err := a.st.SetAccountCredentials(ctx, acct.ID, creds, CredentialHints(in, creds), actor); err != nil {
		return Created{}, err
	}
	a.mgr.Forget(acct.ID)
	var out Created
	if in.StaticCredentials() {
		t := Token{AccessToken: staticToken(in, creds), TokenType: in.Type(), ObtainedAt: a.o.Now()}
		ev := RefreshEvent{Reason: ReasonConnect, Note: "credentials set by " + actor, Status: StatusConnected, Actor: actor}
		if _, err := a.mgr.saveToken(ctx, acct.ID, -1, t, ev); err != nil {
			return Created{}, err
		}
	} else if _, ferr := a.mgr.Refresh(ctx, acct, in, ReasonConnect); ferr != nil {
		out.Failure = ferr
		if cur, err := a.st.Account(ctx, acct.ID); err == nil && cur.Status != StatusError {
			if serr := a.st.SetAccountStatus(ctx, acct.ID, StatusError, ferr.Error()); serr != nil {
				return Created{}, serr
			}
		}
	}
	var err error
	out.Account, err = a.st.Account(ctx, acct.ID)
	return out, err
}

// recovered brings an api_token or basic account in status error back to
// connected after the API accepted its credentials again.
func (a *Accounts) recovered(ctx context.Context, acct Account, in Integration, rejected bool) {
	if !in.StaticCredentials() || acct.Status != StatusError || rejected {
		return
	}
	if err := a.st.RecoverAccount(ctx, acct.ID); err != nil {
		a.o.Log.Warn("record recovery", "account_id", acct.ID, "err", err)
	}
	a.changed(acct.ID)
}
