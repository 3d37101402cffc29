package fakeprovider

import (
	"fmt"
	"slices"
	"time"
)

// TokenCalls is the number of requests the token endpoint received, whatever
// their method, grant or outcome.
func (p *Provider) TokenCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.token
}

// TokenCallsByGrant is the number of token requests whose grant_type was
// grant, whatever their outcome ("" counts those without grant_type).
func (p *Provider) TokenCallsByGrant(grant string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.byGrant[grant]
}

// RefreshCalls is TokenCallsByGrant("refresh_token").
func (p *Provider) RefreshCalls() int { return p.TokenCallsByGrant("refresh_token") }

// APICalls is the number of requests the protected API received, whatever
// their outcome.
func (p *Provider) APICalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.api
}

// RevokeCalls is the number of requests the revocation endpoint received,
// whatever their outcome; Revocations lists the ones that succeeded.
func (p *Provider) RevokeCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.revoke
}

// Revocations lists the tokens revoked through the revocation endpoint, in
// order, unknown tokens included.
func (p *Provider) Revocations() []Revocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revocations)
}

// LastTokenRequest is the last request the token endpoint received (the zero
// value when none).
func (p *Provider) LastTokenRequest() TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tokenReqs) == 0 {
		return TokenRequest{}
	}
	return copyTokenRequest(p.tokenReqs[len(p.tokenReqs)-1])
}

// TokenRequests lists every request the token endpoint received, in order
// (copies, secrets included).
func (p *Provider) TokenRequests() []TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TokenRequest, len(p.tokenReqs))
	for i, tr := range p.tokenReqs {
		out[i] = copyTokenRequest(tr)
	}
	return out
}

// ChainOf is the grant (as in TokenRequest.Chain) an access or refresh
// token belongs to, 0 when the token is unknown.
func (p *Provider) ChainOf(token string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rt := p.refresh[token]; rt != nil {
		return rt.chain.id
	}
	if at := p.access[token]; at != nil {
		return at.chain.id
	}
	return 0
}

// copyTokenRequest is a deep copy, so a test reading it cannot race the server.
func copyTokenRequest(tr TokenRequest) TokenRequest {
	tr.Form = cloneValues(tr.Form)
	tr.Extra = cloneValues(tr.Extra)
	tr.Header = tr.Header.Clone()
	return tr
}

// LastAPIRequest is the last request the protected API received, token
// included (the zero value when none).
func (p *Provider) LastAPIRequest() APIRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.lastAPI
	r.Header = r.Header.Clone()
	r.Query = cloneValues(r.Query)
	return r
}

// InvalidGrants is the number of invalid_grant answers the token endpoint
// gave.
func (p *Provider) InvalidGrants() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.invalidGrants
}

// ChainRevocations is the number of grants revoked whole because a replaced
// refresh token or a used authorization code was presented again (reuse
// detection). A token engine that refreshes one at a time keeps it at 0.
// Revocations through the revocation endpoint and RevokeAll are not counted.
func (p *Provider) ChainRevocations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.chainRevocations
}

// SetAccessTTL changes the lifetime of access tokens issued from now on.
func (p *Provider) SetAccessTTL(d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("fakeprovider: SetAccessTTL(%v): want a positive duration", d))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accessTTL = d
}

// RevokeAll simulates the user revoking the application's access at the
// provider: every token issued so far stops working, refresh tokens get
// invalid_grant and access tokens 401. Tokens issued later work.
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chains {
		c.revoked = true
	}
}

// FailNextToken makes the next n token requests answer status with body
// (e.g. 503, or 200 with an HTML page), before any other check. The content
// type follows the body: JSON for {…}, HTML for <…>, text otherwise. It
// replaces any failure still pending; n <= 0 clears it.
func (p *Provider) FailNextToken(status int, body string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenFail = tokenFailure{status: status, body: body, n: n}
}

// FailNextAPI makes the next n protected API requests answer status, whatever
// their token (a 401 carries WWW-Authenticate error="invalid_token"). It
// replaces any failure still pending; n <= 0 clears it.
func (p *Provider) FailNextAPI(status int, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apiFail = statusFailure{status: status, n: n}
}

// FailNextRevoke makes the next n revocation requests answer status (e.g.
// 503, which RFC 7009 §2.2.1 lets a client retry) without revoking anything.
func (p *Provider) FailNextRevoke(status int, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revokeFail = statusFailure{status: status, n: n}
}

// SetAPIToken says where the protected API looks for the access token: name
// is a header name when in is InHeader ("header"), a query parameter name
// when in is InQuery ("query"). In a header, the value may be the bare token
// or "<scheme> <token>" with any one-word scheme (Bearer, token, Bot …),
// which is stripped; call SetAPITokenPrefix after it to require one prefix.
// Before any call, the API wants "Authorization: Bearer <token>" (RFC 6750).
func (p *Provider) SetAPIToken(name string, in string) {
	if name == "" || (in != InHeader && in != InQuery) {
		panic(fmt.Sprintf("fakeprovider: SetAPIToken(%q, %q): want a name and %q or %q", name, in, InHeader, InQuery))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apiToken = apiTokenConfig{name: name, in: in}
}

// SetAPITokenPrefix makes the API require the token header's value to be
// exactly prefix followed by the token, the prefix compared without regard
// to case as HTTP schemes are: "Bearer ", "token ", or "" for the bare token.
// It has no effect when the token is in the query.
func (p *Provider) SetAPITokenPrefix(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apiToken.prefix = prefix
	p.apiToken.strict = true
}

// SetAPIRedirect makes the API answer requests for path ("users", "/users"
// or "/api/users") with 307 Temporary Redirect to location, before looking
// at the token, as a moved resource or a load balancer would. 307 keeps the
// method and body, so a test sees what a client carries across a redirect.
// An empty location removes the redirect.
func (p *Provider) SetAPIRedirect(path, location string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if location == "" {
		delete(p.redirects, apiPath(path))
		return
	}
	p.redirects[apiPath(path)] = location
}

// IssuedAccessTokens lists every access token issued, in order, for tests
// that search storage and logs for leaked secrets.
func (p *Provider) IssuedAccessTokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issuedAccess)
}

// IssuedRefreshTokens lists every refresh token issued, in order.
func (p *Provider) IssuedRefreshTokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issuedRefresh)
}

// ValidAccessToken reports whether the API would accept tok now: issued by
// this provider, not revoked, not expired by Options.Clock.
func (p *Provider) ValidAccessToken(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok, _ := p.validAccessLocked(tok)
	return ok
}
