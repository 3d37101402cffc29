package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// TestUserCreateLocalIsBreakGlass: --local makes a break-glass user; without
// it, while password sign-in is off, the command says the user cannot sign in.
func TestUserCreateLocalIsBreakGlass(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_PASSWORD_SIGNIN": "false",
		"AIRLOCK_OIDC_ISSUER": "https://idp.example.com", "AIRLOCK_OIDC_CLIENT_ID": "airlock", "AIRLOCK_OIDC_ADMIN_GROUPS": "admins"}
	cases := []struct {
		email, flag string
		wantLocal   bool
		wantMsg     string
	}{
		{"glass@example.com", "--local", true, "break-glass user"},
		{"plain@example.com", "", false, "cannot sign in while AIRLOCK_PASSWORD_SIGNIN=false: give --local"},
	}
	for _, tc := range cases {
		args := []string{"user", "create", "--email", tc.email, "--role", "admin"}
		if tc.flag != "" {
			args = append(args, tc.flag)
		}
		var stderr bytes.Buffer
		if err := run(t.Context(), args, envMap(env), strings.NewReader("a long enough password\n"), io.Discard, &stderr); err != nil {
			t.Fatalf("%s: %v", tc.email, err)
		}
		if !strings.Contains(stderr.String(), tc.wantMsg) {
			t.Errorf("%s: stderr %q, want %q", tc.email, stderr.String(), tc.wantMsg)
		}
		st, err := store.Open(context.Background(), filepath.Join(dir, "airlock.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.GetUserByEmail(context.Background(), tc.email)
		st.Close()
		if err != nil || u.Local != tc.wantLocal {
			t.Errorf("%s: got local=%v (%v), want %v", tc.email, u.Local, err, tc.wantLocal)
		}
	}
}

// TestAPIKeyCreateExpiresIn: --expires-in sets the expiry; a bad duration
// is a usage error naming the flag.
func TestAPIKeyCreateExpiresIn(t *testing.T) {
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir})
	var stdout, stderr bytes.Buffer
	before := time.Now()
	if err := run(t.Context(), []string{"apikey", "create", "--name", "ci", "--expires-in", "720h"}, env, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "airlock.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.APIKeyByHash(context.Background(), store.HashAPIKey(strings.TrimSpace(stdout.String())))
	if err != nil || k.ExpiresAt.Before(before.Add(720*time.Hour-time.Second)) || k.ExpiresAt.After(time.Now().Add(720*time.Hour)) {
		t.Errorf("expiry: got %v (%v), want 720h from now", k.ExpiresAt, err)
	}
	if !strings.Contains(stderr.String(), "expires at") {
		t.Errorf("stderr: got %q, want the expiry", stderr.String())
	}
	for _, bad := range []string{"30d", "-1h", "0s", "soon"} {
		err := run(t.Context(), []string{"apikey", "create", "--name", "x", "--expires-in", bad}, env, nil, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--expires-in") {
			t.Errorf("--expires-in %s: got %v, want a usage error naming the flag", bad, err)
		}
	}
}

// TestSignInSettingsAreChecked: single sign-on settings that cannot work
// stop start-up with a message naming the setting (exit status 2).
func TestSignInSettingsAreChecked(t *testing.T) {
	sso := map[string]string{"AIRLOCK_OIDC_ISSUER": "https://idp.example.com", "AIRLOCK_OIDC_CLIENT_ID": "airlock", "AIRLOCK_OIDC_ADMIN_GROUPS": "admins"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range sso {
			m[k] = v
		}
		for k, v := range extra {
			if v == "-" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantMsg string
	}{
		{"passwords off without single sign-on", map[string]string{"AIRLOCK_PASSWORD_SIGNIN": "false"}, "AIRLOCK_PASSWORD_SIGNIN (--password-signin) is false but single sign-on is off"},
		{"password setting not a boolean", map[string]string{"AIRLOCK_PASSWORD_SIGNIN": "sometimes"}, "AIRLOCK_PASSWORD_SIGNIN"},
		{"client id without issuer", map[string]string{"AIRLOCK_OIDC_CLIENT_ID": "airlock"}, "AIRLOCK_OIDC_CLIENT_ID is set but AIRLOCK_OIDC_ISSUER is not"},
		{"issuer without client id", with(map[string]string{"AIRLOCK_OIDC_CLIENT_ID": "-"}), "AIRLOCK_OIDC_CLIENT_ID is not"},
		{"no group at all", with(map[string]string{"AIRLOCK_OIDC_ADMIN_GROUPS": "-"}), "at least one of AIRLOCK_OIDC_ADMIN_GROUPS"},
		{"http issuer", with(map[string]string{"AIRLOCK_OIDC_ISSUER": "http://idp.example.com"}), "uses http: use https"},
		{"issuer not a URL", with(map[string]string{"AIRLOCK_OIDC_ISSUER": "idp.example.com"}), "AIRLOCK_OIDC_ISSUER"},
		{"scopes without openid", with(map[string]string{"AIRLOCK_OIDC_SCOPES": "email profile"}), "does not include openid"},
		{"bad public address", map[string]string{"AIRLOCK_PUBLIC_ADDR": "nonsense"}, "AIRLOCK_PUBLIC_ADDR"},
		{"public address is the main one", map[string]string{"AIRLOCK_PUBLIC_ADDR": "127.0.0.1:0"}, "is the same as AIRLOCK_ADDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"AIRLOCK_DATA_DIR": t.TempDir(), "AIRLOCK_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			err := run(t.Context(), []string{"serve"}, envMap(env), strings.NewReader(""), io.Discard, io.Discard)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %v, want a usage error containing %q", err, tc.wantMsg)
			}
		})
	}
	fs, vals := newFlagSet("serve", io.Discard)
	cfg, err := resolveConfig(fs, vals, envMap(with(map[string]string{"AIRLOCK_OIDC_BUILDER_GROUPS": " devs, ops ,devs,"})))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.OIDC
	if o.Name != "single sign-on" || strings.Join(o.Scopes, " ") != "openid email profile" || o.RoleClaim != "groups" ||
		strings.Join(o.BuilderGroups, "|") != "devs|ops" || !cfg.PasswordSignIn {
		t.Errorf("defaults and lists: got %+v password=%v", o, cfg.PasswordSignIn)
	}
}
