// Package handlers is Airlock's HTTP layer: the one route table, the middleware,
// and one file per resource. A handler parses the request, makes one call into
// the accounts service (oauthflow.Accounts) or a plain read from the store,
// and renders; errors go to the one HTTPErrorHandler, which maps their code to
// a status. Handlers never build SQL, decide lifecycle steps or touch a cache
// of accounts.
package handlers

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/static"
	"airlock/store"
	"airlock/views"
)

// Config is the part of the server configuration the HTTP layer needs.
type Config struct {
	PublicURL      *url.URL
	Realm          string
	Org            string
	Development    bool
	TrustedProxies []netip.Prefix
	// NoAccessLog drops the one log line per request (AIRLOCK_ACCESS_LOG=false);
	// failures are still logged by the error handler.
	NoAccessLog bool
	// OIDC is console single sign-on (off when its issuer is empty).
	OIDC OIDCConfig
	// NoPasswordSignIn is AIRLOCK_PASSWORD_SIGNIN=false: only single sign-on
	// and break-glass users (airlock user create --local) sign in.
	NoPasswordSignIn bool
}

// CallbackPath is the realm callback every authorization-code flow returns to.
const CallbackPath = "/internal/sessions/v1/auth/callback"

// Deps are the handler's collaborators, built in main.
type Deps struct {
	Config   Config
	Store    *store.Store
	Sessions *store.SessionStore
	Logger   *slog.Logger
	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time
	// Manager hands out (and refreshes) account tokens.
	Manager *oauthflow.Manager
	// Tokens talks to token and revocation endpoints.
	Tokens *oauthflow.Client
	// APIClient sends requests to integrations' APIs (dial guard, timeouts,
	// same-origin redirects only); the handler builds its runner on it.
	APIClient *http.Client
	// MaxResponse caps the API response kept (0: 1 MiB).
	MaxResponse int64
	// Activity batches activity rows off the request path.
	Activity *store.ActivityLog
	// Metrics are the Prometheus series (nil: none).
	Metrics *Metrics
	// WebhookClient sends alert webhooks (dial guard, no redirects).
	WebhookClient *http.Client
	// OIDCClient talks to the identity provider of single sign-on (nil:
	// one with default timeouts). The provider is the operator's setting,
	// not a builder's, so it is not held to the dial guard.
	OIDCClient *http.Client
	// WebhookBackoff is the first retry delay, doubled each time (0: 1 s).
	WebhookBackoff time.Duration
	// WebhookPoll is how often due deliveries are looked for (0: 1 s).
	WebhookPoll time.Duration
	// PasswordParams sets argon2id's cost; zero means store.DefaultPasswordParams
	// (tests pass a cheap setting).
	PasswordParams store.PasswordParams
	// PasswordSlots is how many password checks run at once (0: one per
	// CPU); PasswordWait how long a check waits for a slot before the
	// request is answered 503 (0: 3 s).
	PasswordSlots int
	PasswordWait  time.Duration
}

// Handler holds the dependencies every route shares.
type Handler struct {
	cfg      Config
	store    *store.Store
	sessions *store.SessionStore
	log      *slog.Logger
	now      func() time.Time
	assets   string
	cop      *http.CrossOriginProtection
	keys     keyCache
	// accounts owns the account lifecycle; every account action goes there.
	accounts *oauthflow.Accounts
	activity *store.ActivityLog
	pwParams store.PasswordParams
	// passwords bounds the argon2id checks in flight.
	passwords *passwordGate
	// codeChecks counts setup codes compared (the rate-limit tests count them).
	codeChecks atomic.Int64
	// oidc is single sign-on's client (nil when it is off).
	oidc *oauthflow.OIDCSignIn
	// public is the routes the public listener serves (PublicHandler).
	public map[string]bool

	metrics        *Metrics
	webhookHTTP    *http.Client
	webhookBackoff time.Duration
	webhookPoll    time.Duration
	// dummyHash is verified against when an email is unknown, so a sign-in
	// costs the same whether or not the account exists.
	dummyHash string
	// routePerms records the permission of every route (for tests and docs).
	routePerms map[string]perm
	// openapi is the API reference document, served as is; apiRef is the
	// console's view of it.
	openapi []byte
	apiRef  views.APIRefView
}

// New builds the handler and its router.
func New(d Deps) (*Handler, *echo.Echo) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	h := &Handler{
		cfg:       d.Config,
		store:     d.Store,
		sessions:  d.Sessions,
		log:       d.Logger,
		now:       now,
		assets:    static.Version(),
		cop:       http.NewCrossOriginProtection(),
		pwParams:  d.PasswordParams,
		passwords: newPasswordGate(d.PasswordSlots, d.PasswordWait),
		activity:  d.Activity,

		metrics:        d.Metrics,
		webhookHTTP:    d.WebhookClient,
		webhookBackoff: d.WebhookBackoff,
		webhookPoll:    d.WebhookPoll,

		routePerms: map[string]perm{},
	}
	runner := oauthflow.NewRunner(oauthflow.RunnerOptions{Manager: d.Manager, HTTP: d.APIClient, MaxBody: d.MaxResponse,
		Record: d.Activity.Request, Observe: h.metrics.observeRequest})
	h.accounts = oauthflow.NewAccounts(oauthflow.AccountsOptions{Store: d.Store, Manager: d.Manager, Client: d.Tokens, Runner: runner,
		CallbackURL: h.CallbackURL(), PublicURL: d.Config.PublicURL.String(), Realm: d.Config.Realm, Now: now, Log: d.Logger,
		Record: d.Activity.Event})
	if h.webhookBackoff <= 0 {
		h.webhookBackoff = time.Second
	}
	if h.webhookPoll <= 0 {
		h.webhookPoll = time.Second
	}
	if h.pwParams == (store.PasswordParams{}) {
		h.pwParams = store.DefaultPasswordParams
	}
	h.dummyHash = store.DummyPasswordHash(h.pwParams)
	if h.cfg.OIDC.Enabled() {
		hc := d.OIDCClient
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		h.oidc = oauthflow.NewOIDCSignIn(h.cfg.OIDC, hc, h.cfg.PublicURL.String()+OIDCCallbackPath, now)
	}
	h.loadOpenAPI()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError
	h.routes(e)
	return h, e
}

// CallbackURL is this deployment's redirect URI: the public URL plus the realm
// callback path. Providers must list it exactly.
func (h *Handler) CallbackURL() string {
	return h.cfg.PublicURL.String() + CallbackPath
}
