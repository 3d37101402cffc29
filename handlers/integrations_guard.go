package handlers

import (
	"context"
	"fmt"
	"slices"

	"airlock/oauthflow"
	"airlock/store"
)

// Builders are not trusted with credentials: nothing a builder does may send
// an account's token, refresh token or the client secret to a host an admin
// did not approve. adminChanges lists what only an admin may therefore do.

// Messages of the changes only an admin may make.
const (
	adminSecretDest = "An admin must make this change: accounts use this integration, and it would send their refresh tokens and the client secret to another host."
	adminAccessDest = "An admin must make this change: accounts use this integration, and it would send their access tokens to another host."
	adminPlacement  = "An admin must make this change: accounts use this integration, and it would send their access tokens somewhere else in the request."
	adminAnyOrigin  = "An admin must make this change: * (any origin) lets the token go to any host a request names. List the API's base URLs instead."
	adminAllowed    = "An admin must make this change: allowed values decide which hosts accounts may reach. Leave them as they are, or ask an admin."
)

// adminChanges returns, by JSON path, the changes from old (nil: a new
// integration) to in that only an admin may make: setting * as the API base
// URL, adding or changing a parameter's allowed values, and — while accounts
// use the integration — moving any credential destination (token and revoke
// endpoints, API base URLs, health check, token placement) so that some
// account's credentials would go to an origin they did not go to before.
// It returns nil for an admin.
func (h *Handler) adminChanges(ctx context.Context, me identity, old *oauthflow.Integration, in oauthflow.Integration) (oauthflow.FieldErrors, error) {
	if me.Role == store.RoleAdmin {
		return nil, nil
	}
	fe := oauthflow.FieldErrors{}
	prev := oauthflow.Integration{}
	if old != nil {
		prev = *old
	}
	if oauthflow.AllowsAnyOrigin(in) && !oauthflow.AllowsAnyOrigin(prev) {
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
	if old != nil {
		sets, err := h.store.AccountParameterSets(ctx, old.ID)
		if err != nil {
			return nil, err
		}
		for _, values := range sets {
			for _, path := range oauthflow.MovedDestinations(*old, in, values) {
				fe[path] = destinationMessage(path)
			}
		}
	}
	if len(fe) == 0 {
		return nil, nil
	}
	return fe, nil
}

func destinationMessage(path string) string {
	switch path {
	case "oauth2.token_url", "oauth2.revoke_url":
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

// forbiddenFields is the API's 403 for changes only an admin may make.
func forbiddenFields(fe oauthflow.FieldErrors) error {
	return apiErr("forbidden", "An admin must make this change: see fields.", fe)
}
