package store

import (
	"context"
	"errors"
	"fmt"
)

// On SQLite one process holds the data dir's lock (package main); on
// PostgreSQL there is no data dir to lock, so the same two rules are kept
// with session advisory locks on the database itself: every running
// replica holds the maintenance lock shared, and rotate-key takes it
// exclusively, so rotate-key refuses while a replica runs and a replica
// refuses to start while rotate-key runs. A process that dies loses its
// lock with its connection.

// ErrReplicasRunning is returned by HoldMaintenance while a replica runs
// against the database.
var ErrReplicasRunning = errors.New("a replica is running against this database")

// ErrMaintenanceRunning is returned by HoldReplica while rotate-key runs.
var ErrMaintenanceRunning = errors.New("rotate-key is running against this database")

// HoldReplica marks this process as a running replica until release (or its
// death). On SQLite it does nothing: the data dir's lock does that there.
func (s *Store) HoldReplica(ctx context.Context) (release func(), err error) {
	return s.holdMaintenance(ctx, "pg_try_advisory_lock_shared", ErrMaintenanceRunning)
}

// HoldMaintenance is held by a command that must not run beside any replica
// (rotate-key) until release. On SQLite it does nothing.
func (s *Store) HoldMaintenance(ctx context.Context) (release func(), err error) {
	return s.holdMaintenance(ctx, "pg_try_advisory_lock", ErrReplicasRunning)
}

func (s *Store) holdMaintenance(ctx context.Context, fn string, busy error) (func(), error) {
	if !s.Postgres() {
		return func() {}, nil
	}
	conn, err := s.dedicatedConn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT "+fn+"($1)", lockKey("maintenance")).Scan(&ok); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("store: take the maintenance lock: %w", err)
	}
	if !ok {
		conn.Close(ctx)
		return nil, busy
	}
	return func() { conn.Close(context.Background()) }, nil // closing the session ends its lock
}
