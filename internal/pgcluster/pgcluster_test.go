package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// tempDir returns a directory the postgres user can reach when we are root
// (t.TempDir is mode 0700).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "cluster")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func skipWithoutPostgres(t *testing.T) {
	t.Helper()
	if _, err := findBinaries(); err != nil {
		t.Skipf("no PostgreSQL server binaries (run `make test` or .ci/ensure-postgres.sh): %v", err)
	}
}

func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestStartCreateRestartPersist(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	ctx := context.Background()
	dir := tempDir(t)
	c := start(t, Options{Dir: dir, Fast: true, Logger: testLogger(t)})

	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/db1?sslmode=disable", c.Port())
	if got := c.URL("db1"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}

	admin := connect(t, c.URL("postgres"))
	var maxConn, fsync, listen string
	if err := admin.QueryRow(ctx, "SELECT current_setting('max_connections'), current_setting('fsync'), current_setting('listen_addresses')").Scan(&maxConn, &fsync, &listen); err != nil {
		t.Fatal(err)
	}
	if maxConn != "200" || fsync != "off" || listen != "127.0.0.1" {
		t.Errorf("max_connections=%s fsync=%s listen_addresses=%s", maxConn, fsync, listen)
	}
	for _, db := range []string{"db1", "db2"} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
	}
	for i, db := range []string{"db1", "db2"} {
		conn := connect(t, c.URL(db))
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE t (v int); INSERT INTO t VALUES (%d)", i+1)); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		_ = conn.Close(ctx)
	}
	_ = admin.Close(ctx)

	port := c.Port()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	c2 := start(t, Options{Dir: dir, Fast: true, Logger: testLogger(t)})
	if c2.Port() != port {
		t.Errorf("restart port = %d, want remembered %d", c2.Port(), port)
	}
	for i, db := range []string{"db1", "db2"} {
		conn := connect(t, c2.URL(db))
		var v int
		if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil {
			t.Fatalf("%s after restart: %v", db, err)
		}
		if v != i+1 {
			t.Errorf("%s: v = %d, want %d", db, v, i+1)
		}
	}
}

func TestDurableByDefault(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	c := start(t, Options{Dir: tempDir(t)})
	conn := connect(t, c.URL("postgres"))
	var fsync, sc string
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sc); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" || sc != "on" {
		t.Errorf("fsync=%s synchronous_commit=%s, want on", fsync, sc)
	}
}

func TestReuseRunningServer(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	dir := tempDir(t)
	c := start(t, Options{Dir: dir, Fast: true})
	// As after a killed `postern dev` whose server survived.
	c2 := start(t, Options{Dir: dir, Fast: true, Logger: testLogger(t)})
	if c2.Port() != c.Port() {
		t.Fatalf("second Start port %d, want running server's %d", c2.Port(), c.Port())
	}
	conn := connect(t, c2.URL("postgres"))
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStalePidFile(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	ctx := context.Background()
	dir := tempDir(t)
	c := start(t, Options{Dir: dir, Fast: true})
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// A postmaster.pid naming a live process that is not a postmaster of
	// this data directory (our own pid), as after a container restart.
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")
	stale := fmt.Sprintf("%d\n%s\n1700000000\n%d\n\n127.0.0.1\n  5432001  0\nready   \n", os.Getpid(), c.DataDir(), c.Port())
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(pidFile, c.run.uid, c.run.gid); err != nil {
			t.Fatal(err)
		}
	}
	c2 := start(t, Options{Dir: dir, Fast: true, Logger: testLogger(t)})
	conn := connect(t, c2.URL("postgres"))
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExplicitPort(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, Options{Dir: tempDir(t), Port: port, Fast: true})
	if c.Port() != port {
		t.Fatalf("Port() = %d, want %d", c.Port(), port)
	}
	connect(t, c.URL("postgres"))
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(context.Background(), Options{}); err == nil {
		t.Error("Start without Dir: no error")
	}
}

func TestEnsureInstalledFound(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	if err := EnsureInstalled(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestStopOnExit runs a child test process that starts a cluster with
// StopOnExit(true) and exits without stopping it; the watcher must shut the
// server down and remove the directory.
func TestStopOnExit(t *testing.T) {
	skipWithoutPostgres(t)
	t.Parallel()
	if dir := os.Getenv("PGCLUSTER_TEST_CHILD_DIR"); dir != "" {
		c, err := Start(context.Background(), Options{Dir: dir, Fast: true})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		if err := c.StopOnExit(true); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Printf("PORT %d\n", c.Port())
		os.Exit(0) // no Stop
	}
	dir := tempDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopOnExit$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGCLUSTER_TEST_CHILD_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	var port int
	for line := range strings.Lines(string(out)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "PORT "); ok {
			port, _ = strconv.Atoi(p)
		}
	}
	if port == 0 {
		t.Fatalf("child printed no port: %s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		if os.IsNotExist(statErr) && portFree(port) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not cleaned up after its process exited (dir stat: %v, port %d free: %v)", statErr, port, portFree(port))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReadTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, bytes.Repeat([]byte("abcdefghi\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readTail(p, 25)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(s, "abcdefghi\n") || len(s) > 30 {
		t.Errorf("readTail = %q", s)
	}
}
