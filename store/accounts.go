package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"airlock/oauthflow"
)

// NewAccountID returns a fresh opaque account id such as "acc_5kq3…".
func NewAccountID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "acc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

const accountColumns = `a.id, a.integration_id, i.key, a.name, a.parameters, a.status, a.last_error, a.warnings,
	a.last_refreshed_at, a.created_at, a.updated_at, a.health, a.health_detail, a.health_checked_at, a.temporary_failures,
	COALESCE(t.expires_at, 0), COALESCE(t.scopes, ''), t.refresh_token IS NOT NULL AND t.account_id IS NOT NULL,
	a.captured, a.identity, COALESCE(t.refresh_expires_at, 0), a.credential_hints`

const accountFrom = ` FROM accounts a JOIN integrations i ON i.id = a.integration_id LEFT JOIN tokens t ON t.account_id = a.id `

// AccountRow is an account with the console-only fields the domain type does
// not carry.
type AccountRow struct {
	oauthflow.Account
	Health            string // "", "healthy" or "failing"
	HealthDetail      string
	HealthCheckedAt   int64 // unix ms
	TemporaryFailures int
}

func scanAccount(row interface{ Scan(...any) error }) (AccountRow, error) {
	var r AccountRow
	a := &r.Account
	var params, warnings, scopes, captured, hints string
	var refreshed, created, updated, expires, refreshExpires int64
	if err := row.Scan(&a.ID, &a.IntegrationID, &a.IntegrationKey, &a.Name, &params, &a.Status, &a.LastError, &warnings,
		&refreshed, &created, &updated, &r.Health, &r.HealthDetail, &r.HealthCheckedAt, &r.TemporaryFailures,
		&expires, &scopes, &a.HasRefreshToken, &captured, &a.Identity, &refreshExpires, &hints); err != nil {
		return r, err
	}
	var err error
	if a.Captured, err = decodeCaptured(a.ID, captured); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(hints), &a.CredentialHints); err != nil {
		return r, fmt.Errorf("decode credential hints of account %s: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(params), &a.Parameters); err != nil {
		return r, fmt.Errorf("decode parameters of account %s: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(warnings), &a.Warnings); err != nil {
		return r, fmt.Errorf("decode warnings of account %s: %w", a.ID, err)
	}
	if a.Parameters == nil {
		a.Parameters = map[string]string{}
	}
	a.LastRefreshedAt, a.CreatedAt, a.UpdatedAt, a.ExpiresAt = fromMillis(refreshed), fromMillis(created), fromMillis(updated), fromMillis(expires)
	a.Scopes = splitScopes(scopes)
	a.RefreshTokenExpiresAt = fromMillis(refreshExpires)
	return r, nil
}

// CreateAccount stores a new account (status pending unless set).
func (s *Store) CreateAccount(ctx context.Context, a oauthflow.Account) (AccountRow, error) {
	if a.ID == "" {
		a.ID = NewAccountID()
	}
	if a.Status == "" {
		a.Status = oauthflow.StatusPending
	}
	params, err := json.Marshal(nonNilMap(a.Parameters))
	if err != nil {
		return AccountRow{}, fmt.Errorf("store: create account: %w", err)
	}
	now := millis(s.now())
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return AccountRow{}, fmt.Errorf("store: create account: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, integration_id, name, parameters, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.IntegrationID, a.Name, string(params), a.Status, now, now); err != nil {
		if isForeignKeyViolation(err) {
			return AccountRow{}, fmt.Errorf("store: create account: integration %d: %w", a.IntegrationID, ErrNotFound)
		}
		return AccountRow{}, fmt.Errorf("store: create account: %w", err)
	}
	details := accountChanges(AccountRow{}, a.Name, a.Parameters)
	details["integration_id"] = a.IntegrationID
	if err := s.audit(ctx, tx, AuditAccount, a.ID, ActionAccountCreate, details); err != nil {
		return AccountRow{}, err
	}
	if err := commit(tx, "create account"); err != nil {
		return AccountRow{}, err
	}
	return s.GetAccount(ctx, a.ID)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// GetAccount returns an account with its integration key and token metadata.
func (s *Store) GetAccount(ctx context.Context, id string) (AccountRow, error) {
	r, err := scanAccount(s.read.QueryRowContext(ctx, "SELECT "+accountColumns+accountFrom+"WHERE a.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: get account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get account %s: %w", id, err)
	}
	return r, nil
}

// AccountFilter narrows ListAccounts.
type AccountFilter struct {
	IntegrationID int64  // 0: every integration
	Status        string // "": every status
	Q             string // substring of the account name or integration key
	// Sort orders the list: "" by id (the API's stable order), or one of
	// AccountSorts (the console's); ties are broken by id.
	Sort string
}

// AccountSorts are the console's orders of the accounts list: the SQL
// expression and whether it runs newest first. Name is the default there.
var AccountSorts = map[string]struct {
	expr string
	desc bool
	num  bool
}{
	"name":      {expr: "LOWER(a.name)"},
	"status":    {expr: "a.status"},
	"expiry":    {expr: "COALESCE(t.expires_at, 0)", num: true},
	"refreshed": {expr: "a.last_refreshed_at", desc: true, num: true},
}

// where is the filter's conditions and their arguments (without the cursor).
func (f AccountFilter) where() ([]string, []any) {
	var where []string
	var args []any
	if f.IntegrationID != 0 {
		where, args = append(where, "a.integration_id = ?"), append(args, f.IntegrationID)
	}
	if f.Status != "" {
		where, args = append(where, "a.status = ?"), append(args, f.Status)
	}
	if f.Q != "" {
		p := "%" + escapeLike(strings.ToLower(f.Q)) + "%"
		where, args = append(where, `(LOWER(a.name) LIKE ? ESCAPE '\' OR LOWER(i.key) LIKE ? ESCAPE '\')`), append(args, p, p)
	}
	return where, args
}

// CountAccountsMatching is how many accounts the filter lets through.
func (s *Store) CountAccountsMatching(ctx context.Context, f AccountFilter) (int, error) {
	where, args := f.where()
	q := "SELECT COUNT(*)" + accountFrom
	if len(where) > 0 {
		q += "WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := s.read.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count accounts: %w", err)
	}
	return n, nil
}

// ListAccounts returns up to limit accounts in the filter's order after
// cursor (keyset paging: the cursor holds the last row's sort value and id).
func (s *Store) ListAccounts(ctx context.Context, f AccountFilter, limit int, cursor string) ([]AccountRow, string, error) {
	sort, sorted := AccountSorts[f.Sort]
	if f.Sort != "" && !sorted {
		return nil, "", fmt.Errorf("store: list accounts: unknown sort %q: %w", f.Sort, ErrNotFound)
	}
	where, args := f.where()
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", fmt.Errorf("store: list accounts: bad cursor: %w", ErrNotFound)
		}
		val, id, ok := strings.Cut(string(b), "\x1f")
		switch {
		case !sorted:
			where, args = append(where, "a.id > ?"), append(args, string(b))
		case !ok:
			return nil, "", fmt.Errorf("store: list accounts: bad cursor: %w", ErrNotFound)
		default:
			var v any = val
			if sort.num {
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return nil, "", fmt.Errorf("store: list accounts: bad cursor: %w", ErrNotFound)
				}
				v = n
			}
			op := ">"
			if sort.desc {
				op = "<"
			}
			where = append(where, "("+sort.expr+" "+op+" ? OR ("+sort.expr+" = ? AND a.id > ?))")
			args = append(args, v, v, id)
		}
	}
	order := "a.id"
	if sorted {
		order = sort.expr
		if sort.desc {
			order += " DESC"
		}
		order += ", a.id"
	}
	q := "SELECT " + accountColumns + accountFrom
	if len(where) > 0 {
		q += "WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.read.QueryContext(ctx, q+" ORDER BY "+order+" LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list accounts: %w", err)
	}
	defer rows.Close()
	var out []AccountRow
	for rows.Next() {
		r, err := scanAccount(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list accounts: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list accounts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(accountCursor(f.Sort, out[limit-1])))
	}
	return out, next, nil
}

// accountCursor is the keyset position after r in the given order.
func accountCursor(sort string, r AccountRow) string {
	a := r.Account
	switch sort {
	case "name":
		return strings.ToLower(a.Name) + "\x1f" + a.ID
	case "status":
		return a.Status + "\x1f" + a.ID
	case "expiry":
		return strconv.FormatInt(millis(a.ExpiresAt), 10) + "\x1f" + a.ID
	case "refreshed":
		return strconv.FormatInt(millis(a.LastRefreshedAt), 10) + "\x1f" + a.ID
	}
	return a.ID
}

// UpdateAccount renames an account and replaces its parameters. Changed
// parameters mean the stored token was obtained for other values: the
// account is marked needs_reconnect (a pending account stays pending).
func (s *Store) UpdateAccount(ctx context.Context, id, name string, params map[string]string) (AccountRow, error) {
	var cur AccountRow
	b, err := json.Marshal(nonNilMap(params))
	if err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	defer tx.Rollback()
	// Read inside the transaction: the status decision rests on the row as
	// it is when written, not as another request may have left it.
	cur, err = scanAccount(tx.QueryRowContext(ctx, "SELECT "+accountColumns+accountFrom+"WHERE a.id = ?"+s.forUpdate("a"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return cur, fmt.Errorf("store: update account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	status := cur.Status
	if !maps.Equal(nonNilMap(params), cur.Parameters) && status != oauthflow.StatusPending {
		status = oauthflow.StatusNeedsReconnect
	}
	lastError := cur.LastError
	if status == oauthflow.StatusNeedsReconnect && cur.Status != status {
		lastError = "The parameters changed: reconnect the account so its token matches them."
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET name = ?, parameters = ?, status = ?, last_error = ?, updated_at = ? WHERE id = ?",
		name, string(b), status, lastError, millis(s.now()), id); err != nil {
		return cur, fmt.Errorf("store: update account %s: %w", id, err)
	}
	if status == oauthflow.StatusNeedsReconnect && cur.Status != status {
		if err := s.openAlert(ctx, tx, id, AlertNeedsReconnect, lastError); err != nil {
			return cur, err
		}
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return cur, err
	}
	if err := s.audit(ctx, tx, AuditAccount, id, ActionAccountUpdate, accountChanges(cur, name, params)); err != nil {
		return cur, err
	}
	if err := commit(tx, "update account"); err != nil {
		return cur, err
	}
	return s.GetAccount(ctx, id)
}

// SetAccountStatus sets an account's status and error text; entering error
// or needs_reconnect opens the matching alert.
func (s *Store) SetAccountStatus(ctx context.Context, id, status, lastError string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: set status of account %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET status = ?, last_error = ?, updated_at = ? WHERE id = ?",
		status, truncate(lastError, 1000), millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: set status of account %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: set status of account %s: %w", id, ErrNotFound)
	}
	switch status {
	case oauthflow.StatusError:
		err = s.openAlert(ctx, tx, id, AlertError, lastError)
	case oauthflow.StatusNeedsReconnect:
		err = s.openAlert(ctx, tx, id, AlertNeedsReconnect, lastError)
	}
	if err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return err
	}
	return commit(tx, "set account status")
}

// DeleteAccount removes an account, its tokens, flows and links.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete account %s: %w", id, err)
	}
	defer tx.Rollback()
	var name string
	var integrationID int64
	err = tx.QueryRowContext(ctx, "DELETE FROM accounts WHERE id = ? RETURNING name, integration_id", id).Scan(&name, &integrationID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: delete account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: delete account %s: %w", id, err)
	}
	if err := s.audit(ctx, tx, AuditAccount, id, ActionAccountDelete, map[string]any{"name": name, "integration_id": integrationID}); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: id}); err != nil {
		return err
	}
	return commit(tx, "delete account")
}

// CountAccountsByStatus returns the number of accounts in each status.
func (s *Store) CountAccountsByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT status, COUNT(*) FROM accounts GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("store: count accounts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count accounts: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// SetAccountHealth records the outcome of the integration's health check.
func (s *Store) SetAccountHealth(ctx context.Context, id, health, detail string) error {
	res, err := s.write.ExecContext(ctx, "UPDATE accounts SET health = ?, health_detail = ?, health_checked_at = ? WHERE id = ?",
		health, truncate(detail, 500), millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: set health of account %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: set health of account %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetAccountError records an error on an account without changing its status
// (an API that rejects even a fresh token).
func (s *Store) SetAccountError(ctx context.Context, id, msg string) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE accounts SET last_error = ?, updated_at = ? WHERE id = ?", truncate(msg, 1000), millis(s.now()), id); err != nil {
		return fmt.Errorf("store: set error of account %s: %w", id, err)
	}
	return nil
}

// RecordConnectCancelled records a connect declined at the provider
// (access_denied) as the account's activity, and nothing else: a cancelled
// reconnect leaves a working account working, with no error.
func (s *Store) RecordConnectCancelled(ctx context.Context, id, detail, actor string) error {
	return s.AddActivity(ctx, Activity{At: s.now(), AccountID: id, Kind: "connect_cancelled", Outcome: "cancelled",
		Detail: truncate(detail, 1000), Actor: actor})
}

// CountAccounts returns how many accounts an integration has.
func (s *Store) CountAccounts(ctx context.Context, integrationID int64) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE integration_id = ?", integrationID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count accounts of integration %d: %w", integrationID, err)
	}
	return n, nil
}

// KeepaliveDue lists connected accounts holding a refresh token whose last
// refresh is older than before and whose last keep-alive attempt is older
// than retryBefore, least recently tried first, so an account that keeps
// failing waits its turn instead of taking every turn. Client-credentials
// accounts hold no refresh token, so they never appear.
func (s *Store) KeepaliveDue(ctx context.Context, before, retryBefore time.Time, limit int) ([]oauthflow.Account, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+accountColumns+accountFrom+
		`WHERE a.status = ? AND t.refresh_token IS NOT NULL AND a.last_refreshed_at < ? AND a.keepalive_attempt_at < ?
		ORDER BY a.keepalive_attempt_at, a.last_refreshed_at LIMIT ?`,
		oauthflow.StatusConnected, millis(before), millis(retryBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("store: keep-alive accounts: %w", err)
	}
	defer rows.Close()
	var out []oauthflow.Account
	for rows.Next() {
		r, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: keep-alive accounts: %w", err)
		}
		out = append(out, r.Account)
	}
	return out, rows.Err()
}

// ClaimKeepalive records that keep-alive is about to try an account, unless
// an attempt was recorded since retryBefore (by another replica, a moment
// ago), and reports whether it did. One conditional UPDATE, so of replicas
// that listed the same account one claims it.
func (s *Store) ClaimKeepalive(ctx context.Context, id string, retryBefore time.Time) (bool, error) {
	res, err := s.write.ExecContext(ctx, "UPDATE accounts SET keepalive_attempt_at = ? WHERE id = ? AND keepalive_attempt_at < ?",
		millis(s.now()), id, millis(retryBefore))
	if err != nil {
		return false, fmt.Errorf("store: keep-alive attempt of account %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
