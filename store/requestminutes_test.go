package store

import (
	"context"
	"testing"
	"time"
)

func TestBucketsCoverEveryDurationWithinAnEighth(t *testing.T) {
	prev := -1
	for ms := int64(0); ms < 1<<25; ms += 1 + ms/50 {
		b := bucketOf(ms)
		if b < prev || b >= histBuckets {
			t.Fatalf("%d ms: bucket %d after %d (of %d)", ms, b, prev, histBuckets)
		}
		prev = b
		if top := bucketTop(b); ms < 1<<24 && (top < ms || float64(top) > float64(ms)*1.125+1) {
			t.Fatalf("%d ms: bucket %d tops at %d ms, want within an eighth above", ms, b, top)
		}
	}
}

// TestRequestsAreSummedPerAccountAndMinute: 1,000 requests of two accounts
// in one minute become two rows, with counts by class and percentiles; the
// minute's rows are written only once it is over.
func TestRequestsAreSummedPerAccountAndMinute(t *testing.T) {
	now := time.Date(2026, 11, 2, 8, 0, 10, 0, time.UTC)
	clock := func() time.Time { return now }
	s := openWith(t, Options{Now: clock})
	ctx := context.Background()
	l := s.NewActivityLog(time.Hour, nil)
	for i := range 1000 {
		status := 200
		switch {
		case i%100 == 0:
			status = 503
		case i%10 == 0:
			status = 404
		}
		l.AddRequest(RequestSample{AccountID: "a", AccountName: "prod", IntegrationKey: "k", Status: status, Duration: time.Duration(i%100+1) * time.Millisecond})
	}
	l.AddRequest(RequestSample{AccountID: "b", Failed: true, Duration: time.Second})
	l.Flush(ctx)
	if rows, _, _ := s.ListActivity(ctx, ActivityFilter{}, 10, ""); len(rows) != 0 {
		t.Fatalf("rows before the minute is over: %d, want 0", len(rows))
	}
	now = now.Add(time.Minute)
	l.Flush(ctx)
	rows, _, err := s.ListActivity(ctx, ActivityFilter{AccountID: "a"}, 10, "")
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows of a: %d (%v), want 1", len(rows), err)
	}
	got := rows[0]
	// p99 is 99 ms, reported as the top of its bucket (96–103 ms).
	want := MinuteSummary{N2xx: 900, N4xx: 90, N5xx: 10, P50MS: 50, P99MS: 103}
	if got.Kind != "requests" || got.Count != 1000 || got.Minute != want || got.At != time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC) || got.AccountName != "prod" {
		t.Errorf("a's minute: got %+v %+v, want 1000 requests %+v at 08:00", got, got.Minute, want)
	}
	if rows, _, _ := s.ListActivity(ctx, ActivityFilter{AccountID: "b"}, 10, ""); len(rows) != 1 || rows[0].Minute.Failed != 1 || rows[0].Minute.P99MS < 1000 {
		t.Errorf("b's minute: %+v, want one failed request of about 1 s", rows)
	}
	hours, _ := s.ActivityByHour(ctx, now.Add(-time.Hour))
	last := hours[len(hours)-1]
	if last.Requests != 1001 || last.Failures != 101 {
		t.Errorf("by hour: %d requests, %d failures; want 1001 and 101 (4xx, 5xx and failed)", last.Requests, last.Failures)
	}
	l.AddRequest(RequestSample{AccountID: "a", Status: 200})
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := s.ListActivity(ctx, ActivityFilter{AccountID: "a"}, 10, ""); len(rows) != 2 {
		t.Errorf("after Close: %d rows of a, want the current minute written too", len(rows))
	}
}
