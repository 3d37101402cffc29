package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"airlock/handlers"
)

// The settings of console sign-in (password and single sign-on) and of the
// public listener: the rows are in config.go's table, their parsing here.

func setPublicAddr(c *Config, v string) error {
	c.PublicAddr = ""
	if v == "" {
		return nil
	}
	var parsed Config
	if err := setAddr(&parsed, v); err != nil {
		return err
	}
	c.PublicAddr = parsed.Addr
	return nil
}

func setOIDCIssuer(c *Config, v string) error {
	v = strings.TrimSpace(v)
	c.OIDC.Issuer = v
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an issuer URL such as https://login.example.com/realms/acme (the provider's discovery document is at <issuer>/.well-known/openid-configuration)", v)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q uses http: use https (http is accepted only for loopback hosts such as 127.0.0.1)", v)
	}
	return nil
}

// oidcText sets a plain text field of the single sign-on settings.
func oidcText(field func(*handlers.OIDCConfig) *string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		*field(&c.OIDC) = strings.TrimSpace(v)
		return nil
	}
}

// oidcGroups sets a comma-separated group list; names are kept as written
// (matched exactly, case included), blanks dropped.
func oidcGroups(field func(*handlers.OIDCConfig) *[]string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		var out []string
		for g := range strings.SplitSeq(v, ",") {
			if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
		*field(&c.OIDC) = out
		return nil
	}
}

func setOIDCScopes(c *Config, v string) error {
	scopes := strings.Fields(v)
	if !slices.Contains(scopes, "openid") {
		return fmt.Errorf("%q does not include openid, without which the provider sends no ID token", v)
	}
	c.OIDC.Scopes = scopes
	return nil
}

// checkSignIn checks the sign-in settings against each other, once all are
// read: single sign-on needs its client id and at least one group, the
// other single sign-on settings need the issuer, password sign-in can be
// turned off only with single sign-on on, and the two listeners differ.
func (c Config) checkSignIn() error {
	o := c.OIDC
	fail := func(msg string) error { return usageError{msg} }
	if o.Issuer == "" {
		for _, s := range []struct {
			env string
			set bool
		}{{"AIRLOCK_OIDC_CLIENT_ID", o.ClientID != ""}, {"AIRLOCK_OIDC_CLIENT_SECRET", o.ClientSecret != ""},
			{"AIRLOCK_OIDC_ADMIN_GROUPS", len(o.AdminGroups) > 0}, {"AIRLOCK_OIDC_BUILDER_GROUPS", len(o.BuilderGroups) > 0},
			{"AIRLOCK_OIDC_VIEWER_GROUPS", len(o.ViewerGroups) > 0}} {
			if s.set {
				return fail(s.env + " is set but AIRLOCK_OIDC_ISSUER is not: set the issuer to turn on single sign-on, or unset " + s.env)
			}
		}
		if !c.PasswordSignIn {
			return fail("AIRLOCK_PASSWORD_SIGNIN (--password-signin) is false but single sign-on is off: set AIRLOCK_OIDC_ISSUER too, or nobody could sign in")
		}
	} else {
		if o.ClientID == "" {
			return fail("AIRLOCK_OIDC_ISSUER is set but AIRLOCK_OIDC_CLIENT_ID is not: register Airlock at the identity provider and set its client id")
		}
		if len(o.AdminGroups)+len(o.BuilderGroups)+len(o.ViewerGroups) == 0 {
			return fail("single sign-on needs at least one of AIRLOCK_OIDC_ADMIN_GROUPS, AIRLOCK_OIDC_BUILDER_GROUPS and AIRLOCK_OIDC_VIEWER_GROUPS: a user in none of them is refused, so nobody could sign in")
		}
		if o.RoleClaim == "" {
			return fail("AIRLOCK_OIDC_ROLE_CLAIM (--oidc-role-claim) is empty: name the claim holding the groups, such as groups")
		}
		if o.Name == "" {
			return fail("AIRLOCK_OIDC_NAME (--oidc-name) is empty: it is the sign-in button's label, such as Okta")
		}
	}
	if c.PublicAddr != "" && c.PublicAddr == c.Addr {
		return fail("AIRLOCK_PUBLIC_ADDR (--public-addr) is the same as AIRLOCK_ADDR: give the public listener an address of its own, or leave it unset")
	}
	return nil
}
