package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"airlock/oauthflow"
)

// Object types of the audit log.
const (
	AuditIntegration = "integration"
	AuditAccount     = "account"
	AuditUser        = "user"
	AuditAPIKey      = "api_key"
	AuditSetting     = "setting"
)

// Audit actions. Each names the object type and what happened to it.
const (
	ActionIntegrationCreate  = "integration.create"
	ActionIntegrationUpdate  = "integration.update"
	ActionIntegrationDelete  = "integration.delete"
	ActionAccountCreate      = "account.create"
	ActionAccountUpdate      = "account.update"
	ActionAccountConnect     = "account.connect"
	ActionAccountConnectLink = "account.connect_link"
	ActionAccountDisconnect  = "account.disconnect"
	ActionAccountDelete      = "account.delete"
	// ActionAccountResetIdentity is for the account identity reset: its store
	// method calls s.audit(ctx, tx, AuditAccount, id, ActionAccountResetIdentity,
	// details) inside its own transaction, like the other account writes.
	ActionAccountResetIdentity = "account.reset_identity"
	ActionUserCreate           = "user.create"
	ActionUserRole             = "user.role"
	ActionUserUpdate           = "user.update" // email or role set by the identity provider at a sign-in
	ActionUserDisable          = "user.disable"
	ActionUserEnable           = "user.enable"
	ActionUserResetPassword    = "user.reset_password"
	ActionUserChangePassword   = "user.change_password"
	ActionUserDelete           = "user.delete"
	ActionSignIn               = "user.sign_in"
	ActionSignInFailed         = "user.sign_in_failed"
	ActionAPIKeyCreate         = "api_key.create"
	ActionAPIKeyDisable        = "api_key.disable"
	ActionAPIKeyDelete         = "api_key.delete"
	ActionSettingChange        = "setting.change"
)

// Changed is what the audit log shows for a secret's value, old and new: that
// it changed, never what it was or became.
const Changed = "changed"

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      oauthflow.Actor
	ObjectType string
	ObjectID   string
	Action     string
	// Details is a JSON object: for an update, each changed field as
	// {"from": …, "to": …} (or "changed" for a secret).
	Details json.RawMessage
}

// audit writes the row recording a change, on ex — the transaction of the
// change, so the two are committed or rolled back together. The actor comes
// from ctx; without one (background work: refreshes, keep-alive) the change
// is nobody's and nothing is written.
func (s *Store) audit(ctx context.Context, ex execer, objectType, objectID, action string, details map[string]any) error {
	a, ok := oauthflow.ActorFrom(ctx)
	if !ok {
		return nil
	}
	return s.insertAudit(ctx, ex, a, objectType, objectID, action, details)
}

func (s *Store) insertAudit(ctx context.Context, ex execer, a oauthflow.Actor, objectType, objectID, action string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	if a.Kind == "" {
		a.Kind = oauthflow.ActorAnonymous
	}
	_, err = ex.ExecContext(ctx, `INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, address, object_type, object_id, action, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, millis(s.now()), a.Kind, a.ID, truncate(a.Name, 320), a.Address,
		objectType, objectID, action, string(b))
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}

// RecordAudit writes an audit row that records no change of its own — a
// failed sign-in — with the actor ctx carries (anonymous when none).
func (s *Store) RecordAudit(ctx context.Context, objectType, objectID, action string, details map[string]any) error {
	a, _ := oauthflow.ActorFrom(ctx)
	return s.insertAudit(ctx, s.write, a, objectType, objectID, action, details)
}

// AuditFilter narrows ListAudit; a zero field matches every row.
type AuditFilter struct {
	Actor      string // part of the actor's email or key name, or the user or key id
	ObjectType string
	ObjectID   string
	Since      time.Time // at or after
	Until      time.Time // before
}

// ListAudit returns up to limit rows, newest first, older than cursor (the
// id of the previous page's last row); next is "" on the last page. A bad
// cursor is ErrNotFound.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, limit int, cursor string) ([]AuditEntry, string, error) {
	where, args := []string{"1 = 1"}, []any{}
	if cursor != "" {
		before, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("store: list audit: bad cursor: %w", ErrNotFound)
		}
		where, args = append(where, "id < ?"), append(args, before)
	}
	if a := strings.TrimSpace(f.Actor); a != "" {
		p := "%" + escapeLike(strings.ToLower(a)) + "%"
		where, args = append(where, `(LOWER(actor_name) LIKE ? ESCAPE '\' OR actor_id = ?)`), append(args, p, a)
	}
	if f.ObjectType != "" {
		where, args = append(where, "object_type = ?"), append(args, f.ObjectType)
	}
	if f.ObjectID != "" {
		where, args = append(where, "object_id = ?"), append(args, f.ObjectID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, millis(f.Until))
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, at, actor_kind, actor_id, actor_name, address, object_type, object_id, action, details
		FROM audit_log WHERE `+strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Actor.Kind, &e.Actor.ID, &e.Actor.Name, &e.Actor.Address,
			&e.ObjectType, &e.ObjectID, &e.Action, &details); err != nil {
			return nil, "", fmt.Errorf("store: list audit: %w", err)
		}
		e.At, e.Details = fromMillis(at), json.RawMessage(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// PruneAudit deletes rows older than the retention (AIRLOCK_AUDIT_RETENTION)
// and returns how many went.
func (s *Store) PruneAudit(ctx context.Context, retention time.Duration) (int64, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM audit_log WHERE at < ?", millis(s.now().Add(-retention)))
	if err != nil {
		return 0, fmt.Errorf("store: prune audit log: %w", err)
	}
	return res.RowsAffected()
}

// auditRow is what execAudited records.
type auditRow struct {
	objectType, objectID, action string
	details                      map[string]any
}

// execAudited runs one write statement and, when it changed a row, its
// audit row, in one transaction; it returns how many rows changed (0: none,
// nothing recorded, nothing committed).
func (s *Store) execAudited(ctx context.Context, what string, row auditRow, query string, args ...any) (int64, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	if err := s.audit(ctx, tx, row.objectType, row.objectID, row.action, row.details); err != nil {
		return 0, err
	}
	return n, commit(tx, what)
}

// auditConnect records a connection (a new grant); a refresh is upkeep,
// nobody's change, and writes nothing.
func (s *Store) auditConnect(ctx context.Context, ex execer, accountID, reason string, scopes []string) error {
	if reason != oauthflow.ReasonConnect {
		return nil
	}
	return s.audit(ctx, ex, AuditAccount, accountID, ActionAccountConnect, map[string]any{"scopes": scopes})
}
