package oauthflow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"time"
)

// AccountsOptions configure the Accounts service.
type AccountsOptions struct {
	Store   AccountsStore
	Manager *Manager
	// Client calls the token and revocation endpoints.
	Client *Client
	// Runner sends requests through accounts.
	Runner *Runner
	// CallbackURL is the redirect URI every authorization-code flow returns
	// to: <public URL>/internal/sessions/v1/auth/callback.
	CallbackURL string
	// PublicURL begins connect links: <PublicURL>/connect/<token>.
	PublicURL string
	// Realm is recorded with each flow.
	Realm string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log hears of what failed on the side (a failure that could not be
	// recorded, a manual refresh that failed); nil discards.
	Log *slog.Logger
	// Record, if set, receives the lifecycle's activity that the store does
	// not record in its own transactions (a token handed out). It must not
	// block.
	Record func(Event)
	// Notify, if set, is told after every write this process makes to an
	// account (its id) or to an integration (""): the seam through which
	// other processes sharing the database hear of it and call Invalidate.
	Notify func(accountID string)
}

// Event is activity of the lifecycle for the activity log: never a token.
type Event struct {
	Account       Account
	Kind          string // "token": the token API handed out the access token
	Outcome       string
	Actor         string
	RefreshReason string // why the token was refreshed first, if it was
}

// Accounts is the one owner of the account lifecycle: create and update,
// connect (a consent URL, or a client-credentials token at once), complete
// the callback, connect links, refresh, the token, requests and the health
// check, disconnect and delete, and the integration writes that touch
// accounts. The console, the JSON API, the callback and keep-alive all come
// through it (keep-alive by the token manager, which tells it of every
// token it saves or fails). It keeps the cache the request path reads and
// drops entries on its own writes and the manager's; what other processes
// write reaches it through Invalidate, or at the latest after
// AccountsCacheTTL. Every error it returns carries a code (ErrorOf). It is
// safe for concurrent use.
type Accounts struct {
	o     AccountsOptions
	st    AccountsStore
	mgr   *Manager
	cache accountCache
}

// NewAccounts builds the service and subscribes it to the manager's token
// saves and failures.
func NewAccounts(o AccountsOptions) *Accounts {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &Accounts{o: o, st: o.Store, mgr: o.Manager}
	a.mgr.subscribe(a.changed)
	return a
}

// changed follows a write to an account this process made (or, with "",
// to an integration): the request path reads it afresh, and other
// processes are told.
func (a *Accounts) changed(accountID string) {
	if accountID == "" {
		a.cache.forgetAll()
	} else {
		a.cache.forget(accountID)
	}
	if a.o.Notify != nil {
		a.o.Notify(accountID)
	}
}

// written follows a write that replaced or removed an account's tokens or
// values: the token manager forgets what it held of them too.
func (a *Accounts) written(accountID string) {
	a.mgr.Forget(accountID)
	a.changed(accountID)
}

// account reads one account; a missing one is not_found in the API's words.
func (a *Accounts) account(ctx context.Context, id string) (Account, error) {
	acct, err := a.st.Account(ctx, id)
	if CodeOf(err) == CodeNotFound {
		return acct, notFound("No account has the id " + id + ".")
	}
	return acct, err
}

// load reads an account and its integration with the client secret opened,
// ready for the protocol.
func (a *Accounts) load(ctx context.Context, id string) (Account, Integration, error) {
	acct, err := a.account(ctx, id)
	if err != nil {
		return acct, Integration{}, err
	}
	in, err := a.st.IntegrationWithSecret(ctx, acct.IntegrationID)
	return acct, in, err
}

// randomToken is 256 random bits, base64url: connect links, lease holders.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// detached is ctx without its cancellation and with a short deadline of its
// own, for clean-up that must happen although the caller gave up.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}
