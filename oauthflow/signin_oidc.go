package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Console sign-in through the organisation's OpenID Connect provider: the
// provider's discovery, the code exchange with PKCE, the ID token's checks
// (signature against the provider's published keys, issuer, audience,
// expiry, nonce) and the groups claim that gives the role. The HTTP side
// (start, callback, pages) and the pending flow in the database belong to
// the handlers; this file decides who signed in.

// Console roles, from least to most allowed (the store's users table
// keeps them); a sign-in maps the provider's groups onto them.
const (
	RoleViewer  = "viewer"
	RoleBuilder = "builder"
	RoleAdmin   = "admin"
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

// RoleGroups is each role with the groups that give it, highest role first.
func (o OIDCConfig) RoleGroups() []RoleGroup {
	return []RoleGroup{{RoleAdmin, o.AdminGroups}, {RoleBuilder, o.BuilderGroups}, {RoleViewer, o.ViewerGroups}}
}

// RoleGroup is a role and the groups whose members get it.
type RoleGroup struct {
	Role   string
	Groups []string
}

// RoleFor is the highest role any of the groups gives, or "" when none does.
func (o OIDCConfig) RoleFor(groups []string) string {
	for _, r := range o.RoleGroups() {
		for _, g := range groups {
			if slices.Contains(r.Groups, g) {
				return r.Role
			}
		}
	}
	return ""
}

// OIDCLogin is who a verified callback says signed in.
type OIDCLogin struct {
	Subject string
	Email   string
	Groups  []string
	// ClaimFound says whether the role claim was in the ID token or userinfo.
	ClaimFound bool
}

// OIDCSignIn talks to the identity provider. Discovery runs at the first
// sign-in, not at start-up, so that Airlock starts while the provider is
// down; once it succeeded its answer is kept for the process's life (the
// provider's keys are fetched again whenever a token names an unknown one).
// It is safe for concurrent use.
type OIDCSignIn struct {
	cfg      OIDCConfig
	http     *http.Client
	redirect string
	now      func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDCSignIn is the sign-in client of cfg: hc reaches the provider,
// redirectURI is the callback registered there, now is the clock the ID
// token's expiry is checked against.
func NewOIDCSignIn(cfg OIDCConfig, hc *http.Client, redirectURI string, now func() time.Time) *OIDCSignIn {
	return &OIDCSignIn{cfg: cfg, http: hc, redirect: redirectURI, now: now}
}

// ctx carries the client to go-oidc and x/oauth2, which take it from there.
func (o *OIDCSignIn) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.http)
}

// discover returns the provider, reading its discovery document the first time.
func (o *OIDCSignIn) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) {
		return nil, &Error{Code: CodeUpstreamUnreachable, Title: "Single sign-on is misconfigured",
			Message: fmt.Sprintf("The identity provider says its issuer is %s, not %s. An admin should set AIRLOCK_OIDC_ISSUER to exactly %s.", mismatch.Discovered, mismatch.Provided, mismatch.Discovered),
			Err:     err}
	}
	if err != nil {
		return nil, &Error{Code: CodeUpstreamUnreachable, Title: "The identity provider could not be reached",
			Message: fmt.Sprintf("Airlock could not read the discovery document of %s (AIRLOCK_OIDC_ISSUER). Try again in a moment; if it keeps failing, an admin should check that the issuer URL is exactly the provider's issuer.", o.cfg.Issuer),
			Err:     err}
	}
	o.provider = p
	return p, nil
}

func (o *OIDCSignIn) oauthConfig(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.redirect, Scopes: o.cfg.Scopes}
}

// AuthURL is where a sign-in's start sends the browser: the provider's
// consent page with this flow's state, nonce and PKCE challenge.
func (o *OIDCSignIn) AuthURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	return o.oauthConfig(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Exchange trades the callback's code for tokens with the flow's PKCE
// verifier and checks the ID token; nonceMatches says whether a nonce is the
// one the flow sent (the flow keeps only its hash). Its errors are *Error
// with a title, for a page of their own.
func (o *OIDCSignIn) Exchange(ctx context.Context, code, verifier string, nonceMatches func(string) bool) (OIDCLogin, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return OIDCLogin{}, err
	}
	ctx = o.ctx(ctx)
	tok, err := o.oauthConfig(p).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return OIDCLogin{}, oidcExchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return OIDCLogin{}, &Error{Code: CodeUpstreamUnreachable, Title: "The identity provider sent no ID token",
			Message: "Its token endpoint answered without an id_token. An admin should check that AIRLOCK_OIDC_SCOPES includes openid and that the client is an OpenID Connect client."}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}).Verify(ctx, raw)
	if err != nil {
		return OIDCLogin{}, idTokenRefused(err)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return OIDCLogin{}, idTokenRefused(err)
	}
	if err := o.checkToken(idt, claims, nonceMatches, tok.AccessToken); err != nil {
		return OIDCLogin{}, err
	}
	return o.login(ctx, p, idt.Subject, claims, tok)
}

// checkToken adds the checks go-oidc leaves to its caller: the nonce of
// this flow, the authorized party when there are several audiences, and
// the access token's hash when the ID token carries one.
func (o *OIDCSignIn) checkToken(idt *oidc.IDToken, claims map[string]any, nonceMatches func(string) bool, accessToken string) error {
	if !nonceMatches(idt.Nonce) {
		return &Error{Code: CodeUnauthorized, Title: "The sign-in could not be verified",
			Message: "The identity provider's ID token does not carry the nonce of this sign-in, so it may be a replayed answer. Sign in again.",
			Err:     errors.New("nonce mismatch")}
	}
	if azp, _ := claims["azp"].(string); len(idt.Audience) > 1 && azp != o.cfg.ClientID {
		return idTokenRefused(fmt.Errorf("the ID token has several audiences and its authorized party is %q, not the client id", azp))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return idTokenRefused(err)
		}
	}
	return nil
}

// login reads the email and the groups from the ID token, asking the
// userinfo endpoint for the groups when the token has none.
func (o *OIDCSignIn) login(ctx context.Context, p *oidc.Provider, sub string, claims map[string]any, tok *oauth2.Token) (OIDCLogin, error) {
	l := OIDCLogin{Subject: sub, Email: firstClaim(claims, "email", "preferred_username")}
	v, found := lookupClaim(claims, o.cfg.RoleClaim)
	if !found && p.UserInfoEndpoint() != "" {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return OIDCLogin{}, &Error{Code: CodeUpstreamUnreachable, Title: "The identity provider's userinfo failed",
				Message: "Airlock asked the provider's userinfo endpoint for your groups, and it did not answer. Try again in a moment.", Err: err}
		}
		if ui.Subject != sub { // OpenID Connect Core 5.3.2: never trust userinfo for another subject
			return OIDCLogin{}, idTokenRefused(fmt.Errorf("userinfo answered for subject %q, the ID token is for %q", ui.Subject, sub))
		}
		uc := map[string]any{}
		if err := ui.Claims(&uc); err != nil {
			return OIDCLogin{}, idTokenRefused(err)
		}
		v, found = lookupClaim(uc, o.cfg.RoleClaim)
		if l.Email == "" {
			l.Email = firstClaim(uc, "email", "preferred_username")
		}
	}
	groups, ok := claimStrings(v)
	if found && !ok {
		return OIDCLogin{}, &Error{Code: CodeForbidden, Title: "Your groups could not be read",
			Message: fmt.Sprintf("The identity provider's %q claim is neither a string nor a list of strings. An admin should point AIRLOCK_OIDC_ROLE_CLAIM at the claim holding your groups.", o.cfg.RoleClaim)}
	}
	if l.Email == "" {
		l.Email = sub
	}
	l.Groups, l.ClaimFound = groups, found
	return l, nil
}
