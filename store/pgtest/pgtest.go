// Package pgtest gives tests a throwaway PostgreSQL: one cluster per test
// binary, started on first use from the Debian postgresql package's binaries
// (initdb into a temporary directory, a free port on 127.0.0.1), and a fresh
// database per test. AIRLOCK_TEST_DATABASE_URL points the tests at a server
// of one's own instead (they create and drop databases on it).
//
// Without PostgreSQL the tests that need it skip, saying why; with
// AIRLOCK_POSTGRES_TESTS=required (CI sets it) they fail instead. A test
// binary that uses the cluster calls Stop after its tests (TestMain).
//
// initdb and postgres refuse to run as root: as root, the cluster's
// directory belongs to the postgres system user and both run as that user
// (initdb through runuser -u postgres --, the server with that user's
// credentials and a parent-death signal, so a test binary that is killed
// takes its server with it).
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating and dropping databases
)

// Required reports whether PostgreSQL tests must run (AIRLOCK_POSTGRES_TESTS=required).
func Required() bool { return os.Getenv("AIRLOCK_POSTGRES_TESTS") == "required" }

var (
	once    sync.Once
	shared  *cluster
	failure error
	dbSeq   atomic.Int64
)

// cluster is the server the test binary's databases live on.
type cluster struct {
	admin *url.URL // a superuser's URL, database "postgres"
	dir   string   // "" for a server of AIRLOCK_TEST_DATABASE_URL
	cmd   *exec.Cmd
	db    *sql.DB
	drops sync.WaitGroup

	mu            sync.Mutex
	template      string       // what Database copies ("": an empty database)
	spare         chan created // the database made ahead of time
	spareTemplate string       // its template
}

// Available starts the cluster if need be and reports why it cannot run
// (nil when it can).
func Available() error {
	once.Do(func() { shared, failure = start() })
	return failure
}

// Database creates a fresh database for t and returns its URL; it is
// dropped when t ends. It is empty, or a copy of the template a test binary
// chose with SetTemplate. Without PostgreSQL it skips t (fails it when
// Required).
func Database(t testing.TB) string {
	t.Helper()
	return database(t, true)
}

// EmptyDatabase is Database without the template: a database with no table
// at all, for tests of migrations.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return database(t, false)
}

func database(t testing.TB, templated bool) string {
	t.Helper()
	if err := Available(); err != nil {
		if Required() {
			t.Fatalf("PostgreSQL is required (AIRLOCK_POSTGRES_TESTS=required) but cannot start: %v", err)
		}
		t.Skipf("PostgreSQL tests skipped: %v (install postgresql, or set AIRLOCK_TEST_DATABASE_URL)", err)
	}
	name, err := shared.take(templated)
	if err != nil {
		t.Fatalf("create a database: %v", err)
	}
	t.Cleanup(func() { shared.drop(name) })
	u := *shared.admin
	u.Path = "/" + name
	return u.String()
}

// SetTemplate makes the databases Database hands out from now on copies of
// a database that prepare has set up (migrated, say) at the URL it is
// given, and then closed every connection to: a test binary migrates one
// database once instead of every test's.
func SetTemplate(prepare func(url string) error) error {
	if err := Available(); err != nil {
		return err
	}
	name, err := shared.create("")
	if err != nil {
		return err
	}
	u := *shared.admin
	u.Path = "/" + name
	if err := prepare(u.String()); err != nil {
		shared.drop(name)
		return err
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.dropSpare()
	shared.template = name
	return nil
}

// take returns the name of a new database, the one made ahead of time when
// it is of the kind asked for, and starts making the next one: creating a
// database costs a tenth of a second or more, which then overlaps a test.
func (c *cluster) take(templated bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tmpl := ""
	if templated {
		tmpl = c.template
	}
	var name string
	var err error
	if c.spare != nil && c.spareTemplate == tmpl {
		r := <-c.spare
		name, err = r.name, r.err
	} else {
		c.dropSpare()
		name, err = c.create(tmpl)
	}
	c.spare, c.spareTemplate = make(chan created, 1), tmpl
	go func(ch chan created) {
		n, err := c.create(tmpl)
		ch <- created{n, err}
	}(c.spare)
	return name, err
}

type created struct {
	name string
	err  error
}

func (c *cluster) create(template string) (string, error) {
	name := fmt.Sprintf("airlock_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	q := "CREATE DATABASE " + name
	if template != "" {
		q += " TEMPLATE " + template
	}
	if _, err := c.db.ExecContext(context.Background(), q); err != nil {
		return "", fmt.Errorf("%s: %w", q, err)
	}
	return name, nil
}

// dropSpare drops the database made ahead of time; c.mu is held.
func (c *cluster) dropSpare() {
	if c.spare == nil {
		return
	}
	if r := <-c.spare; r.err == nil {
		c.drop(r.name)
	}
	c.spare = nil
}

// drop drops a database in the background (Stop waits for it): nothing
// waits for a finished test's database to go.
func (c *cluster) drop(name string) {
	c.drops.Add(1)
	go func() {
		defer c.drops.Done()
		c.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}()
}

// Stop stops the cluster (if this binary started one) and removes its
// directory. Call it after the tests, from TestMain.
func Stop() {
	if shared == nil {
		return
	}
	shared.mu.Lock()
	shared.dropSpare()
	shared.mu.Unlock()
	shared.drops.Wait()
	shared.db.Close()
	if shared.cmd != nil {
		shared.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: no wait for clients
		done := make(chan struct{})
		go func() { shared.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			shared.cmd.Process.Kill()
			<-done
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared = nil
}

// Restart stops the server and starts it again on the same port, for tests
// of what happens while the database is away; pause runs in between.
func Restart(pause func()) error {
	if shared == nil || shared.cmd == nil {
		return errors.New("pgtest: only a cluster this binary started can be restarted")
	}
	shared.mu.Lock()
	shared.dropSpare()
	shared.mu.Unlock()
	shared.drops.Wait()
	shared.cmd.Process.Signal(syscall.SIGINT)
	shared.cmd.Wait()
	if pause != nil {
		pause()
	}
	port, _ := strconv.Atoi(shared.admin.Port())
	cmd, err := startServer(shared.dir, port)
	if err != nil {
		return err
	}
	shared.cmd = cmd
	return waitReady(shared.db, 30*time.Second)
}

func start() (*cluster, error) {
	if u := os.Getenv("AIRLOCK_TEST_DATABASE_URL"); u != "" {
		admin, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("AIRLOCK_TEST_DATABASE_URL: %w", err)
		}
		c := &cluster{admin: admin}
		if c.db, err = sql.Open("pgx", u); err != nil {
			return nil, err
		}
		return c, waitReady(c.db, 10*time.Second)
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "airlock-pg-")
	if err != nil {
		return nil, err
	}
	c, err := initCluster(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// binDir finds initdb and postgres: Debian's /usr/lib/postgresql/<v>/bin
// (the highest version), or the directory of pg_ctl on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or on PATH")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

var binPath string // the bin directory initCluster found, for restarts

func initCluster(bin, dir string) (*cluster, error) {
	binPath = bin
	data := filepath.Join(dir, "data")
	asRoot := os.Geteuid() == 0
	if asRoot {
		if err := chownToPostgres(dir); err != nil {
			return nil, err
		}
	}
	args := []string{filepath.Join(bin, "initdb"), "-D", data, "-U", "airlock", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"}
	if asRoot {
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, err := startServer(dir, port)
	if err != nil {
		return nil, err
	}
	admin := &url.URL{Scheme: "postgres", User: url.User("airlock"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	c := &cluster{admin: admin, dir: dir, cmd: cmd}
	if c.db, err = sql.Open("pgx", admin.String()); err != nil {
		return nil, err
	}
	if err := waitReady(c.db, 30*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("%w\n%s", err, b)
	}
	return c, nil
}

// startServer runs postgres on the cluster of dir, on 127.0.0.1:port only,
// with durability off (a throwaway cluster need not survive a crash).
func startServer(dir string, port int) (*exec.Cmd, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(binPath, "postgres"), "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir, "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if os.Geteuid() == 0 {
		uid, gid, err := postgresUser()
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	logf.Close()
	return cmd, nil
}

func waitReady(db *sql.DB, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not answer within %s: %w", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postgresUser() (uid, gid uint32, err error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("running as root, PostgreSQL needs the postgres system user: %w", err)
	}
	i, _ := strconv.Atoi(u.Uid)
	g, _ := strconv.Atoi(u.Gid)
	return uint32(i), uint32(g), nil
}

func chownToPostgres(dir string) error {
	uid, gid, err := postgresUser()
	if err != nil {
		return err
	}
	return os.Chown(dir, int(uid), int(gid))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
