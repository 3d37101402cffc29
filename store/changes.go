package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// What a replica keeps in memory — the request path's accounts and
// integrations, tokens, API keys — is a cache of rows another replica may
// change. On PostgreSQL every write that such a cache holds a copy of sends
// a notification in its own transaction (pg_notify: delivered when, and
// only when, the write commits), and every replica listens (ListenChanges)
// and drops what it names. SQLite has one process, whose caches drop their
// own entries: nothing is sent there.

// changesChannel is the LISTEN/NOTIFY channel of Airlock's changes.
const changesChannel = "airlock_changes"

// Change is a write another replica committed.
type Change struct {
	// AccountID is an account whose row or token changed (a refresh, a
	// failure, a disconnect, a delete, new values or status).
	AccountID string
	// Integrations means an integration changed or went: every account may
	// be stale.
	Integrations bool
	// APIKeyHash is an API key that was disabled or deleted.
	APIKeyHash string
}

// The kinds of a change in its notification's payload,
// "<sender>:<kind>:<id>".
const (
	changeAccount      = "a"
	changeIntegrations = "i"
	changeAPIKey       = "k"
)

func (c Change) encode(sender string) string {
	switch {
	case c.Integrations:
		return sender + ":" + changeIntegrations + ":"
	case c.APIKeyHash != "":
		return sender + ":" + changeAPIKey + ":" + c.APIKeyHash
	}
	return sender + ":" + changeAccount + ":" + c.AccountID
}

func decodeChange(payload string) (sender string, c Change, ok bool) {
	sender, rest, ok1 := strings.Cut(payload, ":")
	kind, id, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return "", c, false
	}
	switch kind {
	case changeAccount:
		c.AccountID = id
	case changeIntegrations:
		c.Integrations = true
	case changeAPIKey:
		c.APIKeyHash = id
	default:
		return "", c, false
	}
	return sender, c, true
}

// notify queues c for the other replicas in tx: it is sent when tx commits.
func (s *Store) notify(ctx context.Context, tx *sql.Tx, c Change) error {
	if !s.Postgres() {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", changesChannel, c.encode(s.sender)); err != nil {
		return fmt.Errorf("store: notify the other replicas: %w", err)
	}
	return nil
}

// execNotify runs a one-statement write and notifies c with it: on
// PostgreSQL both in one transaction, on SQLite the statement alone.
func (s *Store) execNotify(ctx context.Context, c Change, query string, args ...any) (sql.Result, error) {
	if !s.Postgres() {
		return s.write.ExecContext(ctx, query, args...)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := s.notify(ctx, tx, c); err != nil {
			return nil, err
		}
	}
	return res, tx.Commit()
}

// ChangeListener hears of the other replicas' changes.
type ChangeListener struct {
	// Changed is told of each change another replica committed.
	Changed func(Change)
	// Lost is told when notifications may have been missed — the listening
	// connection failed, or (the first time) before listening began — so
	// everything cached must go; listening then resumes by itself.
	Lost func()
	// Warn hears of a lost connection and of failed reconnections (nil: silence).
	Warn func(msg string, err error)
}

// Reconnection backoff of ListenChanges: 100 ms, doubling up to 5 s.
const (
	listenRetryFirst = 100 * time.Millisecond
	listenRetryMax   = 5 * time.Second
)

// ListenChanges listens for the other replicas' changes on a connection of
// its own until ctx ends; a lost connection is reconnected (Lost is called
// each time, since what came meanwhile is unknown). The replica's own
// changes are not reported. On SQLite it returns at once: one process, no
// one else to hear from.
func (s *Store) ListenChanges(ctx context.Context, l ChangeListener) {
	if !s.Postgres() {
		return
	}
	delay := listenRetryFirst
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, l, func() { delay = listenRetryFirst })
		if ctx.Err() != nil {
			return
		}
		if l.Lost != nil {
			l.Lost()
		}
		if l.Warn != nil {
			l.Warn("lost the connection that hears of other replicas' changes: the caches were dropped, reconnecting", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, listenRetryMax)
	}
}

// listenOnce connects, listens and reports changes until the connection
// fails; listening calls back once LISTEN is in place.
func (s *Store) listenOnce(ctx context.Context, l ChangeListener, listening func()) error {
	conn, err := s.dedicatedConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	listening()
	if l.Lost != nil {
		l.Lost() // whatever changed before LISTEN took effect was not heard
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		sender, c, ok := decodeChange(n.Payload)
		if !ok || sender == s.sender || l.Changed == nil {
			continue
		}
		l.Changed(c)
	}
}
