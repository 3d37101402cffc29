package main

import (
	"io"
	"log/slog"
	"strings"
	"sync"
)

// newLogger builds the process logger, writing lines at level and above
// (AIRLOCK_LOG_LEVEL). Attributes whose key names a secret are replaced by
// "[redacted]" whatever their value, as a last line of defence behind the
// habit of never logging secrets in the first place.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// sensitiveKey matches Authorization, Cookie, code, state, code_verifier,
// client_secret, password and every *_token / *token key.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	switch k {
	case "authorization", "cookie", "set-cookie", "code", "state", "code_verifier", "client_secret", "password", "secret", "token":
		return true
	}
	return strings.HasSuffix(k, "_token") || strings.HasSuffix(k, "-token") || strings.HasSuffix(k, "_secret")
}

// coalescingWriter hands log lines to one goroutine that writes whatever has
// gathered in one write: under load the access log's lines share a system
// call instead of costing one each (the access log's line was the largest
// item of Airlock's own work in a profile under load), and when idle a line
// is written as soon as the goroutine wakes, microseconds later. Close
// writes the rest.
type coalescingWriter struct {
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
	spare  []byte
	kick   chan struct{}
	done   chan struct{}
	closed bool
}

// coalesceMax is how much may wait; past it a Write writes itself.
const coalesceMax = 256 << 10

func newCoalescingWriter(w io.Writer) *coalescingWriter {
	c := &coalescingWriter{w: w, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.loop()
	return c
}

// Write keeps a copy of p for the writer goroutine (slog reuses its buffer).
func (c *coalescingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed { // a goroutine still logging as the server stops
		defer c.mu.Unlock()
		return c.w.Write(p)
	}
	first := len(c.buf) == 0
	c.buf = append(c.buf, p...)
	if len(c.buf) >= coalesceMax {
		_, err := c.w.Write(c.buf)
		c.buf = c.buf[:0]
		c.mu.Unlock()
		return len(p), err
	}
	if first { // later lines join the write this one made due
		select { // under the lock, so Close cannot close kick first
		case c.kick <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	return len(p), nil
}

// loop writes as soon as it is kicked. (Waiting a little for more lines to
// share the write was tried: at one caller a 2 ms sleep cost more CPU per
// request in the benchmark than the system calls it saved.)
func (c *coalescingWriter) loop() {
	defer close(c.done)
	for range c.kick {
		c.flush()
	}
	c.flush()
}

func (c *coalescingWriter) flush() {
	c.mu.Lock()
	b := c.buf
	c.buf = c.spare[:0]
	if len(b) > 0 {
		c.w.Write(b) // under the lock: lines stay in order with a Write past coalesceMax
	}
	c.spare = b[:0]
	c.mu.Unlock()
}

// Close writes what waits and stops the goroutine; later Writes write
// straight through.
func (c *coalescingWriter) Close() {
	c.mu.Lock()
	c.closed = true
	close(c.kick)
	c.mu.Unlock()
	<-c.done
}
