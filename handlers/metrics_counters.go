package handlers

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// labelled remembers the counters of a CounterVec per label pair, so that
// the per-request Inc does not hash, check and look up the labels each time
// (WithLabelValues was about 1 % of a proxied request's CPU in a profile).
// The pairs are bounded: route patterns and status codes, integration keys
// and status classes.
type labelled struct {
	vec    *prometheus.CounterVec
	suffix string // after the number: "" for a code, "xx" for a class
	mu     sync.RWMutex
	known  map[labelPair]prometheus.Counter
}

// labelPair is a counter's labels: a name (route, integration) and a number
// (status code, status class).
type labelPair struct {
	name string
	n    int
}

func newLabelled(vec *prometheus.CounterVec, suffix string) *labelled {
	return &labelled{vec: vec, suffix: suffix, known: map[labelPair]prometheus.Counter{}}
}

// get is the counter labelled name and n (with the suffix).
func (l *labelled) get(name string, n int) prometheus.Counter {
	k := labelPair{name, n}
	l.mu.RLock()
	c, ok := l.known[k]
	l.mu.RUnlock()
	if ok {
		return c
	}
	c = l.vec.WithLabelValues(name, strconv.Itoa(n)+l.suffix)
	l.mu.Lock()
	l.known[k] = c
	l.mu.Unlock()
	return c
}
