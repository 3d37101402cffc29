package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"airlock/handlers"
	"airlock/store"
)

// Config is every setting, parsed once in main and passed down as values.
type Config struct {
	Addr       string
	PublicAddr string
	PprofAddr  string
	PublicURL  *url.URL
	// PublicURLFromAddr is true when AIRLOCK_PUBLIC_URL was not set and the
	// public URL follows the listen address; serve then takes the port the
	// socket really got (AIRLOCK_ADDR may ask for port 0).
	PublicURLFromAddr bool
	DataDir           string
	// DatabaseURL is AIRLOCK_DATABASE_URL: a PostgreSQL database several
	// replicas share; empty means SQLite in DataDir.
	DatabaseURL            string
	Realm                  string
	Org                    string
	EncryptionKey          []byte
	PreviousEncryptionKeys [][]byte
	SessionKey             []byte
	Env                    string
	LogFormat              string
	LogLevel               slog.Level
	AccessLog              bool
	TrustedProxies         []netip.Prefix
	AllowPrivateNetworks   bool
	OutboundTimeout        time.Duration
	OutboundConnectTimeout time.Duration
	OutboundHeaderTimeout  time.Duration
	OutboundMaxBody        int64
	TokenTimeout           time.Duration
	ActivityRetention      time.Duration
	ActivityMaxRows        int64
	AuditRetention         time.Duration
	TraceRetention         time.Duration
	KeepaliveAfter         time.Duration
	RefreshFailureAlert    int
	// PasswordSignIn is AIRLOCK_PASSWORD_SIGNIN; OIDC the single sign-on settings.
	PasswordSignIn bool
	OIDC           handlers.OIDCConfig

	// raw keeps the text of the key settings: keys are decoded only by commands
	// that need them, so `airlock user create` works without them in production.
	raw map[string]string
}

// Development reports whether AIRLOCK_ENV is development.
func (c Config) Development() bool { return c.Env == "development" }

// setting is one row of the configuration table: the env var, its flag (derived),
// its default, its meaning, and how it lands in Config.
type setting struct {
	env  string
	def  string
	help string
	set  func(c *Config, v string) error
}

// flagName derives the flag from the env var: AIRLOCK_PUBLIC_URL → public-url.
func (s setting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, "AIRLOCK_")), "_", "-")
}

// settings is the configuration table; the README's table is checked against it.
var settings = []setting{
	{"AIRLOCK_ADDR", "127.0.0.1:8080", "address the server listens on (host:port)", setAddr},
	{"AIRLOCK_PUBLIC_ADDR", "", "optional second address (host:port) serving only what browsers outside and providers reach: the OAuth and single sign-on callbacks, connect links, static files and /healthz", setPublicAddr},
	{"AIRLOCK_PPROF_ADDR", "", "loopback address (host:port) serving Go's profiler (/debug/pprof/) for operators measuring the server; off when empty, refused unless the host is a loopback address", setPprofAddr},
	{"AIRLOCK_PUBLIC_URL", "", "URL browsers and providers reach Airlock at; the OAuth redirect URI is built from it (https required unless the host is loopback); unset, it follows AIRLOCK_ADDR (http://127.0.0.1:<port>; an address on every interface counts as 127.0.0.1, another host must set it)", setPublicURL},
	{"AIRLOCK_DATA_DIR", "./data", "directory for the SQLite database, the lock file and development keys", func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}},
	{"AIRLOCK_DATABASE_URL", "", "PostgreSQL database shared by several replicas (postgres://user:password@host:5432/airlock); empty: SQLite in the data dir", setDatabaseURL},
	{"AIRLOCK_REALM", "us", "realm of this deployment: us, eu or ap", func(c *Config, v string) error {
		switch v {
		case "us", "eu", "ap":
			c.Realm = v
			return nil
		}
		return fmt.Errorf("unknown realm %q: use us, eu or ap", v)
	}},
	{"AIRLOCK_ORG", "", "organization name shown in the console header", func(c *Config, v string) error {
		c.Org = strings.TrimSpace(v)
		return nil
	}},
	{"AIRLOCK_ENCRYPTION_KEY", "", "base64 of 32 random bytes sealing client secrets and tokens (openssl rand -base64 32); generated into the data dir in development", rawSetting("AIRLOCK_ENCRYPTION_KEY")},
	{"AIRLOCK_PREVIOUS_ENCRYPTION_KEYS", "", "comma-separated earlier encryption keys, still accepted for reading during a key rotation", rawSetting("AIRLOCK_PREVIOUS_ENCRYPTION_KEYS")},
	{"AIRLOCK_SESSION_KEY", "", "base64 of 32 random bytes signing session cookies; generated into the data dir in development", rawSetting("AIRLOCK_SESSION_KEY")},
	{"AIRLOCK_ENV", "production", "production or development (development generates missing keys; make run sets it)", func(c *Config, v string) error {
		if v != "production" && v != "development" {
			return fmt.Errorf("unknown environment %q: use production or development", v)
		}
		c.Env = v
		return nil
	}},
	{"AIRLOCK_LOG_FORMAT", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("unknown log format %q: use text or json", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"AIRLOCK_LOG_LEVEL", "info", "least severe log lines written: debug, info, warn or error", func(c *Config, v string) error {
		levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
		l, ok := levels[strings.ToLower(v)]
		if !ok {
			return fmt.Errorf("unknown log level %q: use debug, info, warn or error", v)
		}
		c.LogLevel = l
		return nil
	}},
	{"AIRLOCK_ACCESS_LOG", "true", "write one log line per request answered (false: only warnings and errors about requests)", boolSetting(func(c *Config) *bool { return &c.AccessLog })},
	{"AIRLOCK_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (empty: none)", setTrustedProxies},
	{"AIRLOCK_ALLOW_PRIVATE_NETWORKS", "false", "allow outbound calls to loopback and private addresses (link-local and metadata addresses stay refused)",
		boolSetting(func(c *Config) *bool { return &c.AllowPrivateNetworks })},
	{"AIRLOCK_OUTBOUND_TIMEOUT", "30s", "total time limit of a request to an API or a webhook", durationSetting(func(c *Config) *time.Duration { return &c.OutboundTimeout })},
	{"AIRLOCK_OUTBOUND_CONNECT_TIMEOUT", "5s", "time limit to connect to an outbound host", durationSetting(func(c *Config) *time.Duration { return &c.OutboundConnectTimeout })},
	{"AIRLOCK_OUTBOUND_HEADER_TIMEOUT", "15s", "time limit for an outbound host to send response headers", durationSetting(func(c *Config) *time.Duration { return &c.OutboundHeaderTimeout })},
	{"AIRLOCK_OUTBOUND_MAX_BODY", "1048576", "bytes of an outbound response kept; the rest is dropped and the response marked truncated", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("%q is not a byte count of at least 1024", v)
		}
		c.OutboundMaxBody = n
		return nil
	}},
	{"AIRLOCK_TOKEN_TIMEOUT", "60s", "time limit of a call to a token or revocation endpoint, for the answer's headers and for the whole call (connecting: AIRLOCK_OUTBOUND_CONNECT_TIMEOUT)", durationSetting(func(c *Config) *time.Duration { return &c.TokenTimeout })},
	{"AIRLOCK_ACTIVITY_RETENTION", "720h", "how long activity rows are kept (default 30 days)", durationSetting(func(c *Config) *time.Duration { return &c.ActivityRetention })},
	{"AIRLOCK_ACTIVITY_MAX_ROWS", "1000000", "most activity rows kept; the oldest go first (about 150 MB at the default)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1000 {
			return fmt.Errorf("%q is not a whole number of at least 1000", v)
		}
		c.ActivityMaxRows = n
		return nil
	}},
	{"AIRLOCK_TRACE_RETENTION", "720h", "how long failed flow traces are kept at least (the last 50 traces per account are kept whatever their age): a duration such as 720h, or days such as 30d", setTraceRetention},
	{"AIRLOCK_AUDIT_RETENTION", "365d", "how long audit log rows are kept: a duration such as 8760h, or days such as 365d", setAuditRetention},
	{"AIRLOCK_KEEPALIVE_AFTER", "24h", "refresh an idle authorization-code account whose last refresh is older than this (0 turns keep-alive off)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 24h", v)
		}
		c.KeepaliveAfter = d
		return nil
	}},
	{"AIRLOCK_REFRESH_FAILURE_ALERT", "3", "consecutive temporary refresh failures that raise an alert", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive whole number", v)
		}
		c.RefreshFailureAlert = n
		return nil
	}},
	{"AIRLOCK_PASSWORD_SIGNIN", "true", "allow sign-in with email and password; false leaves only single sign-on (and break-glass users made with airlock user create --local)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.PasswordSignIn = b
		return nil
	}},
	{"AIRLOCK_OIDC_ISSUER", "", "issuer URL of the organisation's OpenID Connect provider; setting it turns on single sign-on", setOIDCIssuer},
	{"AIRLOCK_OIDC_CLIENT_ID", "", "client id of Airlock at the identity provider", oidcText(func(o *handlers.OIDCConfig) *string { return &o.ClientID })},
	{"AIRLOCK_OIDC_CLIENT_SECRET", "", "client secret of Airlock at the identity provider (empty for a public client: PKCE is always used)", oidcText(func(o *handlers.OIDCConfig) *string { return &o.ClientSecret })},
	{"AIRLOCK_OIDC_NAME", "single sign-on", "what the sign-in button calls the provider: \"Sign in with <name>\"", oidcText(func(o *handlers.OIDCConfig) *string { return &o.Name })},
	{"AIRLOCK_OIDC_SCOPES", "openid email profile", "scopes asked for, separated by spaces (openid is required)", setOIDCScopes},
	{"AIRLOCK_OIDC_ROLE_CLAIM", "groups", "claim of the ID token or userinfo holding the user's groups: a string or a list of strings (a dotted path such as realm_access.roles reaches into objects)", oidcText(func(o *handlers.OIDCConfig) *string { return &o.RoleClaim })},
	{"AIRLOCK_OIDC_ADMIN_GROUPS", "", "comma-separated groups whose members sign in as admin", oidcGroups(func(o *handlers.OIDCConfig) *[]string { return &o.AdminGroups })},
	{"AIRLOCK_OIDC_BUILDER_GROUPS", "", "comma-separated groups whose members sign in as builder", oidcGroups(func(o *handlers.OIDCConfig) *[]string { return &o.BuilderGroups })},
	{"AIRLOCK_OIDC_VIEWER_GROUPS", "", "comma-separated groups whose members sign in as viewer (the highest matching role wins; a user in no group is refused)", oidcGroups(func(o *handlers.OIDCConfig) *[]string { return &o.ViewerGroups })},
}

func rawSetting(name string) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		c.raw[name] = strings.TrimSpace(v)
		return nil
	}
}

func boolSetting(field func(*Config) *bool) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = b
		return nil
	}
}

func durationSetting(field func(*Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 30s", v)
		}
		*field(c) = d
		return nil
	}
}

func setAddr(c *Config, v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example 127.0.0.1:8080)", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", v, port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return fmt.Errorf("%q: %q is not an IP address or host name", v, host)
		}
	}
	c.Addr = v
	return nil
}

// setPprofAddr takes only a loopback address: profiles show what the
// server is doing and its command line, and a profile request costs CPU.
func setPprofAddr(c *Config, v string) error {
	c.PprofAddr = ""
	if v == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example 127.0.0.1:6060)", v)
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		return fmt.Errorf("%q: the profiler listens on loopback only: use 127.0.0.1:<port> or [::1]:<port>", v)
	}
	if err := setAddr(&Config{}, v); err != nil {
		return err
	}
	c.PprofAddr = v
	return nil
}

// setDatabaseURL accepts a postgres:// (or postgresql://) URL with a host,
// or nothing. Its errors never repeat the value: it holds a password.
func setDatabaseURL(c *Config, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		c.DatabaseURL = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("is not a PostgreSQL URL such as postgres://airlock:PASSWORD@db.example.com:5432/airlock (leave it empty for SQLite in the data dir)")
	}
	c.DatabaseURL = v
	return nil
}

func setPublicURL(c *Config, v string) error {
	c.PublicURLFromAddr = false
	if strings.TrimSpace(v) == "" {
		return c.publicURLFromAddr()
	}
	u, err := url.Parse(strings.TrimSuffix(v, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an absolute http(s) URL such as https://airlock.example.com", v)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must be scheme://host[:port] only: Airlock serves at the root of its host", v)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q uses http: use https (http is accepted only for loopback hosts such as 127.0.0.1)", v)
	}
	c.PublicURL = u
	return nil
}

// publicURLFromAddr is the public URL when none is set: http on the listen
// address, with 127.0.0.1 for an address that listens on every interface. A
// listen address on another host needs the URL browsers reach it at, which
// Airlock cannot guess (it is often behind a proxy with https).
func (c *Config) publicURLFromAddr() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("cannot follow AIRLOCK_ADDR %q: set AIRLOCK_PUBLIC_URL", c.Addr)
	}
	switch {
	case host == "" || host == "0.0.0.0" || host == "::":
		host = "127.0.0.1"
	case !isLoopbackHost(host):
		return fmt.Errorf("is empty, and AIRLOCK_ADDR %s listens on a host other than loopback: set AIRLOCK_PUBLIC_URL to the https URL browsers and providers reach Airlock at", c.Addr)
	}
	c.PublicURL = &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
	c.PublicURLFromAddr = true
	return nil
}

// followListener points a public URL that follows the listen address at the
// port the socket got (it differs when AIRLOCK_ADDR asks for port 0).
func (c *Config) followListener(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !c.PublicURLFromAddr || !ok {
		return
	}
	u := *c.PublicURL
	u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(tcp.Port))
	c.PublicURL = &u
}

func setTrustedProxies(c *Config, v string) error {
	c.TrustedProxies = nil
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// usageError is a bad command line or setting: the process exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet declares every setting's flag on a flag set named for the command.
// Flags are declared as plain strings and applied after the env vars, so that a
// flag overrides its env var and the defaults live in one place (the table).
func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, map[string]*string) {
	fs := flag.NewFlagSet("airlock "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := map[string]*string{}
	for _, s := range settings {
		vals[s.env] = fs.String(s.flagName(), "", fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.def))
	}
	return fs, vals
}

// resolveConfig applies defaults, then env vars, then the flags that were given.
func resolveConfig(fs *flag.FlagSet, vals map[string]*string, getenv func(string) string) (Config, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	c := Config{raw: map[string]string{}}
	for _, s := range settings {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if given[s.flagName()] {
			v = *vals[s.env]
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, usageError{fmt.Sprintf("%s (--%s): %v", s.env, s.flagName(), err)}
		}
	}
	if err := c.checkSignIn(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Keys holds the decoded secret keys for commands that need them.
type Keys struct {
	Encryption []byte
	Previous   [][]byte
	Session    []byte
}

// loadKeys decodes the encryption and session keys. In development a missing key
// is generated once and kept in a 0600 file in the data dir; in production a
// missing or malformed key is a start-up error naming the variable.
func (c Config) loadKeys(log *slog.Logger) (Keys, error) {
	k, err := c.loadEncryptionKeys(log)
	if err != nil {
		return Keys{}, err
	}
	if k.Session, err = c.key("AIRLOCK_SESSION_KEY", "session.key", log); err != nil {
		return Keys{}, err
	}
	return k, nil
}

// loadEncryptionKeys is loadKeys without the session key, for commands that
// touch sealed values but never a cookie (rotate-key).
func (c Config) loadEncryptionKeys(log *slog.Logger) (Keys, error) {
	var k Keys
	var err error
	if k.Encryption, err = c.key("AIRLOCK_ENCRYPTION_KEY", "encryption.key", log); err != nil {
		return Keys{}, err
	}
	for i, part := range strings.Split(c.raw["AIRLOCK_PREVIOUS_ENCRYPTION_KEYS"], ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		b, err := decodeKey(part)
		if err != nil {
			return Keys{}, usageError{fmt.Sprintf("AIRLOCK_PREVIOUS_ENCRYPTION_KEYS: key %d %v", i+1, err)}
		}
		k.Previous = append(k.Previous, b)
	}
	return k, nil
}

func (c Config) key(env, file string, log *slog.Logger) ([]byte, error) {
	if v := c.raw[env]; v != "" {
		b, err := decodeKey(v)
		if err != nil {
			return nil, usageError{fmt.Sprintf("%s %v; make one with: openssl rand -base64 32", env, err)}
		}
		return b, nil
	}
	if !c.Development() {
		return nil, usageError{fmt.Sprintf("%s is not set: make one with `openssl rand -base64 32` and put it in the environment (or run with AIRLOCK_ENV=development to generate one)", env)}
	}
	path := filepath.Join(c.DataDir, file)
	if b, err := os.ReadFile(path); err == nil {
		key, derr := decodeKey(strings.TrimSpace(string(b)))
		if derr != nil {
			return nil, fmt.Errorf("%s: %v (delete the file to generate a new development key)", path, derr)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read development key: %w", err)
	}
	key, err := store.NewKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("write development key: %w", err)
	}
	log.Warn("generated a development key; set the variable yourself in production", "variable", env, "file", path)
	return key, nil
}

func decodeKey(v string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return nil, errors.New("is not valid base64")
		}
	}
	if len(b) != store.KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), store.KeySize)
	}
	return b, nil
}
