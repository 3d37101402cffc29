package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Backoff is an account's run of failed refreshes: how many attempts in a
// row failed, the last error, and when the next attempt may be made. It
// lives in the store beside the refresh lease, so every process honours it,
// and in each Manager's memory, so callers learn of it without a query.
type Backoff struct {
	Failures  int       // attempts in a row that failed; 0: none
	Next      time.Time // no attempt before this (except one a person asks for)
	LastError string    // the last failure, safe to show
	// LostVersion is the version of the token whose refresh answer was lost
	// in transit (a timeout or a reset after the request was sent), 0 when
	// none: an invalid_grant for that token then means the provider rotated
	// and the new refresh token never arrived.
	LostVersion int64
}

// Bounds of the backoff between failed refreshes of one account.
const (
	backoffFirst  = time.Second
	backoffMax    = 5 * time.Minute
	retryAfterMax = time.Hour // a longer Retry-After is read as this
	// UrgentMargin is how close to its expiry a token must be before callers
	// wait for its refresh; until then a token inside its refresh window is
	// served at once and refreshed in the background.
	UrgentMargin = 30 * time.Second
)

// backoffDelay is the wait after the n-th failure in a row: 1 s, 2 s, 4 s …
// capped at 5 min, each stretched or shrunk by up to a fifth at random so
// that accounts failing together do not retry together, and never shorter
// than the provider's Retry-After.
func backoffDelay(n int, retryAfter time.Duration) time.Duration {
	d := backoffMax
	if n >= 1 && n <= 20 {
		d = min(backoffFirst<<(n-1), backoffMax)
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, min(retryAfter, retryAfterMax))
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3); anything else, or a time in the past, is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(secs)*time.Second, retryAfterMax)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), retryAfterMax)
	}
	return 0
}

// ErrTokenUnavailable means the account's token could not be had for a
// reason other than a dead grant or a wrong configuration: the token
// endpoint failed, or refreshes are paused after failures. The request API
// answers it with 503 token_unavailable.
var ErrTokenUnavailable = errors.New("the token could not be refreshed")

// BackoffError is the fast answer while an account waits before its next
// refresh attempt: how many attempts failed, the last failure, and when the
// next attempt is due.
type BackoffError struct {
	Failures int
	Until    time.Time
	Last     error
	now      time.Time
}

func (e *BackoffError) Error() string {
	wait := "now"
	if d := e.Until.Sub(e.now); d > 0 {
		wait = "in " + roundDuration(d)
	}
	attempts := "the last refresh failed"
	if e.Failures > 1 {
		attempts = fmt.Sprintf("%d refreshes in a row failed", e.Failures)
	}
	return fmt.Sprintf("%s: %s (the last: %v); the next attempt is due %s", ErrTokenUnavailable, attempts, e.Last, wait)
}

// Unwrap makes a BackoffError both ErrTokenUnavailable and its last failure
// (so Classify still tells a configuration error from a temporary one).
func (e *BackoffError) Unwrap() []error { return []error{ErrTokenUnavailable, e.Last} }

// callInfo is what a token call tells the manager besides its result:
// whether the request was written (so a missing answer may have been acted
// on) and the provider's Retry-After.
type callInfo struct {
	mu         sync.Mutex
	wrote      bool
	retryAfter string
}

type callInfoKey struct{}

// withCallInfo returns a context whose token call fills in the callInfo.
func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{}
	ctx = context.WithValue(ctx, callInfoKey{}, ci)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		ci.mu.Lock()
		ci.wrote = true
		ci.mu.Unlock()
	}}), ci
}

// noteAnswer records an answer's Retry-After for the manager (the exchange
// code calls it for every response of a token endpoint).
func noteAnswer(ctx context.Context, resp *http.Response) {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.mu.Lock()
		ci.retryAfter = resp.Header.Get("Retry-After")
		ci.mu.Unlock()
	}
}

func (ci *callInfo) sent() bool {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.wrote
}

func (ci *callInfo) retryAfterHeader() string {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.retryAfter
}

// answerLost reports whether err means the request went out and no answer
// came back whole (a timeout, a reset, a cut-off body): the provider may
// have acted on it, rotating the refresh token it was sent.
func answerLost(err error, ci *callInfo) bool {
	var te *TokenError
	return ci.sent() && errors.As(err, &te) && te.Kind == KindTemporary && te.Err != nil
}

// notATokenBeforeWorked turns a 2xx that is not a token (an HTML page,
// garbage, {}) into a temporary failure when the endpoint has issued this
// account a token before: then the URL and the credentials are right, and
// such an answer is a maintenance or proxy page, not a configuration error.
// On a first connection it stays a configuration error.
func notATokenBeforeWorked(err error, workedBefore bool) error {
	var te *TokenError
	if !workedBefore || !errors.As(err, &te) || te.Kind != KindConfig || te.Code != "" || te.Status < 200 || te.Status > 299 {
		return err
	}
	te.Kind = KindTemporary
	te.Description = strings.TrimSuffix(te.Description, ": check the token URL") +
		"; this endpoint has issued this account tokens before, so this is taken for a temporary fault (a maintenance or proxy page?) and retried later"
	return err
}
