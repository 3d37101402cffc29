package oauthflow

import (
	"context"
	"errors"
	"time"
)

// What the Accounts service needs from persistence, in small interfaces the
// store satisfies. Every method is a short transaction: none is held across
// a call to a provider.

// Refusals of a pending flow and a connect link (the store's are these).
var (
	ErrFlowUsed         = errors.New("this sign-in was already completed or abandoned")
	ErrFlowOtherSession = errors.New("this sign-in was started in another browser session")
	ErrFlowExpired      = errors.New("this sign-in took too long and expired")
	ErrLinkSpent        = errors.New("this connect link was already used")
	ErrLinkInUse        = errors.New("this connect link is being used in another browser right now")
	// ErrKeyInUse refuses a new key for an integration that accounts use.
	ErrKeyInUse = errors.New("the key cannot change while accounts use this integration")
)

// Flow is an authorization-code flow between the redirect to the provider
// and the callback. The state itself is never stored, only its hash.
type Flow struct {
	StateHash     string
	SessionHash   string // the browser session that started it
	AccountID     string
	IntegrationID int64
	Verifier      string // PKCE verifier (sealed at rest)
	RedirectURI   string
	TokenURL      string // the token endpoint resolved at the start; the callback exchanges there
	Realm         string
	ConnectLink   string // hash of the connect link that started it, if any
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// ConnectLink lets someone who is not a console user connect one account.
type ConnectLink struct {
	TokenHash string
	AccountID string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   time.Time
}

// AccountStore keeps accounts. A missing one is ErrNotFound.
type AccountStore interface {
	// Account reads one account with its token's metadata.
	Account(ctx context.Context, id string) (Account, error)
	// AddAccount stores a new account (pending unless its status is set).
	AddAccount(ctx context.Context, a Account) (Account, error)
	// SetAccountValues renames an account and sets its parameter values;
	// changed values mark it needs_reconnect and keep its tokens.
	SetAccountValues(ctx context.Context, id, name string, params map[string]string) (Account, error)
	// ResetAccountValues does the same and deletes its tokens (revoked, or
	// not, before), recording detail as the disconnection's activity.
	ResetAccountValues(ctx context.Context, id, name string, params map[string]string, revoked bool, detail, actor string) (Account, error)
	SetAccountStatus(ctx context.Context, id, status, lastError string) error
	// RecordConnectCancelled records, as activity only, a connect declined
	// at the provider: the account's status and last error stay as they are.
	RecordConnectCancelled(ctx context.Context, id, detail, actor string) error
	// SetAccountError records an error without changing the status.
	SetAccountError(ctx context.Context, id, msg string) error
	SetAccountHealth(ctx context.Context, id, health, detail string) error
	// DisconnectAccount deletes the account's tokens and records how.
	DisconnectAccount(ctx context.Context, id string, revoked bool, detail, actor string) error
	DeleteAccount(ctx context.Context, id string) error
	// IntegrationAccounts pages through an integration's accounts.
	IntegrationAccounts(ctx context.Context, integrationID int64, limit int, cursor string) ([]Account, string, error)
	// AccountParameterSets are the distinct values of an integration's accounts.
	AccountParameterSets(ctx context.Context, integrationID int64) ([]map[string]string, error)
	CountAccounts(ctx context.Context, integrationID int64) (int, error)
	// ResetIdentity forgets the account's recorded identity.
	ResetIdentity(ctx context.Context, id string) error
	// SetAccountCredentials replaces the account's credentials (sealed) and
	// their display hints; AccountCredentials opens them.
	SetAccountCredentials(ctx context.Context, id string, creds, hints map[string]string, actor string) error
	AccountCredentials(ctx context.Context, id string) (map[string]string, error)
	// RecoverAccount brings an account in status error back to connected
	// (its failure alerts close); any other status is left alone.
	RecoverAccount(ctx context.Context, id string) error
}

// IntegrationStore keeps integrations; the client secret is sealed at rest
// and opened only by IntegrationWithSecret and IntegrationSecret.
type IntegrationStore interface {
	GetIntegration(ctx context.Context, key string) (Integration, error)
	GetIntegrationByID(ctx context.Context, id int64) (Integration, error)
	IntegrationWithSecret(ctx context.Context, id int64) (Integration, error)
	IntegrationSecret(ctx context.Context, id int64) (string, error)
	// CreateIntegration: a taken key is ErrConflict.
	CreateIntegration(ctx context.Context, in Integration) (Integration, error)
	// UpdateIntegration replaces the integration oldKey names: a taken key is
	// ErrConflict, a new key while accounts use it ErrKeyInUse; a blank
	// client secret keeps the stored one.
	UpdateIntegration(ctx context.Context, oldKey string, in Integration) (Integration, error)
	// DeleteIntegration removes it with its accounts and says how many went.
	DeleteIntegration(ctx context.Context, key string) (int, error)
}

// FlowStore keeps pending authorization-code flows.
type FlowStore interface {
	CreateFlow(ctx context.Context, state string, f Flow) error
	// TakeFlow marks the state's flow used and returns it, once:
	// ErrNotFound, ErrFlowOtherSession (the flow stays), ErrFlowUsed or
	// ErrFlowExpired otherwise.
	TakeFlow(ctx context.Context, state, sessionHash string) (Flow, error)
}

// LinkStore keeps connect links, by the hash of their token.
type LinkStore interface {
	CreateConnectLink(ctx context.Context, token, accountID, createdBy string, ttl time.Duration) (ConnectLink, error)
	// GetConnectLink finds a live link: ErrNotFound or ErrLinkSpent.
	GetConnectLink(ctx context.Context, token string) (ConnectLink, error)
	// ClaimConnectLink reserves an unspent link for one code exchange:
	// ErrLinkSpent, ErrLinkInUse or ErrNotFound when it is not taken.
	ClaimConnectLink(ctx context.Context, tokenHash, holder string, ttl time.Duration) error
	ReleaseConnectLink(ctx context.Context, tokenHash, holder string) error
	// SpendConnectLinks spends every link of a connected account.
	SpendConnectLinks(ctx context.Context, accountID string) error
}

// AccountsStore is everything the Accounts service stores.
type AccountsStore interface {
	TokenStore
	AccountStore
	IntegrationStore
	FlowStore
	LinkStore
}
