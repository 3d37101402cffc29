package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"airlock/oauthflow"
)

// TestTraces saves traces, reads one back with its steps and diagnosis,
// pages through the list by cursor, and refuses a bad cursor and a missing id.
func TestTraces(t *testing.T) {
	s, clk := openTracesStore(t)
	ctx := context.Background()
	a := newAccount(t, s)
	var ids []int64
	for i := range 5 {
		tr := oauthflow.Trace{AccountID: a.ID, Integration: "acme", Kind: oauthflow.TraceRefresh, Outcome: oauthflow.TraceOK,
			StartedAt: clk.Now(), Duration: 42 * time.Millisecond, Steps: []oauthflow.TraceStep{{Name: "refresh", At: clk.Now(),
				Duration: 40 * time.Millisecond, Request: oauthflow.TraceRequest{Method: "POST", URL: "https://idp.example/token",
					Headers: map[string]string{"Authorization": "Basic ••••abcd"}, Body: "grant_type=refresh_token"},
				Response: &oauthflow.TraceResponse{Status: 400, Body: `{"error":"invalid_grant"}`}, Note: "n"}}}
		if i == 4 {
			tr.Outcome, tr.Diagnosis = oauthflow.TraceFailed, &oauthflow.Diagnosis{Code: "invalid_grant", Message: "m", Hint: "reconnect"}
		}
		id, err := s.SaveTrace(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		clk.Add(time.Second)
	}
	got, err := s.Trace(ctx, ids[4])
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != oauthflow.TraceFailed || got.Diagnosis == nil || got.Diagnosis.Hint != "reconnect" || len(got.Steps) != 1 ||
		got.Steps[0].Response.Status != 400 || got.Steps[0].Request.Headers["Authorization"] != "Basic ••••abcd" ||
		got.Steps[0].Duration != 40*time.Millisecond || got.Duration != 42*time.Millisecond {
		t.Errorf("trace: got %+v", got)
	}
	page, next, err := s.ListTraces(ctx, a.ID, 3, "")
	if err != nil || len(page) != 3 || page[0].ID != ids[4] || next == "" {
		t.Fatalf("first page: got %d traces (first %v), next %q, %v", len(page), page, next, err)
	}
	page, next, err = s.ListTraces(ctx, a.ID, 3, next)
	if err != nil || len(page) != 2 || page[1].ID != ids[0] || next != "" {
		t.Fatalf("second page: got %v, next %q, %v", page, next, err)
	}
	if _, _, err := s.ListTraces(ctx, a.ID, 3, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad cursor: got %v, want ErrNotFound", err)
	}
	if _, err := s.Trace(ctx, ids[4]+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing trace: got %v, want ErrNotFound", err)
	}
}

// TestPruneTraces keeps the newest TracesKept traces per account, and older
// failed ones inside the retention.
func TestPruneTraces(t *testing.T) {
	s, clk := openTracesStore(t)
	ctx := context.Background()
	a, b := newAccount(t, s), newAccount(t, s)
	save := func(acct, outcome string) {
		if _, err := s.SaveTrace(ctx, oauthflow.Trace{AccountID: acct, Kind: oauthflow.TraceRefresh, Outcome: outcome, StartedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	save(a.ID, oauthflow.TraceFailed) // old and failed: past the retention when pruned
	clk.Add(20 * 24 * time.Hour)
	save(a.ID, oauthflow.TraceFailed) // failed, inside the retention: kept
	save(a.ID, oauthflow.TraceOK)     // ok, beyond the newest 50: pruned
	for range TracesKept {
		save(a.ID, oauthflow.TraceOK)
	}
	save(b.ID, oauthflow.TraceOK)
	clk.Add(15 * 24 * time.Hour)
	n, err := s.PruneTraces(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("pruned: got %d, want 2", n)
	}
	list, _, _ := s.ListTraces(ctx, a.ID, 100, "")
	if len(list) != TracesKept+1 || list[len(list)-1].Outcome != oauthflow.TraceFailed {
		t.Errorf("kept for a: got %d (oldest %+v), want %d with the recent failure", len(list), list[len(list)-1], TracesKept+1)
	}
	if list, _, _ := s.ListTraces(ctx, b.ID, 100, ""); len(list) != 1 {
		t.Errorf("kept for b: got %d, want 1", len(list))
	}
}

// openTracesStore is a sealed store (accounts need one) whose clock the test moves.
func openTracesStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	sealer, err := NewSealer(make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	return openWith(t, Options{Sealer: sealer, Now: clk.Now}), clk
}

// TestSaveTraces stores a batch in one write and hands back the ids in
// order, each trace readable under its id.
func TestSaveTraces(t *testing.T) {
	s, clk := openTracesStore(t)
	ctx := context.Background()
	a := newAccount(t, s)
	var batch []oauthflow.Trace
	for _, kind := range []string{oauthflow.TraceRefresh, oauthflow.TraceClientCredentials, oauthflow.TraceRevoke} {
		batch = append(batch, oauthflow.Trace{AccountID: a.ID, Integration: "acme", Kind: kind, Outcome: oauthflow.TraceOK, StartedAt: clk.Now()})
	}
	ids, err := s.SaveTraces(ctx, batch...)
	if err != nil || len(ids) != len(batch) {
		t.Fatalf("SaveTraces: got %v, %v; want %d ids", ids, err, len(batch))
	}
	for i, id := range ids {
		got, err := s.Trace(ctx, id)
		if err != nil || got.Kind != batch[i].Kind {
			t.Errorf("trace %d (id %d): got kind %q, %v; want %q", i, id, got.Kind, err, batch[i].Kind)
		}
	}
	if ids, err := s.SaveTraces(ctx); err != nil || len(ids) != 0 {
		t.Errorf("empty batch: got %v, %v; want nothing", ids, err)
	}
}
