package fakeprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"time"
)

// chain is one grant: everything issued from one authorization code or one
// client-credentials request. Revoking it kills all of its tokens at once, as
// real servers do on reuse detection.
type chain struct {
	id      int // 1, 2 … in the order grants were made
	revoked bool
}

type accessToken struct {
	chain   *chain
	expires time.Time
	revoked bool
	scope   string
}

type refreshToken struct {
	chain    *chain
	replaced bool // rotated away: presenting it again is reuse
	// replacedAt is when it was rotated away (Options.ReuseGrace).
	replacedAt time.Time
	scope      string
}

type authCode struct {
	req     authRequest
	expires time.Time
	used    bool
	chain   *chain // set when exchanged, to revoke on reuse (RFC 6749 §4.1.2)
}

// issued is what a successful grant hands out.
type issued struct {
	access  string
	refresh string // empty: none in this answer
	scope   string
	ttl     time.Duration
}

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status int
	code   string
	desc   string
}

func invalidGrant(desc string) *oauthError {
	return &oauthError{status: 400, code: "invalid_grant", desc: desc}
}

func (p *Provider) newChainLocked() *chain {
	c := &chain{id: len(p.chains) + 1}
	p.chains = append(p.chains, c)
	return c
}

// issueLocked mints an access token (and a refresh token when asked) in c.
func (p *Provider) issueLocked(c *chain, scope string, withRefresh bool) issued {
	out := issued{access: randomValue("at"), scope: scope, ttl: p.accessTTL}
	p.access[out.access] = &accessToken{chain: c, expires: p.now().Add(p.accessTTL), scope: scope}
	p.issuedAccess = append(p.issuedAccess, out.access)
	if withRefresh {
		out.refresh = randomValue("rt")
		p.refresh[out.refresh] = &refreshToken{chain: c, scope: scope}
		p.issuedRefresh = append(p.issuedRefresh, out.refresh)
	}
	return out
}

// validAccessLocked reports whether tok is known, unrevoked and unexpired,
// and if not, why (for error_description).
func (p *Provider) validAccessLocked(tok string) (bool, string) {
	at := p.access[tok]
	switch {
	case at == nil:
		return false, "The access token is unknown"
	case at.revoked || at.chain.revoked:
		return false, "The access token was revoked"
	case !p.now().Before(at.expires):
		return false, "The access token expired"
	}
	return true, ""
}

// exchangeCodeLocked is the authorization_code grant for the authenticated
// client. A presented code is spent whatever the outcome, as on real servers.
func (p *Provider) exchangeCodeLocked(form url.Values) (issued, *oauthError) {
	code := p.codes[form.Get("code")]
	switch {
	case form.Get("code") == "":
		return issued{}, &oauthError{400, "invalid_request", "Missing parameter: code"}
	case code == nil:
		return issued{}, invalidGrant("The authorization code is unknown")
	case code.used:
		if code.chain != nil && !code.chain.revoked {
			code.chain.revoked = true
			p.counts.chainRevocations++
		}
		return issued{}, invalidGrant("The authorization code was already used")
	}
	code.used = true
	if !p.now().Before(code.expires) {
		return issued{}, invalidGrant("The authorization code expired")
	}
	if form.Get("redirect_uri") != code.req.redirectURI {
		return issued{}, invalidGrant("The redirect_uri does not match the authorization request")
	}
	if e := p.checkVerifier(code.req, form); e != nil {
		return issued{}, e
	}
	code.chain = p.newChainLocked()
	return p.issueLocked(code.chain, p.grantedScope(code.req.scope), !p.opts.NoRefreshToken), nil
}

// checkVerifier applies RFC 7636 §4.6, and refuses a verifier sent for a
// code that had no challenge (PKCE downgrade, RFC 9700 §2.1.1).
func (p *Provider) checkVerifier(req authRequest, form url.Values) *oauthError {
	verifier, sent := form.Get("code_verifier"), form.Has("code_verifier")
	switch {
	case req.challenge == "" && sent:
		return invalidGrant("A code_verifier was sent but the authorization request had no code_challenge")
	case req.challenge == "" && p.opts.RequirePKCE:
		return invalidGrant("PKCE is required: the authorization request had no code_challenge")
	case req.challenge == "":
		return nil
	case verifier == "":
		return invalidGrant("Missing code_verifier: the authorization request had a code_challenge")
	case !validPKCEValue(verifier):
		return invalidGrant("The code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
	}
	if transform(req.method, verifier) != req.challenge {
		return invalidGrant("PKCE verification failed: the code_verifier does not match the code_challenge")
	}
	return nil
}

func transform(method, verifier string) string {
	if method == "plain" {
		return verifier
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validPKCEValue checks the verifier and challenge syntax of RFC 7636 §4.1.
func validPKCEValue(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-._~", r)
		if !ok {
			return false
		}
	}
	return true
}

// refreshLocked is the refresh_token grant, with rotation and reuse detection.
func (p *Provider) refreshLocked(form url.Values) (issued, *oauthError) {
	tok := form.Get("refresh_token")
	rt := p.refresh[tok]
	switch {
	case tok == "":
		return issued{}, &oauthError{400, "invalid_request", "Missing parameter: refresh_token"}
	case rt == nil:
		return issued{}, invalidGrant("The refresh token is unknown")
	case rt.chain.revoked:
		return issued{}, invalidGrant("The refresh token was revoked")
	case rt.replaced && p.opts.ReuseGrace > 0 && p.now().Sub(rt.replacedAt) <= p.opts.ReuseGrace:
		// within the grace period: accepted again
	case rt.replaced:
		rt.chain.revoked = true
		p.counts.chainRevocations++
		return issued{}, invalidGrant("The refresh token was already used: every token of this grant is revoked")
	}
	scope := rt.scope
	if s := form.Get("scope"); s != "" {
		if !scopeSubset(s, rt.scope) {
			return issued{}, &oauthError{400, "invalid_scope", "The requested scope exceeds the scope originally granted"}
		}
		scope = s
	}
	if p.opts.RotateRefreshTokens && !rt.replaced {
		rt.replaced, rt.replacedAt = true, p.now()
	}
	// Without rotation the answer carries no refresh_token, as Google's does:
	// the client must keep the one it has (RFC 6749 §6).
	return p.issueLocked(rt.chain, scope, p.opts.RotateRefreshTokens), nil
}

// clientCredentialsLocked issues an access token and, as RFC 6749 §4.4.3
// advises, no refresh token.
func (p *Provider) clientCredentialsLocked(form url.Values) (issued, *oauthError) {
	return p.issueLocked(p.newChainLocked(), p.grantedScope(form.Get("scope")), false), nil
}

func (p *Provider) grantedScope(requested string) string {
	if p.opts.Scope != "" {
		return p.opts.Scope
	}
	return requested
}

func scopeSubset(requested, granted string) bool {
	have := strings.Fields(granted)
	for _, s := range strings.Fields(requested) {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// revokeLocked is RFC 7009: an access token alone, or a refresh token with
// its whole chain. Unknown tokens are ignored.
func (p *Provider) revokeLocked(tok string) {
	if at := p.access[tok]; at != nil {
		at.revoked = true
	}
	if rt := p.refresh[tok]; rt != nil {
		rt.chain.revoked = true
	}
}

// burnCodeLocked spends a code presented in a request that failed before the
// grant was looked at (client authentication): real servers do, which is why
// guessing the authentication method by trial loses the code
// (golang/oauth2 #373).
func (p *Provider) burnCodeLocked(code string) {
	if c := p.codes[code]; c != nil {
		c.used = true
	}
}
