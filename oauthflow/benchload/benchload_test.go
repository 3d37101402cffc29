package benchload

import (
	"testing"
	"time"
)

func TestPctNearestRank(t *testing.T) {
	r := Run{durs: []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}}
	cases := []struct {
		p    int
		want time.Duration
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}}
	for _, tc := range cases {
		if got := r.Pct(tc.p); got != tc.want {
			t.Errorf("p%d: got %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := (&Run{}).Pct(50); got != 0 {
		t.Errorf("empty run: got %v, want 0", got)
	}
}

func TestRateAndCPUPerCall(t *testing.T) {
	r := Run{durs: make([]time.Duration, 100), wall: 2 * time.Second, cpu: 50 * time.Millisecond}
	if got := r.Rate(); got != 50 {
		t.Errorf("rate: got %v, want 50", got)
	}
	if got := r.CPUPerCall(); got != 500*time.Microsecond {
		t.Errorf("cpu per call: got %v, want 500µs", got)
	}
}
