// Package threadstest gives tests fresh, empty or migrated, PostgreSQL
// databases.
//
// Every package whose tests use it must run them through Main:
//
//	func TestMain(m *testing.M) { threadstest.Main(m) }
//
// The server is the one named by POSTERN_TEST_DATABASE_URL when that is set
// (any database on a server where the user may CREATE DATABASE; the
// databases made here are created and dropped beside it). Otherwise the
// first test that asks for a database starts one private cluster for the
// whole test process (package pgcluster, under os.TempDir, with durability
// off), which Main stops and removes; should the process die first (a
// timeout, a kill), a watcher process does that.
//
// Databases are named test_<random>, templates postern_tmpl_<key>_<pid>_<random>,
// so several test processes (`go test ./...` runs packages in parallel) can
// share one server.
package threadstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/postern/postern/internal/pgcluster"
)

// EnvURL names the environment variable that points the tests at an
// existing server instead of a private cluster.
const EnvURL = "POSTERN_TEST_DATABASE_URL"

// opTimeout bounds each administrative step (create, clone, drop).
const opTimeout = 2 * time.Minute

var (
	mainCalled atomic.Bool

	serverOnce sync.Once
	serverURL  string // admin URL: the server's maintenance database
	serverErr  error
	cluster    *pgcluster.Cluster // nil when EnvURL is used

	tmplMu    sync.Mutex
	templates = map[string]*template{} // by key
)

type template struct {
	name string
	err  error
}

// Main runs the tests of a package (m.Run), then drops the templates this
// process made, stops the private cluster if one was started, and exits
// with m.Run's code (1 if the clean-up failed). Call it from TestMain; URL,
// NewMigratedDatabase and Pool fail tests of packages that do not.
func Main(m *testing.M) {
	os.Exit(run(m, nil))
}

// MainVerifyNoLeaks is Main that also fails the run, when the tests passed,
// if goroutines are left running after the clean-up (goleak.Find with
// opts). Use it instead of goleak.VerifyTestMain, which cannot be combined
// with Main.
func MainVerifyNoLeaks(m *testing.M, opts ...goleak.Option) {
	os.Exit(run(m, func() error { return goleak.Find(opts...) }))
}

func run(m *testing.M, check func() error) int {
	mainCalled.Store(true)
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "threadstest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if check != nil && code == 0 {
		if err := check(); err != nil {
			fmt.Fprintf(os.Stderr, "threadstest: goroutines left running: %v\n", err)
			code = 1
		}
	}
	return code
}

// shutdown drops this process's templates and stops the cluster.
func shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var errs []error
	tmplMu.Lock()
	for _, tp := range templates {
		if tp.err == nil && cluster == nil { // a private cluster goes whole
			errs = append(errs, dropDatabase(ctx, tp.name))
		}
	}
	templates = map[string]*template{}
	tmplMu.Unlock()
	if cluster != nil {
		if err := cluster.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(cluster.Dir()); err != nil {
			errs = append(errs, fmt.Errorf("remove test cluster: %w", err))
		} else {
			_ = os.Remove(clusterParent)
		}
	}
	return errors.Join(errs...)
}

var clusterParent string // the os.MkdirTemp dir holding the cluster

// server returns the admin URL, starting the private cluster on first use.
func server(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("threadstest: this package's tests must run through threadstest.Main: add\n\tfunc TestMain(m *testing.M) { threadstest.Main(m) }")
	}
	serverOnce.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			serverURL = u
			return
		}
		serverURL, serverErr = startCluster()
	})
	if serverErr != nil {
		t.Fatalf("threadstest: %v", serverErr)
	}
	return serverURL
}

func startCluster() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	parent, err := os.MkdirTemp("", "postern-test-pg-")
	if err != nil {
		return "", fmt.Errorf("test cluster dir: %w", err)
	}
	// Reachable by the postgres user when we are root.
	if err := os.Chmod(parent, 0o755); err != nil {
		return "", fmt.Errorf("test cluster dir: %w", err)
	}
	logLevel := slog.LevelWarn
	if testing.Verbose() {
		logLevel = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: parent + "/cluster", Fast: true, Logger: logger})
	if err != nil {
		_ = os.RemoveAll(parent)
		return "", fmt.Errorf("start test cluster (set %s to use an existing server): %w", EnvURL, err)
	}
	// Clean up even if the process dies before Main's shutdown.
	if err := c.StopOnExit(true); err != nil {
		logger.Warn("no exit watcher for the test cluster", "err", err)
	}
	cluster, clusterParent = c, parent
	return c.URL("postgres"), nil
}

// URL returns the connection URL of a new, empty database made for this
// test and dropped (with any remaining connections) at t.Cleanup. It fails
// the test if the database cannot be made.
func URL(t testing.TB) string {
	t.Helper()
	admin := server(t)
	name := "test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := execAdmin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("threadstest: create database: %v", err)
	}
	cleanupDrop(t, name)
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("threadstest: %v", err)
	}
	return u
}

// NewMigratedDatabase returns the connection URL of a new database for this
// test, dropped at t.Cleanup, that is a copy of a template database made
// once per test process and key by calling migrate with the template's
// URL. migrate must close every connection it opened before it returns.
// Callers that migrate differently must use different keys. If migrate
// fails, this test and every later one with that key fail.
func NewMigratedDatabase(t testing.TB, key string, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	admin := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	// One mutex for making templates and cloning them: CREATE DATABASE
	// TEMPLATE fails while anything is connected to the template.
	tmplMu.Lock()
	defer tmplMu.Unlock()
	tp, ok := templates[key]
	if !ok {
		tp = &template{name: templateName(key)}
		tp.err = makeTemplate(ctx, admin, tp.name, migrate)
		templates[key] = tp
	}
	if tp.err != nil {
		t.Fatalf("threadstest: template %q: %v", key, tp.err)
	}
	name := "test_" + randomHex(8)
	q := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{tp.name}.Sanitize())
	if err := execAdmin(ctx, q); err != nil {
		t.Fatalf("threadstest: clone template %q: %v", key, err)
	}
	cleanupDrop(t, name)
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("threadstest: %v", err)
	}
	return u
}

func makeTemplate(ctx context.Context, admin, name string, migrate func(ctx context.Context, url string) error) error {
	if err := execAdmin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	u, err := withDatabase(admin, name)
	if err != nil {
		return err
	}
	if err := migrate(ctx, u); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Nothing may stay connected to a template; and nothing may connect to
	// it again.
	q := fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS false", pgx.Identifier{name}.Sanitize())
	if err := execAdmin(ctx, q); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if err := execAdmin(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	return nil
}

// Pool returns a pool connected to url (usually from URL or
// NewMigratedDatabase), closed at t.Cleanup, before the database is
// dropped. It fails the test if url is malformed.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("threadstest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func cleanupDrop(t testing.TB, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := dropDatabase(ctx, name); err != nil {
			t.Errorf("threadstest: %v", err)
		}
	})
}

func dropDatabase(ctx context.Context, name string) error {
	if err := execAdmin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// execAdmin runs one statement on the admin database with a connection of
// its own (no pool: no goroutine outlives it, for goleak).
func execAdmin(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return err
	}
	return nil
}

// withDatabase returns the connection string admin with its database
// replaced by name; admin is a URL or a keyword/value string.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvURL, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	return admin + " dbname=" + name, nil // the last one wins
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// templateName makes a database name from key, unique to this process.
func templateName(key string) string {
	k := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(key), "_"), "_")
	if len(k) > 24 {
		k = k[:24]
	}
	return fmt.Sprintf("postern_tmpl_%s_%d_%s", k, os.Getpid(), randomHex(4))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
