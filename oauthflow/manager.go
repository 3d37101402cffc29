package oauthflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
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
}

// TokenStore is what the Manager needs from persistence. The store package
// implements it; every method is a short transaction — none is ever held
// across a call to a token endpoint.
type TokenStore interface {
	// LoadToken returns the account's token, or ErrNoToken.
	LoadToken(ctx context.Context, accountID string) (Token, error)
	// SaveToken stores t if the account's token version is still prevVersion
	// (a negative prevVersion: whatever it is), marks the account connected,
	// and records ev; it returns t with its new Version. A different version
	// is ErrTokenConflict. Versions never repeat, not even across a disconnect.
	SaveToken(ctx context.Context, accountID string, prevVersion int64, t Token, ev RefreshEvent) (Token, error)
	// RecordRefreshFailure records a failed attempt and applies ev.Status.
	RecordRefreshFailure(ctx context.Context, accountID string, ev RefreshEvent) error
	// AcquireLease takes the account's refresh lease for ttl unless another
	// holder has an unexpired one; it reports whether it was taken.
	AcquireLease(ctx context.Context, accountID, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease back (only if holder still has it).
	ReleaseLease(ctx context.Context, accountID, holder string) error
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Store  TokenStore
	Client *Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LeaseTTL bounds how long a crashed holder blocks others; it must exceed
	// the outbound timeout. Zero means 90 s.
	LeaseTTL time.Duration
	// CallTimeout bounds one refresh, which runs detached from the caller's
	// context so that a caller giving up cannot lose a rotated token midway.
	// Zero means 60 s.
	CallTimeout time.Duration
	// OnRefresh, if set, is told of every call to a token endpoint (metrics).
	OnRefresh func(in Integration, outcome string, d time.Duration)
	// Fault, if set, is called at the points of a refresh where a crash is
	// most dangerous ("before_token_request", "after_token_response",
	// "after_commit"); the crash tests build a binary that blocks there.
	Fault func(point string)
}

// Manager hands out tokens for accounts, refreshing them when they are inside
// their refresh window or were rejected. Per account there is at most one
// refresh at a time in the process (single flight) and, through the store's
// lease, in the deployment. A new token is committed by compare-and-swap
// before anyone uses it. A Manager is safe for concurrent use.
type Manager struct {
	opts   ManagerOptions
	holder string

	// running counts refreshes under way, so shutdown can wait for them:
	// a rotated refresh token must be committed before the store closes.
	running sync.WaitGroup

	mu      sync.Mutex
	flights map[string]*flight
	cache   map[string]Token
	// dead remembers the token version whose refresh got invalid_grant, so
	// later callers fail fast instead of spending the dead grant again.
	dead map[string]int64
}

type flight struct {
	done chan struct{}
	res  TokenResult
	err  error
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
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 90 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &Manager{opts: o, holder: "airlock-" + hex.EncodeToString(b), flights: map[string]*flight{}, cache: map[string]Token{}, dead: map[string]int64{}}
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
	if in.OAuth2.GrantType != GrantClientCredentials && t.RefreshToken == "" {
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

// Token returns a token for the account, refreshed first when it is inside
// its refresh window.
func (m *Manager) Token(ctx context.Context, a Account, in Integration) (TokenResult, error) {
	t, err := m.current(ctx, a.ID)
	if err != nil {
		return TokenResult{}, err
	}
	due, note := m.dueNote(in, t)
	if !due {
		return TokenResult{Token: t}, nil
	}
	return m.refresh(ctx, a, in, t.Version, ReasonExpiring, note)
}

// Rejected refreshes after the API rejected the token of version used (401,
// 403 …). If another caller already replaced that token, the newer one is
// returned without calling the token endpoint again.
func (m *Manager) Rejected(ctx context.Context, a Account, in Integration, used int64, status int) (TokenResult, error) {
	return m.refresh(ctx, a, in, used, ReasonRejected, fmt.Sprintf("%d from the API, refreshed and retried", status))
}

// Refresh refreshes now, whatever the expiry (the console's "refresh now",
// the API's refresh route, keep-alive).
func (m *Manager) Refresh(ctx context.Context, a Account, in Integration, reason string) (TokenResult, error) {
	t, err := m.current(ctx, a.ID)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return TokenResult{}, err
	}
	if errors.Is(err, ErrNoToken) && in.OAuth2.GrantType != GrantClientCredentials {
		return TokenResult{}, fmt.Errorf("%w: it has no token yet; connect it first", ErrNeedsReconnect)
	}
	return m.refresh(ctx, a, in, t.Version, reason, "refresh requested")
}

// current is the cached token, or the stored one.
func (m *Manager) current(ctx context.Context, accountID string) (Token, error) {
	m.mu.Lock()
	t, ok := m.cache[accountID]
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

// Forget drops what the manager remembers of an account (after a disconnect,
// a delete or a new connection).
func (m *Manager) Forget(accountID string) {
	m.mu.Lock()
	delete(m.cache, accountID)
	delete(m.dead, accountID)
	m.mu.Unlock()
}

// markDead records that the grant behind version v is dead.
func (m *Manager) markDead(accountID string, v int64) {
	m.mu.Lock()
	delete(m.cache, accountID)
	m.dead[accountID] = v
	m.mu.Unlock()
}

// refresh joins or leads the account's single flight. basis is the version
// the caller found stale; a stored token newer than it is returned as is.
func (m *Manager) refresh(ctx context.Context, a Account, in Integration, basis int64, reason, note string) (TokenResult, error) {
	m.mu.Lock()
	if v, dead := m.dead[a.ID]; dead && v >= basis {
		m.mu.Unlock()
		return TokenResult{}, fmt.Errorf("%w: the provider rejected its refresh token (invalid_grant)", ErrNeedsReconnect)
	}
	f, ok := m.flights[a.ID]
	if !ok {
		f = &flight{done: make(chan struct{})}
		m.flights[a.ID] = f
		m.running.Add(1)
		m.mu.Unlock()
		go m.lead(f, a, in, basis, reason, note)
	} else {
		m.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return TokenResult{}, ctx.Err()
	}
}

// lead performs one refresh for everyone waiting, detached from any one
// caller's context.
func (m *Manager) lead(f *flight, a Account, in Integration, basis int64, reason, note string) {
	defer m.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.CallTimeout)
	defer cancel()
	f.res, f.err = m.refreshLeased(ctx, a, in, basis, reason, note)
	if f.err == nil {
		m.remember(a.ID, f.res.Token)
	}
	m.mu.Lock()
	delete(m.flights, a.ID)
	m.mu.Unlock()
	close(f.done)
}

// Wait blocks until the refreshes under way have finished (their answers
// committed) or ctx ends. Shutdown calls it before closing the store: a
// provider that rotated a refresh token has already spent the old one.
func (m *Manager) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("refreshes still under way: %w", ctx.Err())
	}
}
