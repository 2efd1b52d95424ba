package mailin

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a session, which choose its read deadline (see guardConn).
const (
	phaseCommand int32 = iota // before MAIL: CommandTimeout between commands
	phaseMail                 // after MAIL: ReadTimeout between commands
	phaseData                 // in DATA: ReadTimeout of silence, reset as bytes arrive
)

// guardListener hands go-smtp connections wrapped in a guardConn, and
// refuses with 421 4.7.0 a client address that already holds perIP
// connections (perIP 0: no cap).
type guardListener struct {
	net.Listener
	cfg   *Config
	perIP int
	log   *slog.Logger

	mu    sync.Mutex
	count map[string]int
}

func newGuardListener(l net.Listener, cfg *Config, perIP int, log *slog.Logger) *guardListener {
	return &guardListener{Listener: l, cfg: cfg, perIP: perIP, log: log, count: make(map[string]int)}
}

// Accept returns the next connection within its address's cap; excess
// connections are answered and closed without reaching go-smtp.
func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientKey(c.RemoteAddr())
		if !l.take(ip) {
			l.log.Info("connection refused", "reason", "per-address connection limit", "limit", l.perIP)
			go refuse(c, l.cfg.Hostname)
			continue
		}
		g := &guardConn{Conn: c, cfg: l.cfg, end: time.Now().Add(l.cfg.MaxSessionTime)}
		g.release = func() { l.give(ip) }
		return g, nil
	}
}

func (l *guardListener) take(ip string) bool {
	if l.perIP <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip] >= l.perIP {
		return false
	}
	l.count[ip]++
	return true
}

func (l *guardListener) give(ip string) {
	if l.perIP <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
}

// refuse answers a connection over its address's cap and closes it.
func refuse(c net.Conn, hostname string) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "421 4.7.0 "+hostname+" Too many connections from your address; try again later\r\n")
}

// clientKey is what the per-address connection cap counts: the IPv4
// address, or the /64 network of an IPv6 address (one subscriber line or
// host is given a whole /64, so counting single IPv6 addresses would let
// one client take every slot with addresses of its own network).
// Anything that is not an IP address counts as itself.
func clientKey(a net.Addr) string {
	if a == nil {
		return ""
	}
	host := a.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip = ip.Unmap(); ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}

// guardConn sets the connection's read deadlines whatever go-smtp asks:
// go-smtp sets ReadTimeout before each command line and never during
// DATA. Before MAIL the wait for a command is CommandTimeout (an idle
// client is cut quickly); after it, ReadTimeout; during DATA (phaseData)
// the deadline moves ReadTimeout ahead before every read, so a slow but
// progressing sender goes on and a stalled one is cut. No deadline goes
// past the session's end (MaxSessionTime after accept). After a read
// error (a timeout), every later read reports io.EOF, so go-smtp writes its
// reply and closes instead of reading the rest of a stalled message.
type guardConn struct {
	net.Conn
	cfg     *Config
	end     time.Time
	phase   atomic.Int32
	dead    atomic.Bool
	once    sync.Once
	release func()
}

// setPhase changes the deadline regime (one of the phase constants).
func (c *guardConn) setPhase(p int32) {
	if c != nil {
		c.phase.Store(p)
	}
}

func (c *guardConn) deadline() time.Time {
	d := c.cfg.ReadTimeout
	if c.phase.Load() == phaseCommand {
		d = c.cfg.CommandTimeout
	}
	t := time.Now().Add(d)
	if t.After(c.end) {
		t = c.end
	}
	return t
}

// SetReadDeadline replaces go-smtp's deadline by the phase's one, unless
// go-smtp's is earlier (its Shutdown ends an idle session's wait with a
// deadline of now).
func (c *guardConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		return c.Conn.SetReadDeadline(t)
	}
	return c.Conn.SetReadDeadline(minTime(t, c.deadline()))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (c *guardConn) Read(p []byte) (int, error) {
	if c.dead.Load() {
		return 0, io.EOF
	}
	if c.phase.Load() == phaseData {
		if err := c.Conn.SetReadDeadline(c.deadline()); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if err != nil {
		c.dead.Store(true)
	}
	return n, err
}

func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	return err
}

// isTimeout reports a network timeout anywhere in err's chain.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
