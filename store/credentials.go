package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"airlock/oauthflow"
)

func credentialsAAD(accountID string) string { return "accounts.credentials:" + accountID }

// SetAccountCredentials replaces an account's credentials, sealed, and the
// hints the console shows of them. The audit entry says they were replaced,
// never what they are.
func (s *Store) SetAccountCredentials(ctx context.Context, id string, creds, hints map[string]string, actor string) error {
	if s.sealer == nil {
		return errors.New("store: no encryption key configured: cannot store credentials")
	}
	plain, err := json.Marshal(nonNilMap(creds))
	if err != nil {
		return fmt.Errorf("store: set credentials of account %s: %w", id, err)
	}
	sealed, err := s.sealer.Seal(plain, credentialsAAD(id))
	if err != nil {
		return err
	}
	h, err := json.Marshal(nonNilMap(hints))
	if err != nil {
		return fmt.Errorf("store: set credentials of account %s: %w", id, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: set credentials of account %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET credentials = ?, credential_hints = ?, updated_at = ? WHERE id = ?",
		sealed, string(h), millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: set credentials of account %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: set credentials of account %s: %w", id, ErrNotFound)
	}
	if err := s.audit(ctx, tx, AuditAccount, id, ActionAccountUpdate, map[string]any{"credentials": "replaced"}); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return err
	}
	return commit(tx, "set account credentials")
}

// AccountCredentials opens an account's credentials (an empty map when it
// has none).
func (s *Store) AccountCredentials(ctx context.Context, id string) (map[string]string, error) {
	var sealed []byte
	err := s.read.QueryRowContext(ctx, "SELECT credentials FROM accounts WHERE id = ?", id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: credentials of account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: credentials of account %s: %w", id, err)
	}
	out := map[string]string{}
	if sealed == nil {
		return out, nil
	}
	if s.sealer == nil {
		return nil, errors.New("store: no encryption key configured: cannot open credentials")
	}
	plain, err := s.sealer.Open(sealed, credentialsAAD(id))
	if err != nil {
		return nil, fmt.Errorf("store: credentials of account %s: %w", id, err)
	}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("store: decode credentials of account %s: %w", id, err)
	}
	return out, nil
}

// RecoverAccount brings an account in status error back to connected and
// closes its failure alerts (announcing the recovery); an account in any
// other status is left alone.
func (s *Store) RecoverAccount(ctx context.Context, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: recover account %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET status = ?, last_error = '', updated_at = ? WHERE id = ? AND status = ?",
		oauthflow.StatusConnected, millis(s.now()), id, oauthflow.StatusError)
	if err != nil {
		return fmt.Errorf("store: recover account %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := s.resolveAlerts(ctx, tx, id, "recovered", "account.recovered", AlertError, AlertRefreshFailing); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return err
	}
	return commit(tx, "recover account")
}
