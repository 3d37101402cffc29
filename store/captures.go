package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
)

// saveFacts records, in a token save's transaction, the captured values the
// answer carried (merged into the stored ones) and the identity when the
// account has none yet.
func saveFacts(ctx context.Context, tx *sql.Tx, accountID string, captured map[string]string, identity string) error {
	if len(captured) > 0 {
		var cur string
		if err := tx.QueryRowContext(ctx, "SELECT captured FROM accounts WHERE id = ?", accountID).Scan(&cur); err != nil {
			return fmt.Errorf("store: save captured values: %w", err)
		}
		m := map[string]string{}
		if err := json.Unmarshal([]byte(cur), &m); err != nil || m == nil {
			m = map[string]string{}
		}
		maps.Copy(m, captured)
		b, _ := json.Marshal(m)
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET captured = ? WHERE id = ?", string(b), accountID); err != nil {
			return fmt.Errorf("store: save captured values: %w", err)
		}
	}
	if identity != "" {
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET identity = ? WHERE id = ? AND identity = ''", truncate(identity, 1000), accountID); err != nil {
			return fmt.Errorf("store: save identity: %w", err)
		}
	}
	return nil
}

// ResetIdentity forgets an account's identity: its next connect records one.
// The change reaches other replicas and the audit log in its transaction.
func (s *Store) ResetIdentity(ctx context.Context, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: reset identity of account %s: %w", id, err)
	}
	defer tx.Rollback()
	var was string
	err = tx.QueryRowContext(ctx, "SELECT identity FROM accounts WHERE id = ?", id).Scan(&was)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: reset identity of account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: reset identity of account %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET identity = '', updated_at = ? WHERE id = ?", millis(s.now()), id); err != nil {
		return fmt.Errorf("store: reset identity of account %s: %w", id, err)
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return err
	}
	if err := s.audit(ctx, tx, AuditAccount, id, ActionAccountResetIdentity, map[string]any{"identity": was}); err != nil {
		return err
	}
	return commit(tx, "reset identity")
}

// decodeCaptured reads the captured column; nil when empty.
func decodeCaptured(accountID, s string) (map[string]string, error) {
	var m map[string]string
	if s == "" || s == "{}" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode captured values of account %s: %w", accountID, err)
	}
	return m, nil
}
