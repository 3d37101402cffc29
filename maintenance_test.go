package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// TestAuditRetentionSetting: AIRLOCK_AUDIT_RETENTION takes a Go duration or
// a number of days, defaults to 365 days, and names itself when wrong.
func TestAuditRetentionSetting(t *testing.T) {
	cases := []struct {
		env     map[string]string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{nil, nil, 365 * 24 * time.Hour, ""},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "90d"}, nil, 90 * 24 * time.Hour, ""},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "720h"}, nil, 720 * time.Hour, ""},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "90d"}, []string{"--audit-retention", "7d"}, 7 * 24 * time.Hour, ""},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "forever"}, nil, 0, "AIRLOCK_AUDIT_RETENTION"},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "0d"}, nil, 0, "at least 1h"},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "-5d"}, nil, 0, "AIRLOCK_AUDIT_RETENTION"},
		{map[string]string{"AIRLOCK_AUDIT_RETENTION": "1.5d"}, nil, 0, "AIRLOCK_AUDIT_RETENTION"},
	}
	for _, c := range cases {
		t.Run(strings.Join(append([]string{c.env["AIRLOCK_AUDIT_RETENTION"]}, c.args...), " "), func(t *testing.T) {
			fs, vals := newFlagSet("serve", io.Discard)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := resolveConfig(fs, vals, envMap(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error naming %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AuditRetention != c.want {
				t.Errorf("got %v, want %v", cfg.AuditRetention, c.want)
			}
		})
	}
}

// TestPruneAuditDropsRowsPastRetention: the housekeeping step deletes the
// rows older than the retention and keeps the newer ones.
func TestPruneAuditDropsRowsPastRetention(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "airlock.db"), store.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := oauthflow.WithActor(context.Background(), oauthflow.Actor{Kind: oauthflow.ActorCLI, Name: "test"})
	for _, email := range []string{"old@example.com", "new@example.com"} {
		if _, err := st.CreateUser(ctx, email, "h", store.RoleViewer, false); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(200 * 24 * time.Hour)
	}
	pruneAudit(context.Background(), st, 365*24*time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rows, _, err := st.ListAudit(context.Background(), store.AuditFilter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.Contains(string(rows[0].Details), "new@example.com") {
		t.Errorf("got %d rows (%v), want only new@example.com's", len(rows), rows)
	}
}

// TestCLIChangesAreAudited: a key made with airlock apikey create is in the
// audit log as the command's, without the key.
func TestCLIChangesAreAudited(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "ci"}, envMap(map[string]string{"AIRLOCK_DATA_DIR": dir}), nil, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "airlock.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, _, err := st.ListAudit(context.Background(), store.AuditFilter{ObjectType: store.AuditAPIKey}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Action != store.ActionAPIKeyCreate || rows[0].Actor.Kind != oauthflow.ActorCLI || rows[0].Actor.Name != "airlock apikey create" {
		t.Fatalf("got %+v, want one api_key.create by the CLI", rows)
	}
	key := strings.TrimSpace(stdout.String())
	if strings.Contains(string(rows[0].Details), key) || strings.Contains(string(rows[0].Details), store.HashAPIKey(key)) {
		t.Errorf("details hold the key: %s", rows[0].Details)
	}
}

// TestTraceRetentionSetting: AIRLOCK_TRACE_RETENTION defaults to 30 days,
// takes a duration or days, and names itself when wrong.
func TestTraceRetentionSetting(t *testing.T) {
	for _, c := range []struct {
		env     string
		want    time.Duration
		wantErr string
	}{{"", 720 * time.Hour, ""}, {"48h", 48 * time.Hour, ""}, {"90d", 90 * 24 * time.Hour, ""}, {"soon", 0, "AIRLOCK_TRACE_RETENTION"}, {"0d", 0, "at least 1h"}} {
		t.Run(c.env, func(t *testing.T) {
			fs, vals := newFlagSet("serve", io.Discard)
			env := map[string]string{}
			if c.env != "" {
				env["AIRLOCK_TRACE_RETENTION"] = c.env
			}
			cfg, err := resolveConfig(fs, vals, envMap(env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error naming %q", err, c.wantErr)
				}
				return
			}
			if err != nil || cfg.TraceRetention != c.want {
				t.Errorf("got %v, %v; want %v", cfg.TraceRetention, err, c.want)
			}
		})
	}
}
