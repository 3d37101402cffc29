// Package benchload is the load generator the benchmarks of several packages
// share: a fixed number of callers, every call timed, process CPU measured,
// baseline and subject alternated so drift on a shared machine hits both.
package benchload

import (
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Micros is a duration in microseconds, for b.ReportMetric.
func Micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// Variant is one way of making the same call: the baseline, or the subject.
type Variant struct {
	Name string
	Call func() error
}

// Compare makes b.N calls of every variant from a fixed number of
// callers, alternating variants in eight rounds so drift hits all alike.
// Only the last variant (the subject) is timed for ns/op.
func Compare(b *testing.B, callers int, vs []Variant) []Run {
	runs := make([]Run, len(vs))
	rounds := min(8, b.N)
	b.StopTimer()
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		for i, v := range vs {
			if i == len(vs)-1 {
				b.StartTimer()
			}
			runs[i].Add(Load(b, callers, n, v.Call))
		}
		b.StopTimer()
	}
	return runs
}

// Run is a set of timed calls: each call's duration, the wall time,
// and the CPU time the whole process (clients, servers, upstream) spent.
type Run struct {
	durs []time.Duration
	wall time.Duration
	cpu  time.Duration
}

// Add joins o's calls to r's.
func (r *Run) Add(o Run) {
	r.durs = append(r.durs, o.durs...)
	r.wall += o.wall
	r.cpu += o.cpu
}

// CPUPerCall is the process CPU time per call: on a machine shared with
// other work it is steadier than wall time, and when the CPU is the limit
// its ratio between two variants is their throughput ratio.
func (r *Run) CPUPerCall() time.Duration {
	if len(r.durs) == 0 {
		return 0
	}
	return r.cpu / time.Duration(len(r.durs))
}

// ProcessCPU is the user and system time this process has used, for a
// benchmark that times its variants itself.
func ProcessCPU() time.Duration { return processCPU() }

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Pct is the p-th percentile of the call durations (nearest rank).
func (r *Run) Pct(p int) time.Duration {
	if len(r.durs) == 0 {
		return 0
	}
	slices.Sort(r.durs)
	i := (len(r.durs)*p + 99) / 100
	return r.durs[max(0, min(i-1, len(r.durs)-1))]
}

// Rate is calls per second of wall time.
func (r *Run) Rate() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.durs)) / r.wall.Seconds()
}

// Load makes n calls of fn from callers goroutines (a fixed number,
// whatever GOMAXPROCS) and times each call; the first error fails b.
func Load(b *testing.B, callers, n int, fn func() error) Run {
	var next atomic.Int64
	var failed atomic.Bool
	per := make([][]time.Duration, callers)
	var wg sync.WaitGroup
	cpu0, start := processCPU(), time.Now()
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := fn(); err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Error(err)
					}
					return
				}
				per[g] = append(per[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	run := Run{wall: time.Since(start), cpu: processCPU() - cpu0}
	for _, d := range per {
		run.durs = append(run.durs, d...)
	}
	if failed.Load() {
		b.FailNow()
	}
	return run
}
