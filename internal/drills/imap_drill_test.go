package drills

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/postern/postern/internal/imaptest"
)

// TestDrillIMAPCrash (issue 13's exactly-once drill): the instance reads
// a provider's mailbox (go-imap's in-memory server, in this process) of
// 300 questions and is SIGKILLed three times at random moments while it
// reads, then restarted. Each message is stored once and becomes one
// post, and the mailbox ends with every message in the done folder.
func TestDrillIMAPCrash(t *testing.T) {
	n, kills := 300, 3
	if full {
		n, kills = 3000, 5
	}
	start := time.Now()
	w := newWorld(t)
	box := imaptest.Start(t, "forum", "drill-pass")
	user, url := box.User, box.URL
	in := w.startInstance("a", "--imap", url)
	// The provider delivers the questions one by one (about 3 s in all)
	// while the instance reads them; it is killed at random moments of
	// that reading.
	delivered := make(chan error, 1)
	go func() {
		for i := range n {
			raw := fmt.Sprintf("Delivered-To: ask@%s\r\nReturn-Path: <reader%d@load.test>\r\nFrom: Reader %d <reader%d@load.test>\r\nTo: ask@%s\r\n"+
				"Message-ID: <imap-drill-%d@load.test>\r\nSubject: Mailbox question %d\r\n\r\nRead from the mailbox, number %d.\r\n", Domain, i%20, i%20, i%20, Domain, i, i, i)
			if _, err := user.Append("INBOX", bytes.NewReader([]byte(raw)), &imap.AppendOptions{}); err != nil {
				delivered <- err
				return
			}
			time.Sleep(10 * time.Millisecond) // the pace of the provider's deliveries
		}
		delivered <- nil
	}()
	rng := rand.New(rand.NewPCG(13, 3))
	var during []int // what the done folder held at each kill
	for range kills {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond) // a random moment of the reading
		during = append(during, box.Count(t, "Done"))
		in.kill()
		in.start()
	}
	if err := <-delivered; err != nil {
		t.Fatal(err)
	}
	t.Logf("the done folder held %v of %d at the kills", during, n)
	if !slices.ContainsFunc(during, func(c int) bool { return c > 0 && c < n }) {
		t.Errorf("no kill came while the mailbox was being read (the done folder held %v of %d)", during, n)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for box.Count(t, "INBOX") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still in INBOX after 3 minutes:\n%s", box.Count(t, "INBOX"), lastLines(in.logText(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.drain(5 * time.Minute)
	var stored, distinct, posts int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT message_id), count(DISTINCT post_id) FROM inbound WHERE source = 'imap'`).
		Scan(&stored, &distinct, &posts); err != nil {
		t.Fatal(err)
	}
	if stored != n || distinct != n || posts != n {
		t.Errorf("%d messages in the mailbox: %d stored (%d distinct), %d posts; want each once", n, stored, distinct, posts)
	}
	if done := box.Count(t, "Done"); done != n {
		t.Errorf("%d messages in the done folder, want %d", done, n)
	}
	received, dups := w.ids.counts()
	w.record(result{Drill: "IMAP crash (issue 13)", Load: fmt.Sprintf("%d questions read from a mailbox", n),
		Faults: fmt.Sprintf("%d SIGKILL + restart while reading", kills), Sent: n, Stored: stored, Received: received, Duplicates: dups,
		Lost: n - distinct, Took: time.Since(start)}, in)
}
