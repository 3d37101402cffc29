package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"airlock/oauthflow"
)

// The store keeps what oauthflow.RecordLegacyEndpoints needs.
var _ oauthflow.LegacyTokenStore = (*Store)(nil)

// TokensWithoutEndpoints lists the accounts whose token set has no recorded
// token endpoint (saved before endpoints were recorded), each with its
// integration (without the client secret: no endpoint needs it).
func (s *Store) TokensWithoutEndpoints(ctx context.Context) ([]oauthflow.LegacyToken, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT a.id, a.status, a.parameters, i.id, i.key, i.config
		FROM tokens t JOIN accounts a ON a.id = t.account_id JOIN integrations i ON i.id = a.integration_id
		WHERE t.token_endpoint = '' ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens without endpoints: %w", err)
	}
	defer rows.Close()
	var out []oauthflow.LegacyToken
	for rows.Next() {
		var l oauthflow.LegacyToken
		var params, config string
		if err := rows.Scan(&l.Account.ID, &l.Account.Status, &params, &l.Integration.ID, &l.Integration.Key, &config); err != nil {
			return nil, fmt.Errorf("store: tokens without endpoints: %w", err)
		}
		if err := json.Unmarshal([]byte(params), &l.Account.Parameters); err != nil {
			return nil, fmt.Errorf("store: decode parameters of account %s: %w", l.Account.ID, err)
		}
		if err := json.Unmarshal([]byte(config), &l.Integration); err != nil {
			return nil, fmt.Errorf("store: decode integration %q: %w", l.Integration.Key, err)
		}
		l.Account.IntegrationID = l.Integration.ID
		out = append(out, l)
	}
	return out, rows.Err()
}

// RecordTokenEndpoints records the endpoints of an account's token set,
// unless some are recorded already (a token saved since carries its own).
func (s *Store) RecordTokenEndpoints(ctx context.Context, accountID string, ep oauthflow.Endpoints) error {
	if _, err := s.execNotify(ctx, Change{AccountID: accountID}, "UPDATE tokens SET token_endpoint = ?, revoke_endpoint = ?, refresh_endpoint = ? WHERE account_id = ? AND token_endpoint = ''",
		ep.Token, ep.Revoke, ep.Refresh, accountID); err != nil {
		return fmt.Errorf("store: record endpoints of account %s: %w", accountID, err)
	}
	return nil
}

// AccountParameterSets returns the distinct parameter values of an
// integration's accounts: what its URLs are filled in with.
func (s *Store) AccountParameterSets(ctx context.Context, integrationID int64) ([]map[string]string, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT DISTINCT parameters FROM accounts WHERE integration_id = ?", integrationID)
	if err != nil {
		return nil, fmt.Errorf("store: parameters of integration %d: %w", integrationID, err)
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: parameters of integration %d: %w", integrationID, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("store: decode parameters of integration %d: %w", integrationID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ReplaceAccountParameters renames an account and replaces parameters that
// change where its credentials go: its tokens (already revoked by the caller
// at the endpoints recorded with them) are deleted and its token version
// moves on, so no refresh under way can save over it; the account becomes
// needs_reconnect (a pending or disconnected one keeps its status) with an
// alert, and the activity says what happened. One transaction.
func (s *Store) ReplaceAccountParameters(ctx context.Context, id, name string, params map[string]string, revoked bool, detail, actor string) (AccountRow, error) {
	b, err := json.Marshal(nonNilMap(params))
	if err != nil {
		return AccountRow{}, fmt.Errorf("store: update account %s: %w", id, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return AccountRow{}, fmt.Errorf("store: update account %s: %w", id, err)
	}
	defer tx.Rollback()
	cur, err := scanAccount(tx.QueryRowContext(ctx, "SELECT "+accountColumns+accountFrom+"WHERE a.id = ?"+s.forUpdate("a"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return cur, fmt.Errorf("store: update account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	status, lastError := cur.Status, cur.LastError
	changed := !maps.Equal(nonNilMap(params), cur.Parameters)
	if changed && status != oauthflow.StatusPending && status != oauthflow.StatusDisconnected {
		status, lastError = oauthflow.StatusNeedsReconnect, "The parameters changed: its tokens were revoked and deleted; reconnect the account."
	}
	now := millis(s.now())
	res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE account_id = ?", id)
	if err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	hadTokens, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name = ?, parameters = ?, status = ?, last_error = ?, warnings = '[]',
		token_version = token_version + 1, health = '', updated_at = ? WHERE id = ?`, name, string(b), status, lastError, now, id); err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	if hadTokens > 0 {
		outcome := "not_revoked"
		if revoked {
			outcome = "revoked"
		}
		if err := insertActivity(ctx, tx, Activity{At: s.now(), AccountID: id, Kind: "disconnected", Outcome: outcome,
			Detail: truncate(detail, 1000), Actor: actor}); err != nil {
			return cur, err
		}
	}
	if status == oauthflow.StatusNeedsReconnect && cur.Status != status {
		if err := s.openAlert(ctx, tx, id, AlertNeedsReconnect, lastError); err != nil {
			return cur, err
		}
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return cur, err
	}
	details := accountChanges(cur, name, params)
	details["tokens_deleted"] = hadTokens > 0
	if err := s.audit(ctx, tx, AuditAccount, id, ActionAccountUpdate, details); err != nil {
		return cur, err
	}
	if err := commit(tx, "update account"); err != nil {
		return cur, err
	}
	return s.GetAccount(ctx, id)
}
