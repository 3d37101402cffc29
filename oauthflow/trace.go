package oauthflow

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Trace kinds: what a trace records.
const (
	TraceConnect           = "connect"
	TraceRefresh           = "refresh"
	TraceRevoke            = "revoke"
	TraceClientCredentials = "client_credentials"
	TraceHealthCheck       = "health_check"
	TraceTestRequest       = "request"
)

// Trace outcomes.
const (
	TraceOK     = "ok"
	TraceFailed = "failed"
)

// MaxTraceBody caps a response body kept in a trace step (after masking).
const MaxTraceBody = 16 << 10

// Trace is the record of one connect, refresh, revoke, client-credentials
// fetch, health check or console test request: every HTTP exchange it made,
// masked before it was built (see Mask), and for a failure its Diagnosis.
type Trace struct {
	ID          int64 // set by the store
	AccountID   string
	Integration string // the integration's key
	Kind        string
	Outcome     string // TraceOK or TraceFailed
	StartedAt   time.Time
	Duration    time.Duration
	Steps       []TraceStep
	Diagnosis   *Diagnosis
}

// TraceStep is one step of a trace: an HTTP exchange (Request with Response
// or Error) or a step without a call of its own (the authorization redirect,
// the callback), and the decision taken after it.
type TraceStep struct {
	Name     string
	At       time.Time
	Duration time.Duration
	Request  TraceRequest
	Response *TraceResponse // nil when no answer arrived
	Error    string         // the transport error (DNS, connect, TLS, timeout, dial guard)
	Note     string
	// raw is a token call's exchange as it happened, unmasked, with the
	// secrets to mask in it: masking (decoding and re-encoding the bodies,
	// every encoding of every secret) is left to the trace writer, off the
	// refresh path. It lives in memory only: Trace.mask turns it into
	// Request, Response and Error before anything is stored, and the store
	// cannot see it (unexported), so a step that missed its masking would be
	// stored empty, never in the clear.
	raw *rawExchange
}

// TraceRequest is a request as sent, masked.
type TraceRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// TraceResponse is an answer as received, masked, its body cut at MaxTraceBody.
type TraceResponse struct {
	Status        int               `json:"status"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
}

// Diagnosis names the cause of a failure and the fix: Hint names the field
// to change or the step to take.
type Diagnosis struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// TraceStore keeps traces. A failed save never fails what was traced.
type TraceStore interface {
	// SaveTrace stores t (already masked) and returns its id.
	SaveTrace(ctx context.Context, t Trace) (int64, error)
}

// tracer records a trace while it happens; the Client finds it in the
// context of its calls. Safe for concurrent use.
type tracer struct {
	mu  sync.Mutex
	t   Trace
	now func() time.Time
}

type tracerKey struct{}

// startTrace returns a context whose token, revocation and userinfo calls
// are recorded in the returned tracer.
func startTrace(ctx context.Context, kind string, a Account, in Integration, now func() time.Time) (context.Context, *tracer) {
	if now == nil {
		now = time.Now
	}
	tr := &tracer{now: now, t: Trace{AccountID: a.ID, Integration: in.Key, Kind: kind, StartedAt: now()}}
	return context.WithValue(ctx, tracerKey{}, tr), tr
}

// tracerFrom is the tracer of ctx, or nil.
func tracerFrom(ctx context.Context) *tracer {
	tr, _ := ctx.Value(tracerKey{}).(*tracer)
	return tr
}

// add appends a step.
func (tr *tracer) add(s TraceStep) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	tr.t.Steps = append(tr.t.Steps, s)
	tr.mu.Unlock()
}

// note sets the note of the last step, or adds a step holding only the
// note when there is none yet.
func (tr *tracer) note(text string) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.t.Steps); n > 0 {
		if tr.t.Steps[n-1].Note != "" {
			text = tr.t.Steps[n-1].Note + "; " + text
		}
		tr.t.Steps[n-1].Note = text
		return
	}
	tr.t.Steps = append(tr.t.Steps, TraceStep{Name: "decision", At: tr.now(), Note: text})
}

// remaskLast masks s's secrets in the last step's answer: values learnt
// only by parsing it. A step not masked yet gets them for its masking.
func (tr *tracer) remaskLast(s Secrets) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.t.Steps); n > 0 && tr.t.Steps[n-1].raw != nil {
		raw := tr.t.Steps[n-1].raw
		raw.secrets.Values = append(raw.secrets.Values, s.Values...)
		return
	}
	m := newMasker(s)
	if n := len(tr.t.Steps); n > 0 && tr.t.Steps[n-1].Response != nil {
		r := tr.t.Steps[n-1].Response
		r.Body = m.text(r.Body)
		for k, v := range r.Headers {
			r.Headers[k] = m.text(v)
		}
	}
}

// finish closes the trace: failed when err is not nil; d (which may be nil)
// is its diagnosis.
func (tr *tracer) finish(err error, d *Diagnosis) Trace {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	t := tr.t
	t.Steps = append([]TraceStep(nil), tr.t.Steps...)
	t.Duration = tr.now().Sub(t.StartedAt)
	t.Outcome = TraceOK
	if err != nil {
		t.Outcome = TraceFailed
	}
	t.Diagnosis = d
	return t
}

// saveTrace stores a finished trace; a failure is logged and nothing else:
// the refresh or connect it records has already happened.
func saveTrace(ctx context.Context, st TraceStore, log *slog.Logger, t Trace) int64 {
	if st == nil {
		return 0
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	t.mask()
	id, err := st.SaveTrace(sctx, t)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("could not save a trace", "account_id", t.AccountID, "kind", t.Kind, "err", err)
	}
	return id
}

// rawExchange is a token call as sent and answered, before masking.
type rawExchange struct {
	secrets    Secrets // the call's, and the values learnt from its answer (remaskLast)
	method     string
	url        url.URL
	header     http.Header
	body       []byte
	answered   bool
	status     int
	respHeader http.Header
	respBody   []byte
	err        string
}

// mask masks the steps still holding their raw exchange: it must run
// before a trace is stored (saveTrace and the trace writer call it).
func (t *Trace) mask() {
	for i := range t.Steps {
		st := &t.Steps[i]
		r := st.raw
		if r == nil {
			continue
		}
		st.raw = nil
		m := newMasker(r.secrets)
		st.Request = m.requestParts(r.method, &r.url, r.header, r.body)
		if r.answered {
			st.Response = m.response(r.status, r.respHeader, r.respBody)
		}
		if r.err != "" {
			st.Error = m.text(r.err)
		}
	}
}
