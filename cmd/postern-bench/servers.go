package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// markerRe finds the benchmark marker a generated message carries in its
// text; Postern copies the post's text into each notification.
var markerRe = regexp.MustCompile(`pbm-[0-9]+z`)

// replyRe finds the reply address in a notification's header, confirmRe
// the address answering a confirmation request.
var (
	replyRe   = regexp.MustCompile(`reply\+[a-z0-9]+@[a-z0-9.-]+`)
	confirmRe = regexp.MustCompile(`confirm\+[a-z0-9]+@[a-z0-9.-]+`)
)

// listen opens a loopback listener on a free port.
func listen() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	return l, nil
}

// newServer returns a go-smtp server for be with limits fit for the bench.
func newServer(be smtp.Backend, name string, log *slog.Logger) *smtp.Server {
	srv := smtp.NewServer(be)
	srv.Domain = name
	srv.MaxMessageBytes = 32 << 20
	srv.MaxRecipients = 100
	srv.MaxLineLength = 8192
	srv.ReadTimeout, srv.WriteTimeout = 2*time.Minute, time.Minute
	srv.ErrorLog = errorLog{log.With("server", name)}
	return srv
}

type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.log.Debug(fmt.Sprint(v...)) }

// arrival is when messages carrying one marker reached the sink.
type arrival struct {
	n           int
	first, last time.Time
}

// sink is the in-process SMTP server standing in for Postern's relay. It
// records, per marker, how many messages arrived and when, and for watched
// recipients the reply address of each notification.
type sink struct {
	srv   *smtp.Server
	l     net.Listener
	addr  string
	total atomic.Int64
	log   *slog.Logger

	mu       sync.Mutex
	byMarker map[string]*arrival
	watched  map[string]bool
	replyTo  map[string]map[string]string // recipient → marker → reply address
	confirm  map[string]string            // recipient → latest confirm+TOKEN address
}

func startSink(log *slog.Logger) (*sink, error) {
	l, err := listen()
	if err != nil {
		return nil, err
	}
	s := &sink{l: l, addr: l.Addr().String(), log: log, byMarker: map[string]*arrival{},
		watched: map[string]bool{}, replyTo: map[string]map[string]string{}, confirm: map[string]string{}}
	s.srv = newServer(s, "sink.test", log)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) close() { _ = s.srv.Close() }

// watch makes the sink keep the reply addresses of notifications to rcpts.
func (s *sink) watch(rcpts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rcpts {
		s.watched[r] = true
	}
}

// seen returns the arrival record of marker (zero when none arrived).
func (s *sink) seen(marker string) arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.byMarker[marker]; a != nil {
		return *a
	}
	return arrival{}
}

// replyAddress returns the reply address of the notification about marker
// sent to rcpt, if it arrived.
func (s *sink) replyAddress(rcpt, marker string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.replyTo[rcpt][marker]
	return a, ok
}

// confirmAddress returns the address answering the latest confirmation
// request sent to rcpt.
func (s *sink) confirmAddress(rcpt string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.confirm[rcpt]
	return a, ok
}

// record notes one received message.
func (s *sink) record(rcpts []string, data []byte, at time.Time) {
	s.total.Add(1)
	head, body := data, []byte(nil)
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head, body = data[:i], data[i:]
	}
	// Undo quoted-printable soft line breaks, which may split a marker.
	body = bytes.ReplaceAll(body, []byte("=\r\n"), nil)
	// A notification can quote other posts (the question's title, the
	// parent): every marker in it counts.
	found := markerRe.FindAll(body, -1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rcpts {
		if s.watched[r] {
			s.log.Debug("sink received", "rcpt", r, "bytes", len(data), "markers", len(found))
			if c := confirmRe.Find(head); c != nil {
				s.confirm[r] = string(c)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range found {
		marker := string(m)
		if seen[marker] {
			continue
		}
		seen[marker] = true
		s.note(marker, rcpts, head, at)
	}
}

// note records one arrival of marker; the caller holds s.mu.
func (s *sink) note(marker string, rcpts []string, head []byte, at time.Time) {
	a := s.byMarker[marker]
	if a == nil {
		a = &arrival{first: at}
		s.byMarker[marker] = a
	}
	a.n++
	a.last = at
	for _, r := range rcpts {
		if !s.watched[r] {
			continue
		}
		if reply := replyRe.Find(head); reply != nil {
			if s.replyTo[r] == nil {
				s.replyTo[r] = map[string]string{}
			}
			s.replyTo[r][marker] = string(reply)
		}
	}
}

// NewSession implements smtp.Backend.
func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink  *sink
	rcpts []string
}

func (ss *sinkSession) Reset()                               { ss.rcpts = nil }
func (ss *sinkSession) Logout() error                        { return nil }
func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("sink: read message: %w", err)
	}
	ss.sink.record(ss.rcpts, data, time.Now())
	return nil
}

// discardServer is the protocol-cost ceiling: a go-smtp server that accepts
// everything and keeps nothing.
type discardServer struct {
	srv  *smtp.Server
	addr string
}

func startDiscard(log *slog.Logger) (*discardServer, error) {
	l, err := listen()
	if err != nil {
		return nil, err
	}
	d := &discardServer{addr: l.Addr().String()}
	d.srv = newServer(discardBackend{}, "discard.test", log)
	go func() { _ = d.srv.Serve(l) }()
	return d, nil
}

func (d *discardServer) close() { _ = d.srv.Close() }

type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Reset()                               { /* nothing kept */ }
func (discardSession) Logout() error                        { return nil }
func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	return nil
}

// idealRelay is the end-to-end latency ceiling: a store-and-forward relay
// doing the least a durable one must. At the end of DATA it commits the
// message in one single-row transaction and answers 250; then, in the
// background, it commits a state change and hands the message to the sink
// over a fresh SMTP connection (as Postern's relay client does).
type idealRelay struct {
	srv      *smtp.Server
	addr     string
	pool     *pgxpool.Pool
	sinkAddr string
	rcpt     string
	wg       sync.WaitGroup
	failures atomic.Int64
}

func startIdealRelay(pool *pgxpool.Pool, sinkAddr, rcpt string, log *slog.Logger) (*idealRelay, error) {
	l, err := listen()
	if err != nil {
		return nil, err
	}
	r := &idealRelay{addr: l.Addr().String(), pool: pool, sinkAddr: sinkAddr, rcpt: rcpt}
	r.srv = newServer(r, "ideal.test", log)
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// close stops listening and waits for messages still being forwarded.
func (r *idealRelay) close() {
	_ = r.srv.Close()
	r.wg.Wait()
}

// NewSession implements smtp.Backend.
func (r *idealRelay) NewSession(*smtp.Conn) (smtp.Session, error) { return &idealSession{r: r}, nil }

type idealSession struct{ r *idealRelay }

func (*idealSession) Reset()                               {}
func (*idealSession) Logout() error                        { return nil }
func (*idealSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*idealSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *idealSession) Data(rd io.Reader) error {
	data, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("ideal relay: read: %w", err)
	}
	r := s.r
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var id int64
	if err := r.pool.QueryRow(ctx, `INSERT INTO bench_ceiling (payload) VALUES ($1) RETURNING id`, data).Scan(&id); err != nil {
		return fmt.Errorf("ideal relay: store: %w", err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := r.pool.Exec(ctx, `UPDATE bench_ceiling SET done = true WHERE id = $1`, id); err != nil {
			r.failures.Add(1)
			return
		}
		if err := sendFresh(r.sinkAddr, outMsg{from: "bounce@ideal.test", rcpt: []string{r.rcpt}, data: data}); err != nil {
			r.failures.Add(1)
		}
	}()
	return nil
}
