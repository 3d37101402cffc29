package handlers

import (
	"time"

	"airlock/oauthflow"
)

// Console sign-in through the organisation's OpenID Connect provider. The
// protocol (discovery, the code exchange with PKCE, the ID token's checks,
// the groups claim that gives the role) is oauthflow's OIDCSignIn; the HTTP
// side (start, callback, pages) is oidc_signin.go.

// Paths of single sign-on: the sign-in button posts to the start, and the
// provider sends the browser back to the callback, which is the redirect
// URI to register at the provider (<public URL>/auth/oidc/callback).
const (
	OIDCStartPath    = "/auth/oidc/start"
	OIDCCallbackPath = "/auth/oidc/callback"
)

// OIDCConfig is console single sign-on (the AIRLOCK_OIDC_* settings); the
// sign-in client in oauthflow reads it.
type OIDCConfig = oauthflow.OIDCConfig

// oidcFlowTTL is how long a sign-in at the provider may take.
const oidcFlowTTL = 10 * time.Minute
