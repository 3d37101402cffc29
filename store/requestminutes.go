package store

import (
	"math/bits"
	"time"
)

// RequestSample is one request sent through an account, for its minute's
// summary row.
type RequestSample struct {
	At             time.Time
	AccountID      string
	AccountName    string
	IntegrationKey string
	Status         int  // the API's status; 0 when it did not answer
	Failed         bool // no answer, or no token to send
	Duration       time.Duration
}

// minuteKey is one account's minute.
type minuteKey struct {
	account string
	minute  int64 // unix minutes
}

// digest is a minute's requests of one account: counts by class and a
// duration histogram, a few hundred bytes whatever the request rate.
type digest struct {
	name, key string
	sum       MinuteSummary
	count     int
	hist      [histBuckets]uint32
}

// The histogram is exact below 64 ms, then has 8 buckets per doubling (at
// most 12.5 % apart) up to 2^24 ms; longer durations land in the last one.
const (
	histLinear  = 64
	histSub     = 8
	histBuckets = histLinear + (24-6)*histSub
)

func bucketOf(ms int64) int {
	if ms < histLinear {
		return int(max(ms, 0))
	}
	exp := bits.Len64(uint64(ms)) - 1 // 6 … : ms in [2^exp, 2^(exp+1))
	sub := int((ms >> (exp - 3)) & (histSub - 1))
	return min(histLinear+(exp-6)*histSub+sub, histBuckets-1)
}

// bucketTop is the largest duration a bucket holds (the percentile reported).
func bucketTop(b int) int64 {
	if b < histLinear {
		return int64(b)
	}
	exp, sub := (b-histLinear)/histSub+6, int64((b-histLinear)%histSub)
	return (1<<exp + (sub+1)<<(exp-3)) - 1
}

func (d *digest) add(s RequestSample) {
	d.count++
	switch {
	case s.Failed || s.Status == 0:
		d.sum.Failed++
	case s.Status < 300:
		d.sum.N2xx++
	case s.Status < 400:
		d.sum.N3xx++
	case s.Status < 500:
		d.sum.N4xx++
	default:
		d.sum.N5xx++
	}
	d.hist[bucketOf(s.Duration.Milliseconds())]++
}

// quantile is the duration under which a share q of the requests finished.
func (d *digest) quantile(q float64) int64 {
	rank := uint32(q*float64(d.count-1)) + 1
	var seen uint32
	for b, n := range d.hist {
		if seen += n; seen >= rank {
			return bucketTop(b)
		}
	}
	return 0
}

// row is the digest as its activity row.
func (d *digest) row(k minuteKey) Activity {
	sum := d.sum
	sum.P50MS, sum.P99MS = d.quantile(0.50), d.quantile(0.99)
	return Activity{At: time.Unix(k.minute*60, 0).UTC(), AccountID: k.account, AccountName: d.name, IntegrationKey: d.key,
		Kind: "requests", Outcome: "summary", Count: d.count, DurationMS: sum.P50MS, Minute: sum}
}

// AddRequest counts a request in its account's minute; the minute's row is
// written once the minute is over (or at Close).
func (l *ActivityLog) AddRequest(s RequestSample) {
	if s.At.IsZero() {
		s.At = l.s.now()
	}
	k := minuteKey{account: s.AccountID, minute: s.At.Unix() / 60}
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.minutes[k]
	if d == nil {
		if len(l.minutes) >= l.max { // far more accounts at once than a buffer holds: count and drop
			l.dropped.Add(1)
			return
		}
		d = &digest{name: s.AccountName, key: s.IntegrationKey}
		l.minutes[k] = d
	}
	d.add(s)
}

// takeMinutesLocked moves the summaries of minutes before now (all of them
// when all is set) to the row buffer; l.mu is held.
func (l *ActivityLog) takeMinutesLocked(now time.Time, all bool) {
	current := now.Unix() / 60
	for k, d := range l.minutes {
		if all || k.minute < current {
			l.buf = append(l.buf, d.row(k))
			delete(l.minutes, k)
		}
	}
}
