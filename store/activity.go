package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Activity is one thing that happened to an account. It never holds a token,
// a header value or a body.
type Activity struct {
	ID             int64
	At             time.Time
	AccountID      string
	AccountName    string
	IntegrationKey string
	Kind           string // connected, refreshed, refresh_failed, disconnected, request, token, health …
	Outcome        string
	Detail         string
	Method         string
	URL            string // without query values
	Status         int
	DurationMS     int64
	RefreshReason  string
	Actor          string
	// Count is how many events the row stands for: the attempts of a failure
	// streak, the requests of a minute (kind "requests"); 1 for a single
	// event, 0 for a request also counted in its minute's row.
	Count int
	// LastAt is the latest of those events (zero for a single event).
	LastAt time.Time
	// Counted marks a request row whose request its minute's row counts
	// too: it is stored with Count 0, so totals count it once.
	Counted bool
	// Minute is a minute's summary (kind "requests"), zero otherwise.
	Minute MinuteSummary
}

// MinuteSummary is what a "requests" row tells of an account's minute.
type MinuteSummary struct {
	N2xx, N3xx, N4xx, N5xx, Failed int
	P50MS, P99MS                   int64
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertActivity writes one row; when the account name or integration key is
// missing it is filled from the account row so history stays readable after
// the account is gone.
func insertActivity(ctx context.Context, ex execer, a Activity) error {
	_, err := ex.ExecContext(ctx, insertActivitySQL, activityArgs(a)...)
	if err != nil {
		return fmt.Errorf("store: record activity: %w", err)
	}
	return nil
}

const insertActivitySQL = `INSERT INTO activity (at, account_id, account_name, integration_key, kind, outcome, detail,
		method, url, status, duration_ms, refresh_reason, actor, count, last_at, n2xx, n3xx, n4xx, n5xx, nfailed, p50_ms, p99_ms)
		VALUES (?, ?, COALESCE(NULLIF(?, ''), (SELECT name FROM accounts WHERE id = ?), ''),
			COALESCE(NULLIF(?, ''), (SELECT i.key FROM accounts a JOIN integrations i ON i.id = a.integration_id WHERE a.id = ?), ''),
			?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func activityArgs(a Activity) []any {
	count := max(1, a.Count)
	if a.Counted {
		count = 0
	}
	m := a.Minute
	return []any{millis(a.At), a.AccountID, cleanText(a.AccountName), a.AccountID, a.IntegrationKey, a.AccountID,
		a.Kind, cleanText(a.Outcome), cleanText(a.Detail), cleanText(a.Method), cleanText(a.URL), a.Status, a.DurationMS, a.RefreshReason,
		cleanText(a.Actor), count, millis(a.LastAt),
		m.N2xx, m.N3xx, m.N4xx, m.N5xx, m.Failed, m.P50MS, m.P99MS}
}

// AddActivity records rows in one transaction (the batched request log uses it).
func (s *Store) AddActivity(ctx context.Context, rows ...Activity) (err error) {
	defer func() { s.NoteUnavailable(err) }()
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record activity: %w", err)
	}
	defer tx.Rollback()
	// One prepared statement per batch: preparing it for every row cost more
	// than the insert itself on the request-log path.
	stmt, err := tx.PrepareContext(ctx, insertActivitySQL)
	if err != nil {
		return fmt.Errorf("store: record activity: %w", err)
	}
	defer stmt.Close()
	for _, a := range rows {
		if a.At.IsZero() {
			a.At = s.now()
		}
		if _, err := stmt.ExecContext(ctx, activityArgs(a)...); err != nil {
			return fmt.Errorf("store: record activity: %w", err)
		}
	}
	return commit(tx, "record activity")
}

// ActivityFilter narrows ListActivity.
type ActivityFilter struct {
	AccountID      string
	IntegrationKey string
	Kinds          []string
}

// ListActivity returns up to limit rows, newest first, older than cursor.
func (s *Store) ListActivity(ctx context.Context, f ActivityFilter, limit int, cursor string) ([]Activity, string, error) {
	where := []string{"1 = 1"}
	var args []any
	if cursor != "" {
		before, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("store: list activity: bad cursor: %w", ErrNotFound)
		}
		where, args = append(where, "id < ?"), append(args, before)
	}
	if f.AccountID != "" {
		where, args = append(where, "account_id = ?"), append(args, f.AccountID)
	}
	if f.IntegrationKey != "" {
		where, args = append(where, "integration_key = ?"), append(args, f.IntegrationKey)
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN (?"+strings.Repeat(", ?", len(f.Kinds)-1)+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, at, account_id, account_name, integration_key, kind, outcome, detail,
		method, url, status, duration_ms, refresh_reason, actor, count, last_at, n2xx, n3xx, n4xx, n5xx, nfailed, p50_ms, p99_ms
		FROM activity WHERE `+strings.Join(where, " AND ")+
		" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list activity: %w", err)
	}
	defer rows.Close()
	var out []Activity
	for rows.Next() {
		var a Activity
		var at, last int64
		if err := rows.Scan(&a.ID, &at, &a.AccountID, &a.AccountName, &a.IntegrationKey, &a.Kind, &a.Outcome, &a.Detail,
			&a.Method, &a.URL, &a.Status, &a.DurationMS, &a.RefreshReason, &a.Actor, &a.Count, &last,
			&a.Minute.N2xx, &a.Minute.N3xx, &a.Minute.N4xx, &a.Minute.N5xx, &a.Minute.Failed, &a.Minute.P50MS, &a.Minute.P99MS); err != nil {
			return nil, "", fmt.Errorf("store: list activity: %w", err)
		}
		a.At, a.LastAt = fromMillis(at), fromMillis(last)
		a.Counted = a.Kind == "request" && a.Count == 0
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list activity: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// PruneActivity deletes rows older than the retention and returns how many
// went (0 when another replica is pruning right now).
func (s *Store) PruneActivity(ctx context.Context, retention time.Duration) (int64, error) {
	n, err := s.exclusive(ctx, "prune-activity", "DELETE FROM activity WHERE at < ?", millis(s.now().Add(-retention)))
	if err != nil {
		return 0, fmt.Errorf("store: prune activity: %w", err)
	}
	return n, nil
}

// CapActivity deletes the oldest rows beyond max (AIRLOCK_ACTIVITY_MAX_ROWS)
// and returns how many went. It deletes in batches of 10,000 rows, each its
// own short transaction, so requests' writes are never held up for long.
func (s *Store) CapActivity(ctx context.Context, max int64) (int64, error) {
	var total int64
	for {
		var cut int64
		err := s.read.QueryRowContext(ctx, "SELECT COALESCE((SELECT id FROM activity ORDER BY id DESC LIMIT 1 OFFSET ?), 0)", max).Scan(&cut)
		if err != nil {
			return total, fmt.Errorf("store: cap activity: %w", err)
		}
		if cut == 0 {
			return total, nil
		}
		n, err := s.exclusive(ctx, "cap-activity", `DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE id <= ? ORDER BY id LIMIT 10000)`, cut)
		if err != nil {
			return total, fmt.Errorf("store: cap activity: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// HourBucket counts activity in one hour.
type HourBucket struct {
	Start     time.Time
	Refreshes int
	Requests  int
	Failures  int
}

// ActivityByHour counts refreshes, requests and failures per hour for the
// hours from since (rounded down to the hour) to now.
func (s *Store) ActivityByHour(ctx context.Context, since time.Time) ([]HourBucket, error) {
	since = since.Truncate(time.Hour)
	// A request is counted once: in its minute's row, or (rows from before
	// minutes were summed) in its own row, whose count is then 1.
	rows, err := s.read.QueryContext(ctx, `SELECT at / 3600000, kind, outcome,
			CASE WHEN kind IN ('request', 'requests') THEN SUM(count) ELSE COUNT(*) END,
			SUM(CASE WHEN kind = 'requests' THEN n4xx + n5xx + nfailed WHEN kind = 'request' AND outcome != 'ok' THEN count ELSE 0 END)
		FROM activity WHERE at >= ? AND kind IN ('refreshed', 'refresh_failed', 'request', 'requests')
		GROUP BY at / 3600000, kind, outcome`, millis(since))
	if err != nil {
		return nil, fmt.Errorf("store: activity by hour: %w", err)
	}
	defer rows.Close()
	n := int(s.now().Sub(since)/time.Hour) + 1
	out := make([]HourBucket, n)
	for i := range out {
		out[i].Start = since.Add(time.Duration(i) * time.Hour)
	}
	for rows.Next() {
		var hour int64
		var kind, outcome string
		var count, failed int
		if err := rows.Scan(&hour, &kind, &outcome, &count, &failed); err != nil {
			return nil, fmt.Errorf("store: activity by hour: %w", err)
		}
		i := int((hour*3600000 - millis(since)) / 3600000)
		if i < 0 || i >= n {
			continue
		}
		switch kind {
		case "refreshed":
			out[i].Refreshes += count
		case "refresh_failed":
			out[i].Failures += count
		default:
			out[i].Requests += count
			out[i].Failures += failed
		}
	}
	return out, rows.Err()
}
