// Package oauthflow is Airlock's protocol and domain: integrations, connected
// accounts and their tokens, {param} expansion, the authorization URL with
// state and PKCE, the code / client-credentials / refresh exchanges (GET or
// POST), token-response parsing, revocation, the per-account token manager,
// the outbound request runner and the dial guard — and Accounts, the one
// owner of the account lifecycle and of the cache on the request path.
//
// It imports no web framework and no store: it declares the small interfaces
// it needs (TokenStore, AccountsStore …) and the store satisfies them. Its
// errors carry a code (ErrorOf).
package oauthflow

import "time"

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
)

// Where a token or request parameter goes.
const (
	InHeader = "header"
	InQuery  = "query"
)

// Client authentication at the token endpoint: chosen by the admin, never
// guessed (a wrong guess can burn a one-time authorization code).
const (
	ClientAuthBasic = "basic"
	ClientAuthBody  = "body"
)

// Account statuses.
const (
	StatusPending        = "pending"
	StatusConnected      = "connected"
	StatusNeedsReconnect = "needs_reconnect"
	StatusError          = "error"
	StatusDisconnected   = "disconnected"
)

// Defaults.
const (
	DefaultRefreshWindow = 30 * time.Minute
	DefaultTemplate      = "Bearer {token}"
	DefaultTokenName     = "Authorization"
)

// DefaultRejectedStatuses are the API statuses that mean "token rejected".
var DefaultRejectedStatuses = []int{401, 403}

// AnyOrigin, as the only API base URL, lets the token go to any origin a
// request names. Only an admin may set it; an empty list allows none.
const AnyOrigin = "*"

// Parameter is an integration parameter: a {name} placeholder usable in every
// text input, filled in per connected account.
type Parameter struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// AllowedValues, when set, are the only values an account may give. Only
	// an admin may set or change them: they are how an admin approves the
	// hosts a parameter in the host of a credential destination can reach.
	AllowedValues []string `json:"allowed_values,omitempty"`
}

// OAuth2 is an integration's OAuth 2.0 configuration. Every string may hold
// {param} placeholders.
type OAuth2 struct {
	GrantType            string            `json:"grant_type"`
	AuthorizationURL     string            `json:"authorization_url"`
	TokenURL             string            `json:"token_url"`
	TokenMethod          string            `json:"token_method"` // POST (standard) or GET (non-standard)
	RevokeURL            string            `json:"revoke_url"`
	Scope                string            `json:"scope"`
	ClientID             string            `json:"client_id"`
	ClientSecret         string            `json:"client_secret,omitempty"` // write-only: handlers blank it before any response
	ClientSecretSet      bool              `json:"client_secret_set"`       // read-only: whether a secret is stored
	ClientSecretLast4    string            `json:"-"`                       // for "set, ends in …1234"
	ClientAuth           string            `json:"client_auth"`             // basic or body
	PKCE                 bool              `json:"pkce"`
	AuthorizationParams  map[string]string `json:"authorization_params"`
	TokenParams          map[string]string `json:"token_params"`
	Issuer               string            `json:"issuer"`
	RefreshWindowSeconds int               `json:"refresh_window_seconds"`
	RejectedStatuses     []int             `json:"rejected_statuses"`

	// ScopeOptional says the provider needs no scope parameter: it takes the
	// access from the app's settings in its own console (Notion, Intercom)
	// or in a parameter of its own (Slack's user_scope). Only then may an
	// authorization_code integration leave Scope empty; none is sent.
	ScopeOptional bool `json:"scope_optional,omitempty"`

	// Provider quirks, issue 14 part A: how the token endpoint really behaves.

	// TokenBody is how a POST token request's body is encoded: TokenBodyForm
	// ("" too, RFC 6749) or TokenBodyJSON (Notion and others).
	TokenBody string `json:"token_body,omitempty"`
	// RefreshURL, when set, receives refresh requests instead of TokenURL
	// (Figma). A credential destination like TokenURL.
	RefreshURL string `json:"refresh_url,omitempty"`
	// RefreshParams are sent on refresh requests only, beside TokenParams
	// (which every grant sends); on a clash they win over TokenParams.
	RefreshParams map[string]string `json:"refresh_params,omitempty"`
	// TokenResponse says where a token answer keeps the standard fields.
	TokenResponse TokenResponsePaths `json:"token_response,omitzero"`

	// issue 14 part B: captured values, the userinfo endpoint, identity and
	// required scopes (see capture.go).
	Capture        []Capture `json:"capture,omitempty"`
	UserinfoURL    string    `json:"userinfo_url,omitempty"`
	Identity       *Identity `json:"identity,omitempty"`
	RequiredScopes []string  `json:"required_scopes,omitempty"`
}

// Token request body encodings (OAuth2.TokenBody).
const (
	TokenBodyForm = "form"
	TokenBodyJSON = "json"
)

// Formats of an absolute expiry in a token answer (TokenResponsePaths.ExpiresAtFormat).
const (
	ExpiresAtUnix    = "unix"
	ExpiresAtUnixMS  = "unix_ms"
	ExpiresAtRFC3339 = "rfc3339"
)

// TokenResponsePaths are JSON paths (LookupPath) to the standard fields of a
// token answer, for providers that put them elsewhere (Slack keeps the user
// token at authed_user.access_token). An empty path, or one that finds
// nothing in an answer, means the standard field.
type TokenResponsePaths struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    string `json:"expires_in,omitempty"`
	// ExpiresAt is an absolute expiry; when it finds a value it wins over
	// expires_in.
	ExpiresAt string `json:"expires_at,omitempty"`
	// ExpiresAtFormat is ExpiresAtUnix (default), ExpiresAtUnixMS or ExpiresAtRFC3339.
	ExpiresAtFormat string `json:"expires_at_format,omitempty"`
	Scope           string `json:"scope,omitempty"`
}

// TokenPlacement says how a token is sent: a parameter name, a value template
// containing {token}, in a header or the URL query.
type TokenPlacement struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	In       string `json:"in"`
}

// RequestParameter is added to every request made through an account.
type RequestParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	In    string `json:"in"`
}

// HealthCheck is an optional request that tells whether an account works.
type HealthCheck struct {
	Method       string `json:"method"`
	URL          string `json:"url"`
	ExpectStatus int    `json:"expect_status"`
}

// Integration is a custom OAuth 2.0 integration.
type Integration struct {
	ID   int64  `json:"-"`
	Key  string `json:"key"`
	Name string `json:"name"`
	// Preset is the name of the preset the integration was started from
	// ("" for none): its page shows that preset's setup notes.
	Preset string `json:"preset,omitempty"`
	// AuthType is AuthOAuth2 (default), AuthAPIToken, AuthBasic or
	// AuthCustomToken; OAuth2 is set only for AuthOAuth2.
	AuthType   string      `json:"auth_type,omitempty"`
	Parameters []Parameter `json:"parameters"`
	// CredentialFields are what an account supplies (fixed for api_token
	// and basic, declared for custom_token); CustomToken is custom_token's
	// token request.
	CredentialFields  []CredentialField  `json:"credential_fields,omitempty"`
	CustomToken       *CustomToken       `json:"custom_token,omitempty"`
	OAuth2            OAuth2             `json:"oauth2,omitzero"`
	Token             TokenPlacement     `json:"token"`
	RequestParameters []RequestParameter `json:"request_parameters"`
	APIBaseURLs       []string           `json:"api_base_urls"`
	HealthCheck       *HealthCheck       `json:"health_check"`
	// RejectedResponses, issue 14 part A: API answers that mean "token
	// rejected" although their status is not one of OAuth2.RejectedStatuses
	// (Slack's 200 {"ok":false}); every grant type uses them.
	RejectedResponses []RejectedRule `json:"rejected_responses,omitempty"`
	CreatedAt         time.Time      `json:"-"`
	UpdatedAt         time.Time      `json:"-"`
}

// RefreshWindow is the configured window (default 30 min).
func (in Integration) RefreshWindow() time.Duration {
	if in.Type() == AuthCustomToken {
		return in.customRefreshWindow()
	}
	if in.OAuth2.RefreshWindowSeconds <= 0 {
		return DefaultRefreshWindow
	}
	return time.Duration(in.OAuth2.RefreshWindowSeconds) * time.Second
}

// Warning is something about an account its owner should know.
type Warning struct {
	Code    string `json:"code"` // short_ttl, no_refresh_token, unknown_expiry
	Message string `json:"message"`
}

// Warning codes and their messages.
const (
	WarnShortTTL       = "short_ttl"
	WarnNoRefreshToken = "no_refresh_token"
	WarnUnknownExpiry  = "unknown_expiry"
	// WarnInsufficientScopes: the provider granted fewer scopes than
	// oauth2.required_scopes lists.
	WarnInsufficientScopes = "insufficient_scopes"
)

// Account is one connected account: parameter values for an integration, plus
// (in the store) the tokens obtained with them.
type Account struct {
	ID             string
	IntegrationID  int64
	IntegrationKey string
	Name           string
	Parameters     map[string]string
	Status         string
	ExpiresAt      time.Time // zero: no token or unknown expiry
	// RefreshTokenExpiresAt is when the refresh token dies; zero: unknown or never.
	RefreshTokenExpiresAt time.Time
	Scopes                []string
	HasRefreshToken       bool
	Warnings              []Warning
	LastRefreshedAt       time.Time
	LastError             string
	CreatedAt             time.Time
	UpdatedAt             time.Time
	// Captured are the values oauth2.capture kept from the provider's
	// answers; they fill {name} placeholders like parameters (Values).
	Captured map[string]string
	// Identity is who the account is at the provider, recorded at the first
	// connect ("" until then, or after a reset).
	Identity string
	// CredentialHints mask the account's credentials for display: a
	// secret field's last 4 characters, a plain field's value. The
	// credentials themselves are sealed and read only to be sent.
	CredentialHints map[string]string
}

// Endpoints are the expanded, absolute token and revocation endpoint URLs a
// token set was obtained with. They are recorded with the token set, and its
// refreshes and revocation go there and nowhere else: a later change to the
// account's parameters or the integration's URLs never carries the refresh
// token, the access token or the client secret to another host.
type Endpoints struct {
	// Token is the token endpoint that issued the set (refreshes go there);
	// "" means not recorded, which no refresh ever falls back from.
	Token string
	// Revoke is the revocation endpoint; "" when the integration had none.
	Revoke string
	// Refresh is the refresh endpoint (oauth2.refresh_url) when the
	// integration had one; "" means refreshes go to Token.
	Refresh string
}

// Token is an account's token set. Version increases with every save; a save
// compares it (compare-and-swap) so a token is never overwritten by a refresh
// that started from an older one.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time // zero: the provider gave no expires_in
	// RefreshExpiry is when the refresh token dies (refresh_token_expires_in);
	// zero when the provider did not say.
	RefreshExpiry time.Time
	Scopes        []string
	ObtainedAt    time.Time
	Version       int64
	// RefreshIssuedAt is when the refresh token was issued: the connect, or
	// the refresh that rotated it (zero when unknown: stored before it was
	// kept). Rotations counts its rotations since the connect.
	RefreshIssuedAt time.Time
	Rotations       int
	// Endpoints are where the set was obtained, for its refresh and revocation.
	Endpoints Endpoints
	// Answer is the decoded token answer, read for captures and identity;
	// never stored.
	Answer map[string]any
}

// Lifetime is how long the token was valid when obtained (0 when unknown).
func (t Token) Lifetime() time.Duration {
	if t.Expiry.IsZero() || t.ObtainedAt.IsZero() {
		return 0
	}
	return t.Expiry.Sub(t.ObtainedAt)
}
