package mailin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/mailin"
	"github.com/postern/postern/threads"
)

// observedIntake is the real store, watched: it records the inbound ids
// of the messages the store committed.
type observedIntake struct {
	*threads.Store
	mu     sync.Mutex
	stored []int64
}

func (o *observedIntake) AcceptBuffer(ctx context.Context, env threads.Envelope, buf *threads.InboundBuffer) (threads.Accepted, error) {
	res, err := o.Store.AcceptBuffer(ctx, env, buf)
	if err == nil {
		o.mu.Lock()
		o.stored = append(o.stored, res.InboundID)
		o.mu.Unlock()
	}
	return res, err
}

func (o *observedIntake) AcceptStream(ctx context.Context, env threads.Envelope, buf *threads.InboundBuffer, rest io.Reader, wait time.Duration) (threads.Accepted, error) {
	res, err := o.Store.AcceptStream(ctx, env, buf, rest, wait)
	if err == nil {
		o.mu.Lock()
		o.stored = append(o.stored, res.InboundID)
		o.mu.Unlock()
	}
	return res, err
}

// take returns the ids recorded since the last take.
func (o *observedIntake) take() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := o.stored
	o.stored = nil
	return ids
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

const fuzzMsg = "From: Alice <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Sleep\r\nMessage-ID: <f1@example.org>\r\n\r\nHow do I sleep?\r\n"

// FuzzSMTPSession drives a real mailin.Server over loopback (one server
// and database for the whole run) with fuzzed session bytes, written at
// once and then half-closed, as a pipelining or hostile client sends
// them. Whatever the bytes, the server must not panic (go-smtp would
// recover, log it and answer 421 4.0.0), every reply must be well formed
// (RFC 5321 4.2), and a 250 to a message (the reply after a 354) must mean
// the store committed it: at least as many commits as such replies, every
// one a row in inbound. BDAT's replies are not told apart from commands'
// and are checked for form only.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<ask@forum.test>\r\nDATA\r\n" + fuzzMsg + ".\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ask@forum.test>\r\nRCPT TO:<subscribe@forum.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster@forum.test>\r\nDATA\r\n\r\n..dot\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ask@forum.test>\r\nDATA\r\nSubject: bare\nLF\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ask@forum.test>\r\nDATA\r\nSubject: cr\r\r\n.\r\r\n.\r\n",
		"EHLO x\r\nDATA\r\nRCPT TO:<ask@forum.test>\r\nMAIL FROM:<a@example.org> SIZE=99999999999\r\nAUTH PLAIN AGFAYg==\r\nSTARTTLS\r\nVRFY a\r\nNOOP\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ask@forum.test>\r\nBDAT 5\r\nab\r\ncBDAT 0 LAST\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<reply+zzzz@forum.test>\r\nRCPT TO:<victim@elsewhere.example>\r\nRCPT TO:<\x00@forum.test>\r\n",
		"\x00\xff\r\n" + strings.Repeat("A", 1100) + "\r\nEHLO \xc3\x28\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ask@forum.test>\r\nDATA\r\nunterminated",
		"LHLO x\r\nehlo x\r\nmail from:<A@EXAMPLE.ORG>\r\nrcpt to:<ASK@FORUM.TEST>\r\ndata\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	logs := &lockedBuffer{}
	var obs *observedIntake
	fx := startWith(f, mailin.Config{
		MaxMessageBytes: 64 << 10, MaxRecipients: 10, MaxConnectionsPerIP: 1000,
		CommandTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxSessionTime: 5 * time.Second,
	}, false, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		func(st *threads.Store) mailin.Intake {
			obs = &observedIntake{Store: st}
			return obs
		})
	f.Fuzz(func(t *testing.T, session []byte) {
		replies := runSession(t, fx.addr, session)
		stored := obs.take()
		if l := logs.take(); strings.Contains(l, "panic") {
			t.Fatalf("the server panicked:\n%s", l)
		}
		dataOK := 0
		for i, r := range replies {
			code, err := smtptest.ReplyCode(r)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if code == 421 && strings.Contains(r, "4.0.0") {
				t.Fatalf("the server recovered from a panic: %q", r)
			}
			if code == 250 && i > 0 && strings.HasPrefix(replies[i-1], "354") {
				dataOK++
			}
		}
		if len(stored) < dataOK {
			t.Fatalf("%d messages answered 250, %d stored", dataOK, len(stored))
		}
		if len(stored) > 0 {
			var n int
			if err := fx.store.Pool().QueryRow(context.Background(), `SELECT count(DISTINCT id) FROM inbound WHERE id = ANY($1)`, stored).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := distinct(stored); n != want {
				t.Fatalf("%d of %d committed messages are in inbound", n, want)
			}
		}
	})
}

// runSession writes session to a new connection to addr, half-closes it
// and returns every reply (lines of one joined by "\n") until the server
// closes the connection.
func runSession(t *testing.T, addr string, session []byte) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(session)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	r := smtptest.NewRaw(conn)
	var replies []string
	for {
		rep, err := r.Reply(15 * time.Second)
		if err != nil {
			if rep != "" {
				t.Fatalf("reply cut short: %q (%v)", rep, err)
			}
			if err != io.EOF && !isReset(err) {
				t.Fatalf("reading replies: %v", err)
			}
			break
		}
		replies = append(replies, rep)
	}
	<-wrote // a write the server did not read fails: that is its right
	return replies
}

// isReset reports a connection the server closed with input left unread.
func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func distinct(ids []int64) int {
	seen := map[int64]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}
