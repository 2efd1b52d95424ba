package drills

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDrillPressure (drill 8): under load, first every PostgreSQL
// connection slot is taken (the instance's own connections cut off), then
// the inbound table is locked past the commit timeout (a statement that
// cannot finish in time). Senders get 4xx meanwhile, never a 5xx; the
// instance recovers by itself; nothing is lost, no notification is sent
// twice.
func TestDrillPressure(t *testing.T) {
	n, conc, hold := 600, 10, 4*time.Second
	if full {
		n, conc, hold = 3000, 20, 30*time.Second
	}
	start := time.Now()
	w := newWorld(t)
	// A small connection limit, so that the drill can take every slot.
	w.stopDatabase()
	w.pgOpts.Settings = append(w.pgOpts.Settings, "max_connections = 40")
	w.startDatabase()
	in := w.startInstance("a", "--commit-timeout", "2s")
	w.confirmMembers(in)
	l := &load{name: "pressure", targets: targets([]*instance{in}), retryIn: 200 * time.Millisecond}
	done := startLoad(t, l, n, conc)
	waitProgress(l, n/4, done)
	slots := w.takeEverySlot()
	time.Sleep(hold)
	for _, c := range slots {
		_ = c.Close(context.Background())
	}
	waitProgress(l, n/2, done)
	locked := w.lockInbound(hold)
	<-done
	w.drain(5 * time.Minute)
	if !in.running() {
		t.Fatalf("the instance exited:\n%s", in.logText())
	}
	r := w.tally(result{Drill: "8 pressure", Load: fmt.Sprintf("%d questions, c=%d", n, conc),
		Faults: fmt.Sprintf("all %d free connection slots taken and the instance's cut off for %v; the inbound table locked %v past a 2 s commit timeout", len(slots), hold, locked),
		Took:   time.Since(start)}, l, []*instance{in}, false)
	if r.Retried == 0 {
		t.Error("no sender was deferred under pressure: the faults did not bite")
	}
}

// takeEverySlot opens connections until PostgreSQL refuses more (too
// many clients), cuts off every other connection to the database (the
// instance's), and takes the slots they freed before the instance can
// reconnect. It returns the connections, which hold the slots until
// closed.
func (w *world) takeEverySlot() []*pgx.Conn {
	w.t.Helper()
	ctx := context.Background()
	var conns []*pgx.Conn
	fill := func() {
		for len(conns) < 200 {
			c, err := pgx.Connect(ctx, w.dbURL)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "53300" { // too_many_connections
				return
			}
			if err != nil {
				w.t.Fatalf("take a connection slot: %v", err)
			}
			conns = append(conns, c)
		}
		w.t.Fatal("PostgreSQL took 200 connections: its limit is not the drill's")
	}
	fill()
	if len(conns) == 0 {
		w.t.Fatal("no free connection slot to take")
	}
	pids := make([]uint32, len(conns))
	for i, c := range conns {
		pids[i] = c.PgConn().PID()
	}
	if _, err := conns[0].Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> ALL($1::int[])`, pids); err != nil {
		w.t.Fatalf("cut off the instance's connections: %v", err)
	}
	fill()
	return conns
}

// lockInbound holds an exclusive lock on the inbound table for hold (once
// it has it) and returns how long it held it.
func (w *world) lockInbound(hold time.Duration) time.Duration {
	w.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE inbound IN ACCESS EXCLUSIVE MODE`); err != nil {
		w.t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(hold)
	_ = tx.Rollback(ctx)
	return time.Since(start).Round(time.Second)
}
