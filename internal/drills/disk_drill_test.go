package drills

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDrillDiskFull (drill 8, its last part): PostgreSQL's disk (a small
// tmpfs mounted for the drill) filled in the middle of the load, then
// freed. Senders get 4xx meanwhile, never a 5xx; once space returns the
// instance recovers by itself; nothing is lost, no notification is sent
// twice. It needs root (mount); without it, it is skipped, saying why.
func TestDrillDiskFull(t *testing.T) {
	n, conc, hold := 400, 10, 5*time.Second
	if full {
		n, conc, hold = 2000, 20, 30*time.Second
	}
	start := time.Now()
	var mnt string
	w := newWorldWith(t, func(dir string) {
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=320m,mode=0755", "tmpfs", dir).CombinedOutput()
		if err != nil {
			t.Skipf("a tmpfs cannot be mounted here (%v: %s): the full-disk drill needs root and mount", err, out)
		}
		mnt = dir
		t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	})
	in := w.startInstance("a", "--commit-timeout", "3s")
	w.confirmMembers(in)
	l := &load{name: "diskfull", targets: targets([]*instance{in}), retryIn: 200 * time.Millisecond,
		// Large enough that the rows written during the fault need disk
		// space PostgreSQL has not set aside already (relation
		// extension ahead of need, free space left by deleted rows).
		pad: 16 << 10}
	done := startLoad(t, l, n, conc)
	waitProgress(l, n/3, done)
	filler := filepath.Join(mnt, "filler")
	probed := make(chan error, 1)
	size := fill(t, filler, hold, func() { probed <- w.probeWrite() })
	probeErr := <-probed
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL shuts itself down when it cannot write its WAL for long
	// (a PANIC, then a crash recovery that fails on the full disk): the
	// operator's service manager (systemd's Restart=) starts it again.
	// Start reuses a server still running.
	down := !w.databaseAnswers()
	w.startDatabase()
	<-done
	w.drain(5 * time.Minute)
	if !in.running() {
		t.Fatalf("the instance exited:\n%s", in.logText())
	}
	r := w.tally(result{Drill: "8 pressure: disk full", Load: fmt.Sprintf("%d questions, c=%d", n, conc),
		Faults: fmt.Sprintf("PostgreSQL's disk filled (%d MiB of filler) for %v, then freed%s", size>>20, hold,
			map[bool]string{true: " (PostgreSQL had shut itself down: started again, as its service manager would)"}[down]), Took: time.Since(start)},
		l, []*instance{in}, false)
	// The fault is real when PostgreSQL itself could not write new data;
	// whether a sender was deferred depends on the space PostgreSQL had
	// set aside (pages extended ahead, WAL segments made in advance), so
	// it is reported, not required.
	if probeErr == nil {
		t.Error("PostgreSQL wrote 4 MB of new rows while the disk was full: the fault did not bite")
	}
	t.Logf("while the disk was full: a 4 MB write was refused (%v); %d senders deferred", probeErr, r.Retried)
}

// probeWrite writes about 4 MB of new, incompressible rows to a table of
// its own and returns PostgreSQL's error (nil: the write fitted).
func (w *world) probeWrite() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `CREATE TABLE IF NOT EXISTS drill_disk_probe (b text);
		INSERT INTO drill_disk_probe SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 2000) g, generate_series(1, 64) r GROUP BY r`)
	return err
}

// fill writes path until the disk is full, calls full in a goroutine of
// its own, and keeps the disk full for hold from then: PostgreSQL frees
// space by itself (a checkpoint removes old WAL segments), which a
// single fill would leave to it, so the filler takes back whatever
// appears. The hold starts at the first ENOSPC, so a slow machine still
// holds the disk full for all of it; a disk that does not fill within a
// minute fails the test. It returns the filler's final size.
func fill(t *testing.T, path string, hold time.Duration, full func()) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var size int64
	var end time.Time
	deadline := time.Now().Add(time.Minute)
	for end.IsZero() || time.Now().Before(end) {
		n, err := f.Write(chunk)
		size += int64(n)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			if end.IsZero() {
				end = time.Now().Add(hold)
				go full()
			}
			time.Sleep(20 * time.Millisecond)
		case err != nil:
			t.Fatal(err)
		case end.IsZero() && time.Now().After(deadline):
			t.Fatalf("the disk did not fill in a minute (%d MiB written)", size>>20)
		}
	}
	return size
}

// databaseAnswers reports whether PostgreSQL accepts a connection within
// a few seconds.
func (w *world) databaseAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		return false
	}
	_ = c.Close(ctx)
	return true
}
