package mailin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/mailin"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

const domain = "forum.test"

type fixture struct {
	store *threads.Store
	addr  string
	url   string
	srv   *mailin.Server
}

// start runs a real server on 127.0.0.1:0 over a freshly migrated database.
// The River client is insert-only: processing is not under test here.
func start(t *testing.T, cfg mailin.Config, lmtp bool) *fixture {
	t.Helper()
	return startWith(t, cfg, lmtp, nil, nil)
}

// startWith is start for any test (or fuzz target) t, logging to log
// (nil: nowhere), with the intake the store wrapped by wrap (nil: the
// store itself).
func startWith(t testing.TB, cfg mailin.Config, lmtp bool, log *slog.Logger, wrap func(*threads.Store) mailin.Intake) *fixture {
	t.Helper()
	url := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	pool := threadstest.Pool(t, url)
	keys, err := threads.DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	def.Forum.Domain = domain
	st := threads.NewStore(pool, threads.ConfigFrom(def, []byte(strings.Repeat("k", 32))), keys, threads.Options{Jobs: rc, Log: log})
	var intake mailin.Intake = st
	if wrap != nil {
		intake = wrap(st)
	}
	srv := mailin.New(withDefaults(cfg, mailin.ConfigFrom(def)), intake, st.Addresses(), log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if lmtp {
			_ = srv.ServeLMTP(l)
		} else {
			_ = srv.ServeSMTP(l)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &fixture{store: st, addr: l.Addr().String(), url: url, srv: srv}
}

// dial opens an SMTP session as client.example.net, closed at cleanup.
func dial(t *testing.T, addr string) *smtptest.Client {
	t.Helper()
	c, err := smtptest.Dialer{}.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func code(err error) int { return smtptest.Code(err) }

func message(msgID, body string) string {
	return "From: Alice <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Sleep\r\nMessage-ID: <" + msgID + ">\r\n\r\n" + body + "\r\n"
}

// send runs one transaction on c; the first refusal ends it.
func send(c *smtptest.Client, from string, to []string, msg string) error {
	_, err := c.Transact(smtptest.Mail{From: from, To: to, Data: []byte(msg)})
	return err
}

func countInbound(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM inbound`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAcceptStoresBeforeReplying(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, false)
	c := dial(t, f.addr)
	if err := send(c, "alice@example.org", []string{"ask@forum.test"}, message("q1@example.org", "How do I sleep?")); err != nil {
		t.Fatalf("send: %v", err)
	}
	// 250 was answered: the row must already be committed, with its job.
	var state string
	var jobs int
	pool := f.store.Pool()
	if err := pool.QueryRow(context.Background(), `SELECT state FROM inbound WHERE message_id = 'q1@example.org'`).Scan(&state); err != nil {
		t.Fatalf("inbound row after 250: %v", err)
	}
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'postern.process'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if state != "accepted" || jobs != 1 {
		t.Fatalf("state %q jobs %d, want accepted and 1", state, jobs)
	}
}

func TestRelayDeniedAndUnknownAddresses(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, false)
	c := dial(t, f.addr)
	if err := c.Mail("spammer@example.com", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rcpt     string
		code     int
		enhanced smtp.EnhancedCode
	}{
		{"victim@gmail.com", 550, smtp.EnhancedCode{5, 7, 1}},
		{"ask@forum.test.evil.com", 550, smtp.EnhancedCode{5, 7, 1}},
		{"postmaster-nobody@forum.test", 550, smtp.EnhancedCode{5, 1, 1}},
		{"reply+notatoken@forum.test", 550, smtp.EnhancedCode{5, 1, 1}},
	}
	for _, tc := range tests {
		err := c.Rcpt(tc.rcpt, nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != tc.code || se.EnhancedCode != tc.enhanced {
			t.Errorf("RCPT %s: got %v, want %d %v", tc.rcpt, err, tc.code, tc.enhanced)
		}
		if se != nil && strings.Contains(se.Message, "@") {
			t.Errorf("RCPT %s: reply text %q contains an address", tc.rcpt, se.Message)
		}
	}
	if countInbound(t, f) != 0 {
		t.Fatal("refused mail was stored")
	}
}

func TestForgedTokenPostsNothing(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, false)
	// A token signed with another server's secret, and a valid one with
	// one character changed.
	otherKeys, _ := threads.DeriveKeys([]byte(strings.Repeat("x", 32)), nil, 0)
	foreign := threads.NewAddresses(threads.Config{Domain: domain}, otherKeys).Reply(1, 1, 0)
	valid := f.store.Addresses().Reply(1, 1, 0)
	at := strings.IndexByte(valid, '@')
	b := []byte(valid)
	if b[at-3] == 'a' {
		b[at-3] = 'b'
	} else {
		b[at-3] = 'a'
	}
	for _, rcpt := range []string{foreign, string(b), valid[:at-4] + valid[at:]} {
		c := dial(t, f.addr)
		err := send(c, "mallory@example.com", []string{rcpt}, message("forged@example.com", "I am Alice now"))
		if code(err) != 550 {
			t.Errorf("forged token: got %v, want 550", err)
		}
	}
	if n := countInbound(t, f); n != 0 {
		t.Fatalf("%d messages stored from forged tokens", n)
	}
}

func TestOversizedMessageGets552(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{MaxMessageBytes: 64 << 10}, false)
	c := dial(t, f.addr)
	big := message("big@example.org", strings.Repeat("x", 76)+"\r\n")
	// Past the limit but within twice it: go-smtp drains the rest and
	// answers 552 (a client still sending past twice the limit has its
	// connection closed instead, which drill 5 covers; here that would
	// race the reply against the client's writes).
	big = big + strings.Repeat(strings.Repeat("y", 76)+"\r\n", 1000)
	err := send(c, "alice@example.org", []string{"ask@forum.test"}, big)
	if code(err) != 552 {
		t.Fatalf("oversized: got %v, want 552", err)
	}
	if countInbound(t, f) != 0 {
		t.Fatal("oversized message stored")
	}
	// The connection stays usable for a normal message.
	c2 := dial(t, f.addr)
	if err := send(c2, "alice@example.org", []string{"ask@forum.test"}, message("small@example.org", "hi")); err != nil {
		t.Fatalf("normal message after 552: %v", err)
	}
}

func TestDuplicateDeliveryStoredOnce(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, false)
	for i := 0; i < 3; i++ {
		c := dial(t, f.addr)
		if err := send(c, "alice@example.org", []string{"ask@forum.test"}, message("same@example.org", "retry")); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if n := countInbound(t, f); n != 1 {
		t.Fatalf("stored %d copies, want 1", n)
	}
	// The same Message-ID from another sender is another message.
	c := dial(t, f.addr)
	if err := send(c, "bob@example.net", []string{"ask@forum.test"}, message("same@example.org", "other")); err != nil {
		t.Fatal(err)
	}
	if n := countInbound(t, f); n != 2 {
		t.Fatalf("stored %d, want 2", n)
	}
	// The same message later sent to another forum address is a new delivery.
	c = dial(t, f.addr)
	if err := send(c, "alice@example.org", []string{"subscribe@forum.test"}, message("same@example.org", "retry")); err != nil {
		t.Fatal(err)
	}
	if n := countInbound(t, f); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
}

func TestMailLoopRefused(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{MaxReceived: 5}, false)
	c := dial(t, f.addr)
	msg := strings.Repeat("Received: from a by b; Tue, 1 Jan 2030 00:00:00 +0000\r\n", 6) + message("loop@example.org", "x")
	if err := send(c, "alice@example.org", []string{"ask@forum.test"}, msg); code(err) != 554 {
		t.Fatalf("loop: got %v, want 554", err)
	}
}

// TestDatabaseLostMidDataGets451 cuts the server off from its database
// while the client is sending DATA: the client must get a 4xx, the
// server must keep running, and nothing may be half-stored.
func TestDatabaseLostMidDataGets451(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{CommitTimeout: 5 * time.Second}, false)
	ctx := context.Background()
	u, err := neturl.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	c := dial(t, f.addr)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ask@forum.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	msg := message("cut@example.org", "half of a message")
	if _, err := io.WriteString(w, msg[:len(msg)/2]); err != nil {
		t.Fatal(err)
	}
	// Mid-DATA: refuse new connections and kill every existing one.
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS false`, pgx.Identifier{dbname}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbname); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, msg[len(msg)/2:]); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if c := code(err); c < 400 || c >= 500 {
		t.Fatalf("DATA with the database gone: got %v, want 4xx", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS true`, pgx.Identifier{dbname}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	n := countInbound(t, f)
	if n != 0 {
		t.Fatalf("%d rows half-stored", n)
	}
	// The server kept running: the client's retry now succeeds.
	c2 := dial(t, f.addr)
	if err := send(c2, "alice@example.org", []string{"ask@forum.test"}, msg); err != nil {
		t.Fatalf("retry after the database came back: %v", err)
	}
	if n := countInbound(t, f); n != 1 {
		t.Fatalf("after retry: %d rows, want 1", n)
	}
}

func TestLMTPPerRecipientStatus(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, true)
	c, err := smtptest.Dialer{LMTP: true, Helo: "mx.example.net"}.Dial(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ask@forum.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("subscribe@forum.test", nil); code(err) != 452 {
		// Another action than ask's: its own transaction (issue 10 #11).
		t.Fatalf("second action in one LMTP transaction: %v, want 452", err)
	}
	if err := c.Rcpt("ask@forum.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("nobody@forum.test", nil); code(err) != 550 {
		t.Fatalf("unknown LMTP rcpt: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, message("lmtp@example.org", "via postfix")); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	if err != nil {
		t.Fatalf("LMTP DATA: %v", err)
	}
	if len(resp) != 1 || resp["ask@forum.test"] == nil {
		t.Fatalf("per-recipient statuses %v, want one 250 per accepted recipient", resp)
	}
	if countInbound(t, f) != 1 {
		t.Fatal("LMTP message not stored once")
	}
}

// TestRateLimitAtRcpt: past Question2Answer's hourly limit (10 questions
// per person) the next RCPT gets 450 4.7.1, so the sender's server keeps
// the message and retries later; other people are not affected.
func TestRateLimitAtRcpt(t *testing.T) {
	t.Parallel()
	// Its 12 sessions stay open until the end: lift the per-address cap.
	f := start(t, mailin.Config{MaxConnectionsPerIP: 20}, false)
	for i := 0; i < 10; i++ {
		c := dial(t, f.addr)
		if err := send(c, "eager@example.org", []string{"ask@forum.test"}, message(fmt.Sprintf("q%d@example.org", i), "question")); err != nil {
			t.Fatalf("question %d: %v", i, err)
		}
	}
	c := dial(t, f.addr)
	if err := c.Mail("eager@example.org", nil); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("ask@forum.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 450 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) {
		t.Fatalf("11th question in an hour: %v, want 450 4.7.1", err)
	}
	c2 := dial(t, f.addr)
	if err := send(c2, "calm@example.org", []string{"ask@forum.test"}, message("calm@example.org.1", "question")); err != nil {
		t.Fatalf("another sender was limited: %v", err)
	}
}

// TestMemoryBudget: the bytes of messages in flight are bounded over all
// sessions. A session that cannot get memory within CommitTimeout gets
// 451 4.3.1 (its server retries); the session holding the memory
// completes, and the memory is free again afterwards.
func TestMemoryBudget(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	f := start(t, mailin.Config{MaxMessageBytes: 1 << 20, MemoryBudget: 7 << 20, CommitTimeout: time.Second}, false)
	body := strings.Repeat(strings.Repeat("z", 99)+"\r\n", 9000) // ~900 KB
	open := func(id string) (*smtptest.Client, io.WriteCloser) {
		c := dial(t, f.addr)
		if err := c.Mail("alice@example.org", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("ask@forum.test", nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, message(id, body)); err != nil {
			t.Fatal(err)
		}
		return c, w
	}
	// Two sessions hold most of the budget mid-DATA; a third cannot get it.
	_, wa := open("a@example.org")
	_, wb := open("b@example.org")
	// Paces, does not wait for an outcome: the server reads a and b's
	// bytes (and takes their memory) before c starts. Should it not have,
	// c gets memory and the test fails; it cannot pass by the pause.
	time.Sleep(200 * time.Millisecond)
	_, wc := open("c@example.org")
	if err := wc.Close(); code(err) != 451 {
		t.Fatalf("third session over the budget: %v, want 451", err)
	}
	for _, w := range []io.WriteCloser{wa, wb} {
		if err := w.Close(); err != nil {
			t.Fatalf("session holding the budget: %v", err)
		}
	}
	c := dial(t, f.addr)
	if err := send(c, "alice@example.org", []string{"ask@forum.test"}, message("d@example.org", body)); err != nil {
		t.Fatalf("after the budget was released: %v", err)
	}
	if n := countInbound(t, f); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
}

// TestMemoryBudgetNoDeadlock: more concurrent messages than the budget
// holds, each sent in pieces, all get through: a session never waits for
// memory while holding some, so partial holders cannot block each other.
func TestMemoryBudgetNoDeadlock(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{MaxMessageBytes: 1 << 20, MemoryBudget: 6 << 20, CommitTimeout: 20 * time.Second}, false)
	line := strings.Repeat("w", 99) + "\r\n"
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			c, err := smtptest.Dialer{Helo: "x.example"}.Dial(f.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Mail("bulk@example.org", nil); err != nil {
				errs <- err
				return
			}
			if err := c.Rcpt("ask@forum.test", nil); err != nil {
				errs <- err
				return
			}
			w, err := c.Data()
			if err != nil {
				errs <- err
				return
			}
			io.WriteString(w, "From: <bulk@example.org>\r\nMessage-ID: <bulk"+fmt.Sprint(i)+"@example.org>\r\n\r\n")
			for j := 0; j < 9; j++ {
				io.WriteString(w, strings.Repeat(line, 1000)) // 100 KB pieces
				time.Sleep(20 * time.Millisecond)             // paces: the pieces interleave across sessions
			}
			errs <- w.Close()
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Errorf("session: %v", err)
		}
	}
	if n := countInbound(t, f); n != 8 {
		t.Fatalf("stored %d of 8", n)
	}
}
