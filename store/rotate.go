package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Resealed counts what ResealAll did.
type Resealed struct {
	Total    int // sealed values found when the run started
	Resealed int // opened with an older key and sealed again with the new one
	Skipped  int // already sealed with the new key (by an earlier, interrupted run)
}

// Done is how many values now use the new key.
func (r Resealed) Done() int { return r.Resealed + r.Skipped }

// ResealAll seals every sealed value again with newSealer's current key,
// column by column (sealedColumns), batch rows at a time, each batch in a
// short transaction of its own. Values are opened with the store's Sealer
// (the current and previous keys) and keep the same associated data.
//
// Values that already use the new key are skipped, so a run that was
// interrupted (a cancelled ctx, a crash) is finished by running it again.
// A value that does not open stops the run with an error naming its table,
// row and fix; the batches before it stay committed. progress, if not nil,
// is called after each batch. ResealAll must not run beside a server: the
// caller holds the data dir's lock.
func (s *Store) ResealAll(ctx context.Context, newSealer *Sealer, batch int, progress func(done, total int)) (Resealed, error) {
	var r Resealed
	if newSealer == nil {
		return r, errors.New("store: reseal: no new key given")
	}
	if batch <= 0 {
		batch = 500
	}
	for _, c := range sealedColumns {
		var n int
		q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s IS NOT NULL", c.table, c.column)
		if err := s.read.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return r, fmt.Errorf("store: reseal: count %s: %w", c.name(), err)
		}
		r.Total += n
	}
	for _, c := range sealedColumns {
		var after any // the last key of the previous batch; nil before the first
		for {
			if err := ctx.Err(); err != nil {
				return r, fmt.Errorf("store: reseal: interrupted after %d of %d values: %w", r.Done(), r.Total, err)
			}
			b, err := s.resealBatch(ctx, c, after, batch, newSealer)
			if err != nil {
				return r, err
			}
			r.Resealed += b.resealed
			r.Skipped += b.skipped
			if b.rows > 0 && progress != nil {
				progress(r.Done(), r.Total)
			}
			if b.rows < batch {
				break
			}
			after = b.last
		}
	}
	return r, nil
}

// batchResult is what one resealBatch did.
type batchResult struct {
	rows, resealed, skipped int
	last                    any
}

type sealedRow struct {
	key   any // int64 or string, as the driver returns the primary key
	value []byte
}

// resealBatch reads up to limit values after the key after and writes back
// those not yet under the new key, in one write transaction: reading inside
// it means no other writer can change a row between its read and its update.
func (s *Store) resealBatch(ctx context.Context, c sealedColumn, after any, limit int, to *Sealer) (batchResult, error) {
	var b batchResult
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return b, fmt.Errorf("store: reseal %s: %w", c.name(), err)
	}
	defer tx.Rollback()
	rows, err := readSealedBatch(ctx, tx, c, after, limit)
	if err != nil {
		return b, err
	}
	update := fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?", c.table, c.column, c.key, c.column)
	for _, row := range rows {
		if to.SealedWithCurrent(row.value) {
			b.skipped++
			continue
		}
		key := keyText(row.key)
		plain, err := s.openForReseal(c, key, row.value)
		if err != nil {
			return b, err
		}
		sealed, err := to.Seal(plain, c.aad(key))
		if err != nil {
			return b, err
		}
		// Compare-and-swap on the old value: with a database that lets two
		// writers interleave, a value rewritten meanwhile is not overwritten.
		res, err := tx.ExecContext(ctx, update, sealed, row.key, row.value)
		if err != nil {
			return b, fmt.Errorf("store: reseal %s of %s %s: %w", c.name(), c.key, key, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return b, fmt.Errorf("store: reseal %s of %s %s: the value changed during the rotation: stop the other writer", c.name(), c.key, key)
		}
		b.resealed++
	}
	if err := commit(tx, "reseal "+c.name()); err != nil {
		return b, err
	}
	b.rows = len(rows)
	if len(rows) > 0 {
		b.last = rows[len(rows)-1].key
	}
	return b, nil
}

// readSealedBatch reads the next batch by key order (keyset pagination, so
// each batch costs the same however far the walk has gone).
func readSealedBatch(ctx context.Context, tx *sql.Tx, c sealedColumn, after any, limit int) ([]sealedRow, error) {
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s IS NOT NULL", c.key, c.column, c.table, c.column)
	args := []any{}
	if after != nil {
		q += fmt.Sprintf(" AND %s > ?", c.key)
		args = append(args, after)
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT ?", c.key)
	args = append(args, limit)
	rs, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reseal: read %s: %w", c.name(), err)
	}
	defer rs.Close()
	var out []sealedRow
	for rs.Next() {
		var r sealedRow
		if err := rs.Scan(&r.key, &r.value); err != nil {
			return nil, fmt.Errorf("store: reseal: read %s: %w", c.name(), err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: reseal: read %s: %w", c.name(), err)
	}
	return out, nil
}

// openForReseal opens a value with the old keys; its error says which row
// failed and what to do about it.
func (s *Store) openForReseal(c sealedColumn, key string, value []byte) ([]byte, error) {
	where := fmt.Sprintf("%s of row %s=%s", c.name(), c.key, key)
	if s.sealer == nil {
		return nil, fmt.Errorf("store: cannot re-seal %s: no current encryption key was given: set AIRLOCK_ENCRYPTION_KEY", where)
	}
	plain, err := s.sealer.Open(value, c.aad(key))
	if err == nil {
		return plain, nil
	}
	if s.sealer.unknownKey(value) {
		return nil, fmt.Errorf("store: cannot re-seal %s: %w; add the key it was sealed with to AIRLOCK_PREVIOUS_ENCRYPTION_KEYS", where, err)
	}
	return nil, fmt.Errorf("store: cannot re-seal %s: %w; the stored value is damaged: %s", where, err, c.damaged)
}

// unknownKey reports whether a well-formed sealed value names a key the
// Sealer does not have. A value that names a known key and still does not
// open is damaged instead, and no key would help.
func (s *Sealer) unknownKey(sealed []byte) bool {
	if len(sealed) < headerLen || sealed[0] != sealVersion {
		return false
	}
	_, ok := s.aeads[keyID(sealed[1:1+keyIDSize])]
	return !ok
}

// keyText is a primary key as the AAD functions take it.
func keyText(k any) string {
	switch v := k.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(k)
}
