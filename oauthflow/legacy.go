package oauthflow

import "context"

// LegacyToken is a stored token set saved before Airlock recorded the
// endpoints a token was obtained at, with its account and integration.
type LegacyToken struct {
	Account     Account
	Integration Integration
}

// LegacyTokenStore is what RecordLegacyEndpoints needs from persistence.
type LegacyTokenStore interface {
	// TokensWithoutEndpoints lists the token sets with no recorded endpoints.
	TokensWithoutEndpoints(ctx context.Context) ([]LegacyToken, error)
	// RecordTokenEndpoints records them, unless some are recorded already.
	RecordTokenEndpoints(ctx context.Context, accountID string, ep Endpoints) error
}

// RecordLegacyEndpoints gives the token sets saved before endpoints were
// recorded the endpoints they were, as far as can be known, obtained at: the
// integration's URLs filled in with the account's current values. That holds
// for every account whose parameters did not change since its token was
// obtained, because changing them used to mark the account needs_reconnect
// (leaving the token behind). So an account in needs_reconnect gets nothing:
// its token could belong to other values, it is never refreshed or revoked
// anywhere, a disconnect deletes it locally and a reconnection replaces it.
// The server runs this once at start-up, holding the data dir's lock (no
// older process can save a token meanwhile); it is idempotent.
func RecordLegacyEndpoints(ctx context.Context, st LegacyTokenStore) (recorded, skipped int, err error) {
	legacy, err := st.TokensWithoutEndpoints(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range legacy {
		if l.Account.Status == StatusNeedsReconnect {
			skipped++
			continue
		}
		ep, err := ResolveEndpoints(l.Integration, l.Account.Parameters)
		if err != nil {
			skipped++
			continue
		}
		if err := st.RecordTokenEndpoints(ctx, l.Account.ID, ep); err != nil {
			return recorded, skipped, err
		}
		recorded++
	}
	return recorded, skipped, nil
}
