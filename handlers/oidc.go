package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"airlock/store"
)

// Console sign-in through the organisation's OpenID Connect provider: the
// provider's discovery, the code exchange with PKCE, the ID token's checks
// (signature against the provider's published keys, issuer, audience,
// expiry, nonce) and the groups claim that gives the role. The HTTP side
// (start, callback, pages) is oidc_signin.go.

// Paths of single sign-on: the sign-in button posts to the start, and the
// provider sends the browser back to the callback, which is the redirect
// URI to register at the provider (<public URL>/auth/oidc/callback).
const (
	OIDCStartPath    = "/auth/oidc/start"
	OIDCCallbackPath = "/auth/oidc/callback"
)

// OIDCConfig is console single sign-on (the AIRLOCK_OIDC_* settings).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Name         string // the button says "Sign in with <Name>"
	Scopes       []string
	RoleClaim    string // claim holding the groups: a string or a list of strings
	// Groups whose members get each role; the highest matching role wins.
	AdminGroups   []string
	BuilderGroups []string
	ViewerGroups  []string
}

// Enabled reports whether single sign-on is configured.
func (o OIDCConfig) Enabled() bool { return o.Issuer != "" }

// RoleFor is the highest role any of the groups gives, or "" when none does.
func (o OIDCConfig) RoleFor(groups []string) string {
	for _, r := range []struct {
		role   string
		groups []string
	}{{store.RoleAdmin, o.AdminGroups}, {store.RoleBuilder, o.BuilderGroups}, {store.RoleViewer, o.ViewerGroups}} {
		for _, g := range groups {
			if slices.Contains(r.groups, g) {
				return r.role
			}
		}
	}
	return ""
}

// oidcFlowTTL is how long a sign-in at the provider may take.
const oidcFlowTTL = 10 * time.Minute

// ssoError is a single sign-on that cannot go on: the page a person sees
// (status, title, message) and, for the log, what went wrong.
type ssoError struct {
	status int
	title  string
	msg    string
	err    error
}

func (e *ssoError) Error() string {
	if e.err != nil {
		return e.title + ": " + e.err.Error()
	}
	return e.title
}

func (e *ssoError) Unwrap() error { return e.err }

// oidcClient talks to the identity provider. Discovery runs at the first
// sign-in, not at start-up, so that Airlock starts while the provider is
// down; once it succeeded its answer is kept for the process's life (the
// provider's keys are fetched again whenever a token names an unknown one).
type oidcClient struct {
	cfg      OIDCConfig
	http     *http.Client
	redirect string
	now      func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
}

// ctx carries the client to go-oidc and x/oauth2, which take it from there.
func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.http)
}

// discover returns the provider, reading its discovery document the first time.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) {
		return nil, &ssoError{status: http.StatusBadGateway, title: "Single sign-on is misconfigured",
			msg: fmt.Sprintf("The identity provider says its issuer is %s, not %s. An admin should set AIRLOCK_OIDC_ISSUER to exactly %s.", mismatch.Discovered, mismatch.Provided, mismatch.Discovered),
			err: err}
	}
	if err != nil {
		return nil, &ssoError{status: http.StatusBadGateway, title: "The identity provider could not be reached",
			msg: fmt.Sprintf("Airlock could not read the discovery document of %s (AIRLOCK_OIDC_ISSUER). Try again in a moment; if it keeps failing, an admin should check that the issuer URL is exactly the provider's issuer.", o.cfg.Issuer),
			err: err}
	}
	o.provider = p
	return p, nil
}

func (o *oidcClient) oauthConfig(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.redirect, Scopes: o.cfg.Scopes}
}

// authURL is where the start sends the browser: the provider's consent
// page with this flow's state, nonce and PKCE challenge.
func (o *oidcClient) authURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return o.oauthConfig(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// ssoLogin is who a verified callback says signed in.
type ssoLogin struct {
	Subject string
	Email   string
	Groups  []string
	// ClaimFound says whether the role claim was in the ID token or userinfo.
	ClaimFound bool
}

// exchange trades the callback's code for tokens and checks the ID token.
func (o *oidcClient) exchange(ctx context.Context, code string, f store.OIDCFlow) (ssoLogin, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return ssoLogin{}, err
	}
	ctx = o.ctx(ctx)
	tok, err := o.oauthConfig(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return ssoLogin{}, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return ssoLogin{}, &ssoError{status: http.StatusBadGateway, title: "The identity provider sent no ID token",
			msg: "Its token endpoint answered without an id_token. An admin should check that AIRLOCK_OIDC_SCOPES includes openid and that the client is an OpenID Connect client."}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}).Verify(ctx, raw)
	if err != nil {
		return ssoLogin{}, tokenRefused(err)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return ssoLogin{}, tokenRefused(err)
	}
	if err := o.checkToken(idt, claims, f, tok.AccessToken); err != nil {
		return ssoLogin{}, err
	}
	return o.login(ctx, p, idt.Subject, claims, tok)
}

// checkToken adds the checks go-oidc leaves to its caller: the nonce of
// this flow, the authorized party when there are several audiences, and
// the access token's hash when the ID token carries one.
func (o *oidcClient) checkToken(idt *oidc.IDToken, claims map[string]any, f store.OIDCFlow, accessToken string) error {
	if !f.NonceMatches(idt.Nonce) {
		return &ssoError{status: http.StatusUnauthorized, title: "The sign-in could not be verified",
			msg: "The identity provider's ID token does not carry the nonce of this sign-in, so it may be a replayed answer. Sign in again.",
			err: errors.New("nonce mismatch")}
	}
	if azp, _ := claims["azp"].(string); len(idt.Audience) > 1 && azp != o.cfg.ClientID {
		return tokenRefused(fmt.Errorf("the ID token has several audiences and its authorized party is %q, not the client id", azp))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return tokenRefused(err)
		}
	}
	return nil
}

// login reads the email and the groups from the ID token, asking the
// userinfo endpoint for the groups when the token has none.
func (o *oidcClient) login(ctx context.Context, p *oidc.Provider, sub string, claims map[string]any, tok *oauth2.Token) (ssoLogin, error) {
	l := ssoLogin{Subject: sub, Email: firstString(claims, "email", "preferred_username")}
	v, found := lookupClaim(claims, o.cfg.RoleClaim)
	if !found && p.UserInfoEndpoint() != "" {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return ssoLogin{}, &ssoError{status: http.StatusBadGateway, title: "The identity provider's userinfo failed",
				msg: "Airlock asked the provider's userinfo endpoint for your groups, and it did not answer. Try again in a moment.", err: err}
		}
		if ui.Subject != sub { // OpenID Connect Core 5.3.2: never trust userinfo for another subject
			return ssoLogin{}, tokenRefused(fmt.Errorf("userinfo answered for subject %q, the ID token is for %q", ui.Subject, sub))
		}
		uc := map[string]any{}
		if err := ui.Claims(&uc); err != nil {
			return ssoLogin{}, tokenRefused(err)
		}
		v, found = lookupClaim(uc, o.cfg.RoleClaim)
		if l.Email == "" {
			l.Email = firstString(uc, "email", "preferred_username")
		}
	}
	groups, ok := claimStrings(v)
	if found && !ok {
		return ssoLogin{}, &ssoError{status: http.StatusForbidden, title: "Your groups could not be read",
			msg: fmt.Sprintf("The identity provider's %q claim is neither a string nor a list of strings. An admin should point AIRLOCK_OIDC_ROLE_CLAIM at the claim holding your groups.", o.cfg.RoleClaim)}
	}
	if l.Email == "" {
		l.Email = sub
	}
	l.Groups, l.ClaimFound = groups, found
	return l, nil
}

// lookupClaim finds a claim by its name, or else by a dotted path into
// objects (realm_access.roles): names may hold dots themselves
// (https://example.com/groups), so the whole name is tried first.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimStrings reads a string or a list of strings; ok is false for any
// other shape (a missing claim, nil, is an empty list).
func claimStrings(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func firstString(claims map[string]any, names ...string) string {
	for _, n := range names {
		if s, _ := claims[n].(string); strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// exchangeError words a failed code exchange: refused by the provider, or
// the provider not reached.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		return &ssoError{status: http.StatusBadGateway, title: "The identity provider refused the sign-in",
			msg: fmt.Sprintf("Its token endpoint answered %s to the code exchange. Sign in again; if it keeps failing, an admin should check AIRLOCK_OIDC_CLIENT_ID and AIRLOCK_OIDC_CLIENT_SECRET against the provider's client.", code),
			err: err}
	}
	return &ssoError{status: http.StatusBadGateway, title: "The identity provider could not be reached",
		msg: "Airlock could not reach the provider's token endpoint. Try again in a moment.", err: err}
}

// tokenRefused is an ID token that failed a check: the page names the check
// (go-oidc's words: issuer, audience, signature …) but never the token.
func tokenRefused(err error) error {
	msg := fmt.Sprintf("The identity provider's ID token was refused: %v. Sign in again; if it keeps failing, an admin should check AIRLOCK_OIDC_ISSUER and AIRLOCK_OIDC_CLIENT_ID against the provider's settings.", err)
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		msg = "The identity provider's ID token had already expired when it arrived. Sign in again; if it keeps happening, the clocks of Airlock's server and the provider disagree."
	}
	return &ssoError{status: http.StatusUnauthorized, title: "The sign-in could not be verified", msg: msg, err: err}
}
