package store

import (
	"context"

	"airlock/oauthflow"
)

// The accounts service (oauthflow.Accounts) reads and writes accounts as the
// domain type; these are the account methods in its words.
var _ oauthflow.AccountsStore = (*Store)(nil)

// Account reads one account (ErrNotFound when there is none).
func (s *Store) Account(ctx context.Context, id string) (oauthflow.Account, error) {
	r, err := s.GetAccount(ctx, id)
	return r.Account, err
}

// AddAccount is CreateAccount for the accounts service.
func (s *Store) AddAccount(ctx context.Context, a oauthflow.Account) (oauthflow.Account, error) {
	r, err := s.CreateAccount(ctx, a)
	return r.Account, err
}

// SetAccountValues is UpdateAccount for the accounts service.
func (s *Store) SetAccountValues(ctx context.Context, id, name string, params map[string]string) (oauthflow.Account, error) {
	r, err := s.UpdateAccount(ctx, id, name, params)
	return r.Account, err
}

// ResetAccountValues is ReplaceAccountParameters for the accounts service.
func (s *Store) ResetAccountValues(ctx context.Context, id, name string, params map[string]string, revoked bool, detail, actor string) (oauthflow.Account, error) {
	r, err := s.ReplaceAccountParameters(ctx, id, name, params, revoked, detail, actor)
	return r.Account, err
}

// IntegrationAccounts pages through an integration's accounts, ordered by id.
func (s *Store) IntegrationAccounts(ctx context.Context, integrationID int64, limit int, cursor string) ([]oauthflow.Account, string, error) {
	rows, next, err := s.ListAccounts(ctx, AccountFilter{IntegrationID: integrationID}, limit, cursor)
	out := make([]oauthflow.Account, len(rows))
	for i, r := range rows {
		out[i] = r.Account
	}
	return out, next, err
}
