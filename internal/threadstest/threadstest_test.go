package threadstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The package's own tests also check that it leaves no goroutine behind.
func TestMain(m *testing.M) { MainVerifyNoLeaks(m) }

func dbExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestURLFreshAndDropped(t *testing.T) {
	var names []string
	t.Run("use", func(t *testing.T) {
		u1, u2 := URL(t), URL(t)
		if u1 == u2 {
			t.Fatalf("same URL twice: %s", u1)
		}
		for i, u := range []string{u1, u2} {
			pool := Pool(t, u)
			ctx := context.Background()
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("fresh database has %d tables", n)
			}
			if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE t%d (v int)", i)); err != nil {
				t.Fatal(err)
			}
			names = append(names, dbName(t, u))
		}
		// A connection left open must not stop the drop.
		conn, err := pgx.Connect(context.Background(), u1)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn
	})
	for _, name := range names {
		if dbExists(t, name) {
			t.Errorf("database %s not dropped at cleanup", name)
		}
	}
}

func TestNewMigratedDatabase(t *testing.T) {
	var calls atomic.Int32
	migrate := func(ctx context.Context, url string) error {
		calls.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE item (v text); INSERT INTO item VALUES ('seed')")
		return err
	}
	ctx := context.Background()
	urls := make([]string, 4)
	for i := range urls {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			urls[i] = NewMigratedDatabase(t, "test-key", migrate)
			pool := Pool(t, urls[i])
			var v string
			if err := pool.QueryRow(ctx, "SELECT v FROM item").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != "seed" {
				t.Errorf("v = %q", v)
			}
			// Changes stay in this copy.
			if _, err := pool.Exec(ctx, "INSERT INTO item VALUES ('mine')"); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM item").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("count = %d, want 2", n)
			}
		})
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("migrate called %d times, want 1", got)
	}
}

func TestNewMigratedDatabaseParallel(t *testing.T) {
	var calls atomic.Int32
	migrate := func(ctx context.Context, url string) error {
		calls.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE p (v int)")
		return err
	}
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			pool := Pool(t, NewMigratedDatabase(t, "parallel", migrate))
			if _, err := pool.Exec(context.Background(), "INSERT INTO p VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Cleanup(func() {
		if got := calls.Load(); got != 1 {
			t.Errorf("migrate called %d times, want 1", got)
		}
	})
}

func TestMakeTemplateMigrateError(t *testing.T) {
	server(t)
	name := templateName("broken")
	t.Cleanup(func() { _ = dropDatabase(context.Background(), name) })
	boom := errors.New("boom")
	err := makeTemplate(context.Background(), serverURL, name, func(context.Context, string) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("makeTemplate error = %v, want boom", err)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@h:5/postgres?sslmode=disable", "postgres://u:p@h:5/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h dbname=postgres", "host=h dbname=postgres dbname=x"},
	} {
		got, err := withDatabase(tc.in, "x")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if n := templateName(strings.Repeat("Key-With Stuff!", 5)); len(n) > 63 || strings.ContainsAny(n, "- !") {
		t.Errorf("templateName = %q", n)
	}
}
