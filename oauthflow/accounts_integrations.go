package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// reservedKeys are words the console uses in its addresses under
// /integrations/; an integration with one of them as its key could not be
// shown there.
var reservedKeys = map[string]bool{"new": true, "import": true, "form": true, "preview": true}

// CheckIntegration is the one validation of an integration, for the
// console's form, its preview and the API: it normalizes in (in place) and
// returns every problem keyed by JSON path, or nil. Problems found while
// parsing (parsed) come first for their path.
func CheckIntegration(in *Integration, opts ValidateOptions, parsed FieldErrors) FieldErrors {
	Normalize(in)
	fe := FieldErrors{}
	for p, m := range Validate(*in, opts) {
		fe[p] = m
	}
	for p, m := range parsed {
		fe[p] = m
	}
	if _, ok := fe["key"]; !ok && reservedKeys[strings.ToLower(in.Key)] {
		fe["key"] = fmt.Sprintf("%s is a word the console uses in its addresses: choose another key", in.Key)
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// IntegrationChange is an integration to create or to replace one with.
type IntegrationChange struct {
	Integration Integration
	// Parsed are the problems found while reading it (the console's form),
	// reported with the rest.
	Parsed FieldErrors
	// RequireSecret: a new integration must come with its client secret
	// (an import may come without: it cannot connect until one is set).
	RequireSecret bool
	// Admin: the actor is an admin, who may make the changes builders may
	// not (see adminChanges).
	Admin bool
	Actor string
}

// invalidIntegration is the error for an integration's field problems.
func invalidIntegration(fe FieldErrors) error {
	return &Error{Code: CodeInvalidFields, Message: fmt.Sprintf("The integration has %s: see fields.", plural(len(fe), "problem", "problems")), Fields: fe}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// IntegrationNotFound is the error for a key that names no integration.
func IntegrationNotFound(key string) error {
	return notFound(fmt.Sprintf("No integration has the key %q: check it, or list them with GET /api/v1/integrations.", truncateError(key, 64)))
}

// keyTaken is the error for a key another integration has; Fields blames
// the key with the same words (callers add what to do).
func keyTaken(key string, err error) error {
	msg := "An integration with the key " + key + " already exists"
	return &Error{Code: CodeConflict, Message: msg, Fields: map[string]string{"key": msg}, Err: err}
}

// CreateIntegration checks and stores a new integration. Errors:
// invalid_fields, forbidden (a change only an admin may make, by field),
// conflict (the key is taken).
func (a *Accounts) CreateIntegration(ctx context.Context, ch IntegrationChange) (Integration, error) {
	in := ch.Integration
	if fe := CheckIntegration(&in, ValidateOptions{RequireSecret: ch.RequireSecret}, ch.Parsed); fe != nil {
		return in, invalidIntegration(fe)
	}
	if err := a.adminChanges(ctx, ch.Admin, nil, in); err != nil {
		return in, err
	}
	saved, err := a.st.CreateIntegration(ctx, in)
	if errors.Is(err, ErrConflict) {
		return in, keyTaken(in.Key, err)
	}
	if err != nil {
		return in, err
	}
	a.o.Log.Info("integration saved", "key", saved.Key, "created", true, "by", ch.Actor)
	return saved, nil
}

// UpdateIntegration replaces the integration oldKey names, checked like a
// new one (a blank client secret keeps the stored one). Moving the token or
// revoke endpoint to another host needs the secret entered again; while
// accounts use the integration, moving any credential destination needs an
// admin. The key may change only while no account uses it. Every account's
// cached view of it is dropped.
func (a *Accounts) UpdateIntegration(ctx context.Context, oldKey string, ch IntegrationChange) (Integration, error) {
	old, err := a.st.GetIntegration(ctx, oldKey)
	if errors.Is(err, ErrNotFound) {
		return old, IntegrationNotFound(oldKey)
	}
	if err != nil {
		return old, err
	}
	in := ch.Integration
	if fe := CheckIntegration(&in, ValidateOptions{}, ch.Parsed); fe != nil {
		return in, invalidIntegration(fe)
	}
	if err := a.adminChanges(ctx, ch.Admin, &old, in); err != nil {
		return in, err
	}
	if fe := secretReentry(old, in); fe != nil {
		return in, invalidIntegration(fe)
	}
	saved, err := a.st.UpdateIntegration(ctx, old.Key, in)
	switch {
	case errors.Is(err, ErrNotFound): // deleted meanwhile
		return in, IntegrationNotFound(old.Key)
	case errors.Is(err, ErrKeyInUse):
		n, cerr := a.st.CountAccounts(ctx, old.ID)
		if cerr != nil {
			return in, cerr
		}
		return in, invalidIntegration(FieldErrors{"key": fmt.Sprintf("The key cannot change while %s use this integration: keep the key, or disconnect them first",
			plural(n, "account", "accounts"))})
	case errors.Is(err, ErrConflict):
		return in, keyTaken(in.Key, err)
	case err != nil:
		return in, err
	}
	a.changed("")
	a.o.Log.Info("integration saved", "key", saved.Key, "created", false, "by", ch.Actor)
	return saved, nil
}

// DeleteIntegration disconnects every account of the integration (revoking
// their tokens where the provider allows it), then deletes it with its
// accounts, and says how many went.
func (a *Accounts) DeleteIntegration(ctx context.Context, key, actor string) (Integration, int, error) {
	in, err := a.st.GetIntegration(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return in, 0, IntegrationNotFound(key)
	}
	if err != nil {
		return in, 0, err
	}
	if err := a.disconnectAll(ctx, in); err != nil {
		return in, 0, err
	}
	n, err := a.st.DeleteIntegration(ctx, in.Key)
	if errors.Is(err, ErrNotFound) {
		return in, 0, IntegrationNotFound(in.Key)
	}
	if err != nil {
		return in, 0, err
	}
	a.changed("")
	a.o.Log.Info("integration deleted", "key", in.Key, "accounts", n, "by", actor)
	return in, n, nil
}

// secretReentry guards the client secret, which goes to the token and
// revoke endpoints: moving either to another host needs the secret entered
// again, by whoever makes the change (while accounts use the integration,
// only an admin may: see adminChanges). Otherwise a builder could send the
// stored secret to a host of their choosing.
func secretReentry(old, in Integration) FieldErrors {
	moved := TemplateOrigin(in.OAuth2.TokenURL) != TemplateOrigin(old.OAuth2.TokenURL)
	for _, u := range []string{in.OAuth2.RevokeURL, in.OAuth2.RefreshURL} {
		if r := TemplateOrigin(u); u != "" && r != TemplateOrigin(old.OAuth2.RevokeURL) && r != TemplateOrigin(old.OAuth2.TokenURL) &&
			(old.OAuth2.RefreshURL == "" || r != TemplateOrigin(old.OAuth2.RefreshURL)) {
			moved = true
		}
	}
	if !moved || in.OAuth2.ClientSecret != "" || !old.OAuth2.ClientSecretSet {
		return nil
	}
	return FieldErrors{"oauth2.client_secret": "The token, refresh or revoke endpoint moves to another host: enter the client secret again to confirm it may be sent there."}
}

// Builders are not trusted with credentials: nothing a builder does may send
// an account's token, refresh token or the client secret to a host an admin
// did not approve. adminChanges lists what only an admin may therefore do.
const (
	adminSecretDest = "An admin must make this change: accounts use this integration, and it would send their refresh tokens and the client secret to another host."
	adminAccessDest = "An admin must make this change: accounts use this integration, and it would send their access tokens to another host."
	adminPlacement  = "An admin must make this change: accounts use this integration, and it would send their access tokens somewhere else in the request."
	adminAnyOrigin  = "An admin must make this change: * (any origin) lets the token go to any host a request names. List the API's base URLs instead."
	adminAllowed    = "An admin must make this change: allowed values decide which hosts accounts may reach. Leave them as they are, or ask an admin."
)

// adminChanges refuses (forbidden, by JSON path) the changes from old (nil:
// a new integration) to in that only an admin may make: setting * as the
// API base URL, adding or changing a parameter's allowed values, and —
// while accounts use the integration — moving any credential destination
// (token and revoke endpoints, API base URLs, health check, token
// placement) so that some account's credentials would go to an origin they
// did not go to before.
func (a *Accounts) adminChanges(ctx context.Context, admin bool, old *Integration, in Integration) error {
	if admin {
		return nil
	}
	fe := FieldErrors{}
	prev := Integration{}
	if old != nil {
		prev = *old
	}
	if AllowsAnyOrigin(in) && !AllowsAnyOrigin(prev) {
		fe["api_base_urls"] = adminAnyOrigin
	}
	before := map[string][]string{}
	for _, p := range prev.Parameters {
		before[p.Name] = p.AllowedValues
	}
	for i, p := range in.Parameters {
		if !sameSet(before[p.Name], p.AllowedValues) {
			fe[fmt.Sprintf("parameters[%d].allowed_values", i)] = adminAllowed
		}
	}
	capturedHostsChanges(prev, in, fe)
	if old != nil {
		sets, err := a.st.AccountParameterSets(ctx, old.ID)
		if err != nil {
			return err
		}
		for _, values := range sets {
			for _, path := range MovedDestinations(*old, in, values) {
				fe[path] = destinationMessage(path)
			}
		}
	}
	if len(fe) == 0 {
		return nil
	}
	return &Error{Code: CodeForbidden, Message: "An admin must make this change: see fields.", Fields: fe}
}

func destinationMessage(path string) string {
	switch path {
	case "oauth2.token_url", "oauth2.revoke_url", "oauth2.refresh_url":
		return adminSecretDest
	case "token.name", "token.in":
		return adminPlacement
	}
	return adminAccessDest
}

// sameSet reports whether two lists hold the same values, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
