package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/postern/postern/internal/imaptest"
	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/mailin/imap/imapurl"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

const (
	testUser = "forum@provider.example"
	testPass = "hunter2-imap"
)

// memServer is go-imap's in-memory server on a loopback port, with one
// user holding INBOX and Done.
type memServer struct {
	user *imapmemserver.User
	addr string
	ln   *dropListener
}

// idleCaps and pollCaps are what the test servers offer: MOVE, or not
// (moved with COPY + STORE + UID EXPUNGE). IDLE is always offered.
var (
	idleCaps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}
	pollCaps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}
)

func startServer(t *testing.T, caps imap.CapSet) *memServer {
	t.Helper()
	return startServerTLS(t, caps, nil, false)
}

// startServerTLS is startServer offering STARTTLS with tc (nil: none,
// and plain-text login allowed), or TLS from the start when implicit.
func startServerTLS(t *testing.T, caps imap.CapSet, tc *tls.Config, implicit bool) *memServer {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(testUser, testPass)
	mem.AddUser(u)
	for _, f := range []string{"INBOX", "Done"} {
		if err := u.Create(f, nil); err != nil {
			t.Fatal(err)
		}
	}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return imaptest.Session(mem), nil, nil
		},
		Caps: caps, InsecureAuth: tc == nil, Logger: log.New(io.Discard, "", 0),
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &dropListener{Listener: inner}
	var serveOn net.Listener = ln
	if implicit {
		serveOn = tls.NewListener(ln, tc)
	} else {
		opts.TLSConfig = tc
	}
	srv := imapserver.New(opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(serveOn)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		ln.drop()
	})
	return &memServer{user: u, addr: inner.Addr().String(), ln: ln}
}

// dropListener remembers the connections it accepted, so that a test can
// drop them all as a failing server would.
type dropListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// drop closes every connection accepted so far.
func (l *dropListener) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// url is the mailbox URL of the server's INBOX with query q.
func (s *memServer) url(q string) string {
	return "imap://" + strings.ReplaceAll(testUser, "@", "%40") + ":" + testPass + "@" + s.addr + "/INBOX" + q
}

func (s *memServer) appendMsg(t *testing.T, folder, raw string) {
	t.Helper()
	if _, err := s.user.Append(folder, bytes.NewReader([]byte(raw)), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// count is the number of messages in folder.
func (s *memServer) count(t *testing.T, folder string) int {
	t.Helper()
	st, err := s.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return int(*st.NumMessages)
}

// flags returns the flags of each message in folder, read with a client
// of the test's own.
func (s *memServer) flags(t *testing.T, folder string) [][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]imap.Flag, len(msgs))
	for i, m := range msgs {
		out[i] = m.Flags
	}
	return out
}

// question is a question to ask@ delivered by a provider, numbered n.
func question(n int) string {
	return fmt.Sprintf("Return-Path: <reader@example.org>\r\nDelivered-To: ask@forum.test\r\nFrom: Reader <reader@example.org>\r\n"+
		"To: ask@forum.test\r\nMessage-ID: <q%d@example.org>\r\nSubject: Question %d\r\n\r\nWhy %d?\r\n", n, n, n)
}

// logBuf collects log lines for the test's checks.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startReceiver reads the mailbox of url into st until the test ends
// (or stop is called), with its configuration changed by adjust.
func startReceiver(t *testing.T, st *threads.Store, url string, logs *logBuf, adjust ...func(*Config)) (stop func()) {
	t.Helper()
	_, stop = startReceiverStop(t, st, url, logs, adjust...)
	return stop
}

// startReceiverR is startReceiver returning the receiver.
func startReceiverR(t *testing.T, st *threads.Store, url string, logs *logBuf, adjust ...func(*Config)) *Receiver {
	t.Helper()
	r, _ := startReceiverStop(t, st, url, logs, adjust...)
	return r
}

func startReceiverStop(t *testing.T, st *threads.Store, url string, logs *logBuf, adjust ...func(*Config)) (*Receiver, func()) {
	t.Helper()
	ms, err := imapurl.ParseList(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Domain: storetest.Domain, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	for _, f := range adjust {
		f(&cfg)
	}
	r := New(cfg, ms, st, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.Start()
	var once sync.Once
	stop := func() { once.Do(r.Close) }
	t.Cleanup(stop)
	return r, stop
}

// polling makes a receiver poll rather than IDLE.
func polling(c *Config) { c.NoIdle = true }

// stored returns the Message-IDs of the inbound rows from IMAP, sorted.
func stored(t *testing.T, st *threads.Store) []string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT message_id FROM inbound WHERE source = 'imap' ORDER BY message_id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitUntil polls cond until it holds, failing the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("q%d@example.org", n))
	}
	slices.Sort(out)
	return out
}
