package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"airlock/oauthflow"
)

// TracesKept is how many traces per account the pruning keeps, whatever
// their age; failed ones are kept longer (the retention).
const TracesKept = 50

// traceStepJSON is how a step is stored: the trace is masked before it
// reaches the store, so nothing here is sealed.
type traceStepJSON struct {
	Name       string                   `json:"name"`
	At         int64                    `json:"at"`
	DurationMS int64                    `json:"duration_ms"`
	Request    oauthflow.TraceRequest   `json:"request"`
	Response   *oauthflow.TraceResponse `json:"response,omitempty"`
	Error      string                   `json:"error,omitempty"`
	Note       string                   `json:"note,omitempty"`
}

const insertTraceSQL = `INSERT INTO traces (account_id, integration, kind, outcome, started_at, duration_ms, steps, diagnosis)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

// SaveTrace stores a finished (already masked) trace and returns its id.
func (s *Store) SaveTrace(ctx context.Context, t oauthflow.Trace) (int64, error) {
	ids, err := s.SaveTraces(ctx, t)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// SaveTraces stores finished (already masked) traces in one transaction
// and returns their ids in order: the token manager's trace writer batches
// the traces of background refreshes, so a burst of refreshes costs one
// write to the database's single writer, not one each.
func (s *Store) SaveTraces(ctx context.Context, ts ...oauthflow.Trace) (ids []int64, err error) {
	defer func() { s.NoteUnavailable(err) }()
	if len(ts) == 0 {
		return nil, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: save traces: %w", err)
	}
	defer tx.Rollback()
	// One prepared statement per batch: parsing the INSERT showed in the
	// refresh benchmark's profile as much as running it.
	stmt, err := tx.PrepareContext(ctx, insertTraceSQL)
	if err != nil {
		return nil, fmt.Errorf("store: save traces: %w", err)
	}
	defer stmt.Close()
	ids = make([]int64, 0, len(ts))
	for _, t := range ts {
		args, err := traceArgs(t)
		if err != nil {
			return nil, err
		}
		var id int64
		if err := stmt.QueryRowContext(ctx, args...).Scan(&id); err != nil {
			return nil, fmt.Errorf("store: save trace of account %q: %w", t.AccountID, err)
		}
		ids = append(ids, id)
	}
	if err := commit(tx, "save traces"); err != nil {
		return nil, err
	}
	return ids, nil
}

// traceArgs are insertTraceSQL's arguments for t.
func traceArgs(t oauthflow.Trace) ([]any, error) {
	steps := make([]traceStepJSON, len(t.Steps))
	for i, st := range t.Steps {
		steps[i] = traceStepJSON{Name: st.Name, At: millis(st.At), DurationMS: st.Duration.Milliseconds(),
			Request: st.Request, Response: st.Response, Error: st.Error, Note: st.Note}
	}
	sb, err := json.Marshal(steps)
	if err != nil {
		return nil, fmt.Errorf("store: save trace: %w", err)
	}
	diag := ""
	if t.Diagnosis != nil {
		db, err := json.Marshal(t.Diagnosis)
		if err != nil {
			return nil, fmt.Errorf("store: save trace: %w", err)
		}
		diag = string(db)
	}
	return []any{t.AccountID, t.Integration, t.Kind, t.Outcome, millis(t.StartedAt), t.Duration.Milliseconds(), string(sb), diag}, nil
}

const traceColumns = "id, account_id, integration, kind, outcome, started_at, duration_ms, diagnosis"

// ListTraces returns up to limit traces of an account, newest first, without
// their steps, older than cursor (the id of the previous page's last trace);
// next is "" on the last page. A bad cursor is ErrNotFound.
func (s *Store) ListTraces(ctx context.Context, accountID string, limit int, cursor string) ([]oauthflow.Trace, string, error) {
	before := int64(1<<62 - 1)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", fmt.Errorf("store: list traces: bad cursor: %w", ErrNotFound)
		}
		before = n
	}
	rows, err := s.read.QueryContext(ctx, "SELECT "+traceColumns+" FROM traces WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
		accountID, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("store: list traces: %w", err)
	}
	defer rows.Close()
	var out []oauthflow.Trace
	for rows.Next() {
		t, err := scanTrace(rows, nil)
		if err != nil {
			return nil, "", fmt.Errorf("store: list traces: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list traces: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// Trace returns one trace with its steps; a missing one is ErrNotFound.
func (s *Store) Trace(ctx context.Context, id int64) (oauthflow.Trace, error) {
	var steps string
	row := s.read.QueryRowContext(ctx, "SELECT "+traceColumns+", steps FROM traces WHERE id = ?", id)
	t, err := scanTrace(row, &steps)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthflow.Trace{}, fmt.Errorf("store: trace %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return oauthflow.Trace{}, fmt.Errorf("store: trace %d: %w", id, err)
	}
	var js []traceStepJSON
	if err := json.Unmarshal([]byte(steps), &js); err != nil {
		return oauthflow.Trace{}, fmt.Errorf("store: trace %d: steps: %w", id, err)
	}
	for _, st := range js {
		t.Steps = append(t.Steps, oauthflow.TraceStep{Name: st.Name, At: fromMillis(st.At),
			Duration: time.Duration(st.DurationMS) * time.Millisecond, Request: st.Request, Response: st.Response, Error: st.Error, Note: st.Note})
	}
	return t, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanTrace(r scanner, steps *string) (oauthflow.Trace, error) {
	var t oauthflow.Trace
	var started, dur int64
	var diag string
	dest := []any{&t.ID, &t.AccountID, &t.Integration, &t.Kind, &t.Outcome, &started, &dur, &diag}
	if steps != nil {
		dest = append(dest, steps)
	}
	if err := r.Scan(dest...); err != nil {
		return t, err
	}
	t.StartedAt, t.Duration = fromMillis(started), time.Duration(dur)*time.Millisecond
	if diag != "" {
		var d oauthflow.Diagnosis
		if err := json.Unmarshal([]byte(diag), &d); err != nil {
			return t, fmt.Errorf("diagnosis: %w", err)
		}
		t.Diagnosis = &d
	}
	return t, nil
}

// PruneTraces keeps the TracesKept newest traces of each account, and
// besides them the failed ones younger than failedRetention
// (AIRLOCK_TRACE_RETENTION); it returns how many went.
func (s *Store) PruneTraces(ctx context.Context, failedRetention time.Duration) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM traces WHERE id IN (
		SELECT id FROM (SELECT id, outcome, started_at,
			ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY id DESC) AS rn FROM traces) ranked
		WHERE rn > ? AND NOT (outcome = 'failed' AND started_at >= ?))`,
		TracesKept, millis(s.now().Add(-failedRetention)))
	if err != nil {
		return 0, fmt.Errorf("store: prune traces: %w", err)
	}
	return res.RowsAffected()
}
