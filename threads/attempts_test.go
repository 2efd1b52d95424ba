package threads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDatabaseUnreachable: an error from a database that cannot be
// reached is told apart from one the database answered with.
func TestDatabaseUnreachable(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	_, connErr := pgx.Connect(ctx, "postgres://postern@"+deadAddr(t)+"/postern?connect_timeout=2")
	if connErr == nil {
		t.Fatal("connected to nothing")
	}
	_, sqlErr := st.pool.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
	if sqlErr == nil {
		t.Fatal("exception not raised")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{connErr, true},
		{fmt.Errorf("lock inbound: %w", connErr), true},
		{sqlErr, false},
		{fmt.Errorf("insert post: %w", sqlErr), false},
		{errors.New("load thread chain: 1 of 2 posts missing"), false},
	} {
		if got := DatabaseUnreachable(c.err); got != c.want {
			t.Errorf("DatabaseUnreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
