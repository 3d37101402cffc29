// Command airlock is a self-hosted console for custom OAuth 2.0 integrations.
//
//	airlock [serve]           run the server (the default)
//	airlock version           print the version
//
// Every setting is an env var AIRLOCK_X and a flag --x; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"airlock/handlers"
	"airlock/oauthflow"
	"airlock/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) || errors.Is(err, errUsage) {
			if ue.msg != "" {
				fmt.Fprintln(os.Stderr, "airlock:", ue.msg)
			}
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "airlock:", err)
		os.Exit(1)
	}
}

// errUsage marks a bad command line whose usage text was already printed.
var errUsage = errors.New("usage")

// run is the whole program, with its environment passed in so tests can run it
// in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// The database, its WAL, keys and backups hold secrets: nothing Airlock
	// creates is readable by other users.
	syscall.Umask(0o077)
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "user":
		return userCommand(ctx, args, getenv, stdin, stdout, stderr)
	case "apikey":
		return apikeyCommand(ctx, args, getenv, stdout, stderr)
	case "rotate-key":
		return rotateKeyCommand(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args, getenv, stderr)
	case "restore":
		return restoreCommand(ctx, args, getenv, stderr)
	case "version":
		fmt.Fprintln(stdout, "airlock", version)
		return nil
	case "help":
		printUsage(stdout)
		return nil
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `usage: airlock [command] [flags]

commands:
  serve      run the console and API (the default)
  user       user create --email E --role admin|builder|viewer [--local] (password from a prompt or stdin;
             --local: a break-glass user, who signs in with it even when AIRLOCK_PASSWORD_SIGNIN=false)
  apikey     apikey create --name N [--role admin|builder|viewer] [--expires-in 720h] (prints the key alone on stdout)
  rotate-key rotate-key --new-key-file F (re-seals every secret; the server must be stopped)
  backup     backup --to FILE (a consistent copy, while the server runs; FILE must not exist)
  restore    restore --from FILE (the server must be stopped; the replaced database is kept)
  version    print the version

Every setting is an env var AIRLOCK_X and a flag --x; "airlock serve -h" lists them.
`)
}

// parseFlags parses a command's flags into the configuration; -h prints usage
// and a bad flag prints usage too, both exiting 2.
func parseFlags(cmd string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, error) {
	fs, vals := newFlagSet(cmd, stderr)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "airlock %s: unexpected argument %q\n", cmd, fs.Arg(0))
		fs.Usage()
		return Config{}, errUsage
	}
	return resolveConfig(fs, vals, getenv)
}

// serve runs the server until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseFlags("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	logOut := newCoalescingWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg.LogFormat, cfg.LogLevel, logOut)
	// On SQLite the data dir holds the database, and one server at a time;
	// on PostgreSQL it holds nothing that matters, and replicas share the
	// database: no lock (the database's own maintenance lock instead, below).
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
		}
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	keys, err := cfg.loadKeys(log)
	if err != nil {
		return err
	}
	sealer, err := store.NewSealer(keys.Encryption, keys.Previous...)
	if err != nil {
		return usageError{err.Error()}
	}
	test := testHooks(getenv)
	st, err := openStore(ctx, cfg, store.Options{Sealer: sealer, RefreshFailureAlert: cfg.RefreshFailureAlert, Now: test.now}, log)
	if err != nil {
		return err
	}
	defer st.Close()
	release, err := st.HoldReplica(ctx)
	if errors.Is(err, store.ErrMaintenanceRunning) {
		return fmt.Errorf("cannot start: %w (it re-seals every secret); let it finish, then start the replicas with the settings it printed", err)
	}
	if err != nil {
		return err
	}
	defer release()
	// Tokens saved before their endpoints were recorded get them now, once:
	// refreshes and revocations go only to recorded endpoints.
	if rec, skipped, err := oauthflow.RecordLegacyEndpoints(ctx, st); err != nil {
		return err
	} else if rec+skipped > 0 {
		log.Info("recorded the endpoints of tokens saved before they were recorded", "recorded", rec, "left_unrecorded", skipped)
	}

	// Listen before anything reads the public URL: when it follows the listen
	// address it takes the port the socket got.
	lns, err := listen(cfg)
	if err != nil {
		return err
	}
	cfg.followListener(lns.main.Addr())
	sessions := st.NewSessionStore(keys.Session, cfg.PublicURL.Scheme == "https")
	guard := &oauthflow.DialGuard{AllowPrivate: cfg.AllowPrivateNetworks}
	httpOpts := oauthflow.HTTPOptions{Guard: guard, ConnectTimeout: cfg.OutboundConnectTimeout,
		HeaderTimeout: cfg.OutboundHeaderTimeout, Timeout: cfg.OutboundTimeout}
	tokens := &oauthflow.Client{HTTP: oauthflow.NewHTTPClient(tokenHTTPOptions(cfg, guard), oauthflow.NoRedirects), Now: test.now}
	metrics := handlers.NewMetrics(st)
	mo := managerOptions(cfg, st, tokens, metrics, log, faultHook(getenv, stderr))
	mo.Now = test.now
	if test.leaseTTL > 0 {
		mo.LeaseTTL = test.leaseTTL
	}
	mgr := oauthflow.NewManager(mo)
	webhookOpts := httpOpts
	webhookOpts.Timeout = 10 * time.Second
	activity := st.NewActivityLog(time.Second, func(err error) { log.Warn("write activity: rows dropped", "err", err) })
	metrics.WatchActivity(activity)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := activity.Close(ctx); err != nil {
			log.Warn("flush activity at shutdown", "err", err)
		}
	}()
	h, e := handlers.New(handlers.Deps{
		Config: handlers.Config{
			PublicURL:        cfg.PublicURL,
			Realm:            cfg.Realm,
			Org:              cfg.Org,
			Development:      cfg.Development(),
			TrustedProxies:   cfg.TrustedProxies,
			OIDC:             cfg.OIDC,
			NoPasswordSignIn: !cfg.PasswordSignIn,
			NoAccessLog:      !cfg.AccessLog,
		},
		Store:         st,
		Now:           test.now,
		Sessions:      sessions,
		Logger:        log,
		Manager:       mgr,
		Tokens:        tokens,
		APIClient:     oauthflow.NewHTTPClient(httpOpts, oauthflow.SameOriginRedirects),
		MaxResponse:   cfg.OutboundMaxBody,
		Activity:      activity,
		Metrics:       metrics,
		WebhookClient: oauthflow.NewHTTPClient(webhookOpts, oauthflow.NoRedirects),
		OIDCClient:    oidcHTTPClient(httpOpts),
	})

	if err := h.StartSetup(ctx); err != nil {
		lns.close()
		return err
	}
	stopPprof, err := servePprof(cfg.PprofAddr, log)
	if err != nil {
		lns.close()
		return err
	}
	defer stopPprof()
	srv := newHTTPServer(test.handler(e, mgr.Wait), log)
	var pubSrv *http.Server
	if lns.public != nil {
		pubSrv = newHTTPServer(h.PublicHandler(e), log)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go listenToReplicas(bg, st, h, mgr, log)
	go housekeeping(bg, st, sessions, cfg, log)
	go h.RunWebhooks(bg)
	// Keep-alive refreshes through the manager, which tells the accounts
	// service of what it saves or fails: requests see the change at once.
	keepalive := &oauthflow.Keepalive{Store: st, Manager: mgr, After: cfg.KeepaliveAfter, Now: test.now, OnError: func(id string, err error) {
		log.Info("keep-alive refresh failed", "account_id", id, "err", err)
	}}
	go keepalive.Run(bg)

	attrs := []any{"addr", lns.main.Addr().String(), "public_url", cfg.PublicURL.String(), "realm", cfg.Realm,
		"env", cfg.Env, "version", version, "callback", cfg.PublicURL.String() + handlers.CallbackPath}
	if lns.public != nil {
		attrs = append(attrs, "public_addr", lns.public.Addr().String())
	}
	log.Info("listening", attrs...)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lns.main) }()
	if pubSrv != nil {
		go func() { errc <- pubSrv.Serve(lns.public) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, s := range []*http.Server{srv, pubSrv} {
		if s == nil {
			continue
		}
		if err := s.Shutdown(shutdownCtx); err != nil {
			log.Warn("shutdown did not finish cleanly", "err", err)
		}
	}
	stopBG()
	if err := mgr.Wait(shutdownCtx); err != nil {
		log.Warn("shutdown: a token refresh did not finish; its account may need reconnecting", "err", err)
	}
	log.Info("stopped")
	return nil
}

// listeners are the server's sockets: AIRLOCK_ADDR, and AIRLOCK_PUBLIC_ADDR
// when it is set.
type listeners struct{ main, public net.Listener }

func listen(cfg Config) (listeners, error) {
	var lns listeners
	var err error
	if lns.main, err = net.Listen("tcp", cfg.Addr); err != nil {
		return lns, usageError{fmt.Sprintf("AIRLOCK_ADDR (--addr) %s: cannot listen: %v%s", cfg.Addr, err, inUseHint(err, cfg))}
	}
	if cfg.PublicAddr != "" {
		if lns.public, err = net.Listen("tcp", cfg.PublicAddr); err != nil {
			lns.main.Close()
			return lns, usageError{fmt.Sprintf("AIRLOCK_PUBLIC_ADDR (--public-addr) %s: cannot listen: %v", cfg.PublicAddr, err)}
		}
	}
	return lns, nil
}

// inUseHint tells what to change when another process holds the address:
// the port, and the public URL with it when that was set by hand.
func inUseHint(err error, cfg Config) string {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ""
	}
	if cfg.PublicURLFromAddr {
		return " (another process listens there: choose another port in AIRLOCK_ADDR; AIRLOCK_PUBLIC_URL is unset, so the public URL follows it)"
	}
	return fmt.Sprintf(" (another process listens there: choose another port in AIRLOCK_ADDR, and change AIRLOCK_PUBLIC_URL %s to match)", cfg.PublicURL)
}

func (l listeners) close() {
	l.main.Close()
	if l.public != nil {
		l.public.Close()
	}
}

// newHTTPServer is the HTTP server of one listener; both have the same limits.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// oidcHTTPClient talks to the identity provider: the outbound timeouts and
// no redirects, but not the dial guard — the provider is the operator's own
// setting (often on the organisation's network), not a builder's.
func oidcHTTPClient(o oauthflow.HTTPOptions) *http.Client {
	o.Guard = &oauthflow.DialGuard{AllowPrivate: true}
	return oauthflow.NewHTTPClient(o, oauthflow.NoRedirects)
}

// maxHeaderBytes bounds a request's header block. net/http answers 431
// itself, before any handler runs, to a larger one; a browser can hold about
// 180 cookies of 4 KB for a site (some 720 KB), and such a browser must get
// the page that clears its cookies (handlers' oversizeCookies) rather than a
// 431 it cannot get past. So: a 1 MiB Cookie header plus 16 KiB for the rest.
// That is also what one connection can make the server hold while its header
// arrives (at most ReadHeaderTimeout), less than the 4 MiB a form body may be.
const maxHeaderBytes = 1<<20 + 16<<10

// tokenHTTPOptions are the token and revocation endpoints' own timeouts
// (AIRLOCK_TOKEN_TIMEOUT for the headers and the whole call), apart from the
// APIs' shorter ones: a token call cut off early may have rotated the refresh
// token at the provider, and the answer carrying the new one is then lost.
func tokenHTTPOptions(cfg Config, guard *oauthflow.DialGuard) oauthflow.HTTPOptions {
	return oauthflow.HTTPOptions{Guard: guard, ConnectTimeout: cfg.OutboundConnectTimeout,
		HeaderTimeout: cfg.TokenTimeout, Timeout: cfg.TokenTimeout}
}

// managerOptions configure the token manager: a refresh (lease, token call,
// save) may take the token call's time plus 15 s. Its lease is the default
// 30 s, renewed while the refresh runs: a replica killed mid-refresh holds
// its account up for at most 30 s.
func managerOptions(cfg Config, st *store.Store, tokens *oauthflow.Client, metrics *handlers.Metrics, log *slog.Logger, fault func(string)) oauthflow.ManagerOptions {
	return oauthflow.ManagerOptions{Store: st, Client: tokens, CallTimeout: cfg.TokenTimeout + 15*time.Second,
		LeaseTTL: oauthflow.DefaultLeaseTTL, OnRefresh: metrics.ObserveRefresh, OnWait: metrics.ObserveTokenWait, Fault: fault, Log: log,
		Traces: st}
}

// housekeeping deletes expired sessions, old pending flows, activity past
// its retention and traces past theirs every few minutes, and activity past AIRLOCK_ACTIVITY_MAX_ROWS
// every minute, until ctx ends.
func housekeeping(ctx context.Context, st *store.Store, ss *store.SessionStore, cfg Config, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for minute := 0; ; minute++ {
		if n, err := st.CapActivity(ctx, cfg.ActivityMaxRows); err != nil && ctx.Err() == nil {
			log.Warn("cap activity", "err", err)
		} else if n > 0 {
			log.Debug("pruned activity past its row cap", "rows", n, "max_rows", cfg.ActivityMaxRows)
		}
		if minute%5 == 0 {
			sweep(ctx, st, ss, cfg.ActivityRetention, log)
			pruneAudit(ctx, st, cfg.AuditRetention, log)
			pruneTraces(ctx, st, cfg.TraceRetention, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep opens the alerts of refresh tokens that die soon and deletes expired
// sessions, old pending flows and activity past its retention.
func sweep(ctx context.Context, st *store.Store, ss *store.SessionStore, retention time.Duration, log *slog.Logger) {
	if n, err := st.OpenRefreshTokenExpiryAlerts(ctx); err != nil && ctx.Err() == nil {
		log.Warn("refresh token expiry alerts", "err", err)
	} else if n > 0 {
		log.Info("refresh tokens expire soon: alerts opened", "count", n)
	}
	if n, err := st.SweepSessions(ctx, ss.Lifetimes.Idle); err != nil && ctx.Err() == nil {
		log.Warn("sweep sessions", "err", err)
	} else if n > 0 {
		log.Debug("swept sessions", "count", n)
	}
	if _, err := st.SweepFlows(ctx); err != nil && ctx.Err() == nil {
		log.Warn("sweep flows", "err", err)
	}
	if _, err := st.SweepOIDCFlows(ctx); err != nil && ctx.Err() == nil {
		log.Warn("sweep single sign-on flows", "err", err)
	}
	if _, err := st.PruneActivity(ctx, retention); err != nil && ctx.Err() == nil {
		log.Warn("prune activity", "err", err)
	}
}
