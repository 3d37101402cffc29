package fakeprovider

import (
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Fault is how the token endpoint misbehaves for every request while it is
// set (SetTokenFault), as a provider in an outage or a proxy in front of it
// would. Fields combine in this order: Delay, then Reset, Status or
// DropAnswer; a Fault with only Delay set answers normally, late.
type Fault struct {
	// Delay holds each request this long before anything else happens, as
	// a slow proxy does before it forwards the request to the provider.
	Delay time.Duration
	// Reset closes the connection without an answer and without looking at
	// the request (nothing rotates).
	Reset bool
	// Status answers every request with this status and Body, without
	// looking at the request (nothing rotates). The content type follows
	// the body as with FailNextToken; 200 with an HTML page, garbage or {}
	// is a 2xx that is not a token.
	Status int
	Body   string
	// RetryAfter, when set, is sent as the Retry-After header with Status:
	// seconds ("30") or an HTTP date.
	RetryAfter string
	// DropAnswer handles the request as usual — a refresh token rotates —
	// and then closes the connection instead of sending the answer: the
	// answer is lost in transit, the provider has moved on.
	DropAnswer bool
}

// SetTokenFault makes the token endpoint show f for every request until
// ClearTokenFault. Requests are still counted and recorded. It takes
// precedence over FailNextToken.
func (p *Provider) SetTokenFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = &f
}

// ClearTokenFault ends the fault: the provider recovers.
func (p *Provider) ClearTokenFault() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = nil
}

// currentFault is the fault in force, copied, or nil.
func (p *Provider) currentFault() *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault == nil {
		return nil
	}
	f := *p.fault
	return &f
}

// serveFault applies f to a request; it reports false when the request is
// to be handled normally after all (a Fault with only Delay).
func (p *Provider) serveFault(w http.ResponseWriter, r *http.Request, f *Fault, handle http.HandlerFunc) bool {
	p.sleep(f.Delay)
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeInjected(w, f.Status, f.Body)
	case f.DropAnswer:
		handle(httptest.NewRecorder(), r) // decided and committed, never sent
		resetConnection(w)
	default:
		return false
	}
	return true
}

// resetConnection closes the client's connection at once (with RST where the
// connection is TCP), so the client gets no answer at all.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fakeprovider: the server does not support hijacking; cannot reset the connection")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
