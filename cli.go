package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"airlock/oauthflow"
	"airlock/store"
)

// openStoreForCLI opens the database without the server lock: SQLite lets
// these small writes run beside a live server, and PostgreSQL beside live
// replicas (migrating it first if need be). Commands that touch no secret
// need no encryption key.
func openStoreForCLI(ctx context.Context, cfg Config) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		return store.OpenPostgres(ctx, cfg.DatabaseURL, store.Options{ReadConns: 1})
	}
	path := filepath.Join(cfg.DataDir, "airlock.db")
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	return store.Open(ctx, path, store.Options{ReadConns: 1})
}

// cliActor is who the audit log names for a change made by a subcommand:
// somebody with a shell on the server, from no network address.
func cliActor(ctx context.Context, cmd string) context.Context {
	return oauthflow.WithActor(ctx, oauthflow.Actor{Kind: oauthflow.ActorCLI, Name: "airlock " + cmd})
}

// userCommand: airlock user create --email E --role R [--local].
func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: airlock user create --email E --role admin|builder|viewer [--local]")
		return errUsage
	}
	var email, role *string
	var local *bool
	cfg, err := parseFlags("user create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		email = fs.String("email", "", "email of the new user (required)")
		role = fs.String("role", "", "admin, builder or viewer (required)")
		local = fs.Bool("local", false, "a break-glass user: signs in with this password even when AIRLOCK_PASSWORD_SIGNIN=false")
	})
	if err != nil {
		return err
	}
	if *email == "" || !store.ValidRole(*role) {
		return usageError{"user create needs --email and --role admin|builder|viewer"}
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	if err := store.CheckPassword(pw); err != nil {
		return usageError{err.Error()}
	}
	hash, err := store.HashPassword(pw, store.DefaultPasswordParams)
	if err != nil {
		return err
	}
	st, err := openStoreForCLI(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var u store.User
	if *local {
		u, err = st.CreateLocalUser(cliActor(ctx, "user create"), *email, hash, *role)
	} else {
		u, err = st.CreateUser(cliActor(ctx, "user create"), *email, hash, *role, false)
	}
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a user with the email %s already exists", store.NormalizeEmail(*email))
	}
	if err != nil {
		return err
	}
	// A user created here ends first-run setup: the setup page is gone.
	if err := st.DeleteSetting(ctx, store.SettingSetupCode); err != nil {
		return err
	}
	switch {
	case u.Local:
		fmt.Fprintf(stderr, "created %s break-glass user %s: signs in with its password even when AIRLOCK_PASSWORD_SIGNIN=false\n", u.Role, u.Email)
	case !cfg.PasswordSignIn:
		fmt.Fprintf(stderr, "created %s user %s, who cannot sign in while AIRLOCK_PASSWORD_SIGNIN=false: give --local for a break-glass user\n", u.Role, u.Email)
	default:
		fmt.Fprintf(stderr, "created %s user %s\n", u.Role, u.Email)
	}
	return nil
}

// readPassword prompts without echo on a terminal, or reads one line from stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password (at least 12 characters): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Again: ")
		b2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(b) != string(b2) {
			return "", usageError{"the two passwords differ"}
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// apikeyCommand: airlock apikey create --name N [--role R] [--expires-in D];
// the key alone goes to stdout.
func apikeyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: airlock apikey create --name N [--role admin|builder|viewer] [--expires-in 720h]")
		return errUsage
	}
	var name, role, expiresIn *string
	cfg, err := parseFlags("apikey create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		name = fs.String("name", "", "what the key is for (required)")
		role = fs.String("role", store.RoleAdmin, "admin, builder or viewer")
		expiresIn = fs.String("expires-in", "", "a duration such as 720h after which the key stops working (default: never)")
	})
	if err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || !store.ValidRole(*role) {
		return usageError{"apikey create needs --name and a --role of admin, builder or viewer"}
	}
	var expires time.Time
	if *expiresIn != "" {
		d, err := time.ParseDuration(*expiresIn)
		if err != nil || d <= 0 {
			return usageError{fmt.Sprintf("apikey create --expires-in %q is not a positive duration such as 720h (30 days)", *expiresIn)}
		}
		expires = time.Now().Add(d)
	}
	ctx = cliActor(ctx, "apikey create")
	st, err := openStoreForCLI(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	key, hash, last4 := store.NewAPIKey()
	k, err := st.CreateExpiringAPIKey(ctx, strings.TrimSpace(*name), *role, hash, last4, "command line", expires)
	if err != nil {
		return err
	}
	if !k.ExpiresAt.IsZero() {
		fmt.Fprintf(stderr, "the key expires at %s\n", k.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout, key)
	return nil
}
