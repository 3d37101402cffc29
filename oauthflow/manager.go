package oauthflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoToken is returned by a TokenStore when an account has no token.
var ErrNoToken = errors.New("the account has no token")

// ErrTokenConflict is returned by TokenStore.SaveToken when the stored token is
// no longer the version the save started from.
var ErrTokenConflict = errors.New("the stored token changed since it was read")

// ErrNeedsReconnect means the account cannot get a token without a new
// authorization (or, for client credentials, a fixed configuration).
var ErrNeedsReconnect = errors.New("the account needs to be reconnected")

// Refresh reasons, as recorded in activity and returned by the request API.
const (
	ReasonConnect   = "connect"
	ReasonExpiring  = "expiring"
	ReasonRejected  = "rejected"
	ReasonManual    = "manual"
	ReasonKeepalive = "keepalive"
)

// RefreshEvent describes a token save or a failed refresh for the store to
// record (account status, warnings, activity) in the same transaction.
type RefreshEvent struct {
	Reason   string        // one of the Reason constants
	Note     string        // why, in words: "expires in 12 min, inside the 30 min window"
	Status   string        // the account's new status; "" leaves it unchanged
	Error    string        // what failed, safe to show (no secrets)
	Kind     ErrorKind     // for failures
	Warnings []Warning     // for saves: the token's warnings
	Actor    string        // who asked: a user, an API key, "keep-alive"
	Duration time.Duration // time spent at the token endpoint
	// Backoff, for failures, is the account's failure streak after this
	// one (zero for a failure outside any streak, such as a callback's).
	Backoff Backoff
	// Captured, for saves, are captured values the answer carried: merged
	// into the account's. Identity is recorded if the account has none.
	Captured map[string]string
	Identity string
}

// TokenStore is what the Manager needs from persistence. The store package
// implements it; every method is a short transaction — none is ever held
// across a call to a token endpoint.
type TokenStore interface {
	// LoadToken returns the account's token, or ErrNoToken.
	LoadToken(ctx context.Context, accountID string) (Token, error)
	// SaveToken stores t if the account's token version is still prevVersion
	// (a negative prevVersion: whatever it is), marks the account connected,
	// ends its failure streak (Backoff) and records ev; it returns t with its
	// new Version. A different version is ErrTokenConflict. Versions never
	// repeat, not even across a disconnect.
	SaveToken(ctx context.Context, accountID string, prevVersion int64, t Token, ev RefreshEvent) (Token, error)
	// RecordRefreshFailure records a failed attempt and applies ev.Status;
	// with ev.Backoff set it keeps that streak with the lease and records
	// the whole streak as one activity entry (its count and last error).
	RecordRefreshFailure(ctx context.Context, accountID string, ev RefreshEvent) error
	// LoadBackoff returns the account's failure streak as any process left
	// it (the zero Backoff when there is none).
	LoadBackoff(ctx context.Context, accountID string) (Backoff, error)
	// AcquireLease takes the account's refresh lease for ttl unless another
	// holder has an unexpired one; it reports whether it was taken.
	AcquireLease(ctx context.Context, accountID, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease back (only if holder still has it).
	ReleaseLease(ctx context.Context, accountID, holder string) error
}

// DefaultLeaseTTL is how long a refresh lease lasts unless renewed: how long
// the accounts a dead process was refreshing wait before another takes over.
const DefaultLeaseTTL = 30 * time.Second

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Store  TokenStore
	Client *Client
	// Now is the clock; nil means time.Now. Backoff is timed by it.
	Now func() time.Time
	// LeaseTTL bounds how long a crashed holder blocks others: a live holder
	// renews its lease every third of it for as long as its refresh (or the
	// save of its answer) lasts, so it need not cover CallTimeout. Zero
	// means 30 s.
	LeaseTTL time.Duration
	// CallTimeout bounds one refresh (lease, token call and save), which
	// runs detached from the caller's context so that a caller giving up
	// cannot lose a rotated token midway. It must exceed the token client's
	// own timeouts. Zero means 75 s.
	CallTimeout time.Duration
	// OnWait, if set, is told of every caller that waited for a refresh
	// (its token had expired or was about to, or was rejected), and for how
	// long (metrics).
	OnWait func(in Integration, d time.Duration)
	// OnRefresh, if set, is told of every call to a token endpoint (metrics).
	OnRefresh func(in Integration, outcome string, d time.Duration)
	// Fault, if set, is called at the points of a refresh where a crash is
	// most dangerous ("before_token_request", "after_token_response",
	// "after_commit"); the crash tests build a binary that blocks there.
	Fault func(point string)
	// Traces, if set, keeps a trace of every refresh and client-credentials
	// fetch (and, through Accounts, of connects and revocations). A failed
	// save is logged, never the refresh's failure.
	Traces TraceStore
	// TraceQueue bounds the refresh traces waiting for the store (0: 4096).
	// The trace writer stores them in batches; when the store is so far
	// behind that the queue is full, new traces are dropped (counted and
	// logged) so that a refresh never waits for one.
	TraceQueue int
	// Log hears of what needs a person's attention: a token the provider
	// issued that could not be saved yet, a failure that could not be
	// recorded. Nil discards.
	Log *slog.Logger
}

// Manager hands out tokens for accounts. A token inside its refresh window
// is served at once and refreshed in the background; callers wait only for
// a token that has expired or will within UrgentMargin, or was rejected. Per
// account there is at most one refresh at a time in the process (single
// flight) and, through the store's lease, in the deployment. A new token is
// committed by compare-and-swap before anyone uses it — or, when the store
// cannot take it, kept in memory and served while its save is retried. After
// a failed refresh an account backs off (1 s, 2 s … 5 min, at least any
// Retry-After) and exactly one caller probes when the time comes. A Manager
// is safe for concurrent use.
type Manager struct {
	opts   ManagerOptions
	holder string
	log    *slog.Logger

	// running counts refreshes and saves under way, so shutdown can wait for
	// them: a rotated refresh token must be committed before the store closes.
	running sync.WaitGroup
	// stopping is closed when shutdown's wait ran out: saves still retrying
	// make one last attempt and give up.
	stopping chan struct{}
	stopOnce sync.Once
	// traces writes refresh traces in batches, off the refresh path (nil
	// when traces are off).
	traces *traceWriter

	mu      sync.Mutex
	flights map[string]*flight
	cache   map[string]Token
	// dead remembers the token version whose refresh got invalid_grant, so
	// later callers fail fast instead of spending the dead grant again.
	dead map[string]int64
	// backoff holds accounts whose last refresh failed.
	backoff map[string]streak
	// pending holds tokens the provider issued that are not saved yet.
	pending map[string]*pendingSave

	// onChange hears of every account whose token row this manager wrote
	// (a save or a recorded failure): the accounts service's cache.
	onChange atomic.Pointer[func(accountID string)]
}

type flight struct {
	done chan struct{}
	res  TokenResult
	err  error
	// probe: the flight tries again after failures; callers that did not
	// start it answer at once instead of waiting for it.
	probe bool
}

// streak is an account's failure streak in memory, with its last error.
type streak struct {
	Backoff
	last error
}

// TokenResult is a usable token and whether (and why) it was just refreshed.
type TokenResult struct {
	Token     Token
	Refreshed bool
	Reason    string // ReasonExpiring or ReasonRejected when Refreshed (or the refresh failed but the old token still works)
	Note      string // "expires in 12 min, inside the 30 min window"
}

// Fault points of a refresh.
const (
	FaultBeforeTokenRequest = "before_token_request"
	FaultAfterTokenResponse = "after_token_response"
	FaultAfterCommit        = "after_commit"
)

func (m *Manager) fault(point string) {
	if m.opts.Fault != nil {
		m.opts.Fault(point)
	}
}

// NewManager builds a Manager.
func NewManager(o ManagerOptions) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 75 * time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	rand.Read(b)
	m := &Manager{opts: o, holder: "airlock-" + hex.EncodeToString(b), log: log, stopping: make(chan struct{}),
		flights: map[string]*flight{}, cache: map[string]Token{}, dead: map[string]int64{},
		backoff: map[string]streak{}, pending: map[string]*pendingSave{}}
	if o.Traces != nil {
		m.traces = newTraceWriter(o.Traces, log, &m.running, o.TraceQueue)
	}
	return m
}

// RefreshWindow is how long before expiry a token is refreshed: the
// integration's window, capped at half the token's lifetime so that a short
// token is not refreshed on every use.
func RefreshWindow(in Integration, t Token) time.Duration {
	w := in.RefreshWindow()
	if life := t.Lifetime(); life > 0 && w > life/2 {
		w = life / 2
	}
	return w
}

// dueNote says whether t must be refreshed before use, and why in words. A
// token that cannot be renewed (authorization code without a refresh token)
// is used until it expires rather than given up early.
func (m *Manager) dueNote(in Integration, t Token) (bool, string) {
	if t.Expiry.IsZero() {
		return false, ""
	}
	left := t.Expiry.Sub(m.opts.Now())
	w := RefreshWindow(in, t)
	if !in.FetchesToken() && t.RefreshToken == "" {
		w = 0
	}
	if left > w {
		return false, ""
	}
	if left <= 0 {
		return true, fmt.Sprintf("expired %s ago", roundDuration(-left))
	}
	return true, fmt.Sprintf("expires in %s, inside the %s window", roundDuration(left), roundDuration(w))
}

// current is a token not saved yet, the cached token, or the stored one.
func (m *Manager) current(ctx context.Context, accountID string) (Token, error) {
	m.mu.Lock()
	t, ok := m.cache[accountID]
	if p := m.pending[accountID]; p != nil {
		t, ok = p.tok, true
	}
	m.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := m.opts.Store.LoadToken(ctx, accountID)
	if errors.Is(err, ErrNoToken) {
		return Token{}, fmt.Errorf("%w: it has no token yet; connect it (%w)", ErrNeedsReconnect, ErrNoToken)
	}
	if err != nil {
		return Token{}, err
	}
	m.remember(accountID, t)
	return t, nil
}

func (m *Manager) remember(accountID string, t Token) {
	m.mu.Lock()
	if old, ok := m.cache[accountID]; !ok || t.Version >= old.Version {
		m.cache[accountID] = t
	}
	m.mu.Unlock()
}

// subscribe has fn told of every save and recorded failure, after the write.
func (m *Manager) subscribe(fn func(accountID string)) { m.onChange.Store(&fn) }

// saveToken is the store's SaveToken, then the subscriber told; it is told
// of a failed save too, which may have committed.
func (m *Manager) saveToken(ctx context.Context, accountID string, prev int64, t Token, ev RefreshEvent) (Token, error) {
	saved, err := m.opts.Store.SaveToken(ctx, accountID, prev, t, ev)
	m.changed(accountID)
	return saved, err
}

// recordFailure is the store's RecordRefreshFailure, then the subscriber told.
func (m *Manager) recordFailure(ctx context.Context, accountID string, ev RefreshEvent) error {
	err := m.opts.Store.RecordRefreshFailure(ctx, accountID, ev)
	m.changed(accountID)
	return err
}

func (m *Manager) changed(accountID string) {
	if fn := m.onChange.Load(); fn != nil {
		(*fn)(accountID)
	}
}

// Forget drops what the manager remembers of an account (after a disconnect,
// a delete or a new connection): its token, a dead grant, a failure streak,
// and a token still waiting to be saved (whose save then finds the account
// changed and gives way).
func (m *Manager) Forget(accountID string) {
	m.mu.Lock()
	delete(m.cache, accountID)
	delete(m.dead, accountID)
	delete(m.backoff, accountID)
	delete(m.pending, accountID)
	m.mu.Unlock()
}

// markDead records that the grant behind version v is dead.
func (m *Manager) markDead(accountID string, v int64) {
	m.mu.Lock()
	delete(m.cache, accountID)
	m.dead[accountID] = v
	m.mu.Unlock()
}

// Wait blocks until the refreshes and saves under way have finished (their
// answers committed) or ctx ends. Shutdown calls it before closing the store:
// a provider that rotated a refresh token has already spent the old one.
// When ctx ends first, saves still retrying make one last attempt and stop.
func (m *Manager) Wait(ctx context.Context) error {
	if m.traces != nil {
		m.traces.flush() // queued traces are written now, not after their gathering time
	}
	done := make(chan struct{})
	go func() {
		m.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		m.stopOnce.Do(func() { close(m.stopping) })
		return fmt.Errorf("refreshes still under way: %w", ctx.Err())
	}
}

// Warnings are what an account's owner should know about a token.
func Warnings(in Integration, t Token) []Warning {
	if in.StaticCredentials() {
		return nil // what the account was given: no lifetime, nothing to renew
	}
	var ws []Warning
	if life := t.Lifetime(); life > 0 && life < 5*time.Minute {
		ws = append(ws, Warning{Code: WarnShortTTL, Message: fmt.Sprintf(
			"The token lives only %s: requests may fail; the provider's token TTL should be at least 5 minutes.", roundDuration(life))})
	}
	if in.OAuth2.GrantType == GrantAuthorizationCode && t.RefreshToken == "" {
		ws = append(ws, Warning{Code: WarnNoRefreshToken, Message: "No refresh token was issued: a refresh token is expected — check the provider's offline access / consent settings (for example access_type=offline or prompt=consent)."})
	}
	ws = append(ws, scopeWarnings(in, t)...)
	if t.Expiry.IsZero() {
		ws = append(ws, Warning{Code: WarnUnknownExpiry, Message: "The provider did not say when the token expires (no expires_in): Airlock refreshes it only when the API rejects it."})
	}
	return ws
}

// roundDuration words a duration the way people say it: "12 min", "2 h 5 min", "40 s".
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute).Minutes()))
	}
	h := int(d / time.Hour)
	mins := int((d % time.Hour).Round(time.Minute).Minutes())
	if mins == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, mins)
}
