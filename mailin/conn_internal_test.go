package mailin

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.7:2525", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:25", "192.0.2.7"},
		{"[2001:db8:1:2::1]:25", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:25", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:25", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:25", "fe80::/64"},
		{"[::1]:25", "::/64"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := clientKey(fakeAddr(c.addr)); got != c.want {
			t.Errorf("clientKey(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
	if clientKey(nil) != "" {
		t.Error("clientKey(nil) is not empty")
	}
}

// TestPerAddressCapCountsIPv6Networks: three addresses of one IPv6 /64
// share one quota (the third is refused with 421 4.7.0), while an address
// of the next /64 is still taken.
func TestPerAddressCapCountsIPv6Networks(t *testing.T) {
	ln := &fakeListener{conns: make(chan net.Conn, 4)}
	g := newGuardListener(ln, &Config{Hostname: "mx.test", MaxSessionTime: time.Minute}, 2, slog.New(slog.DiscardHandler))
	var refused []net.Conn
	for _, a := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:1", "[2001:db8:1:2::3]:1", "[2001:db8:1:3::1]:1"} {
		server, client := net.Pipe()
		ln.conns <- &addrConn{Conn: server, remote: fakeAddr(a)}
		refused = append(refused, client)
	}
	for _, want := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:1", "[2001:db8:1:3::1]:1"} {
		c, err := g.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr().String(); got != want {
			t.Fatalf("accepted %s, want %s", got, want)
		}
		defer c.Close()
	}
	_ = refused[2].SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(refused[2]).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "421 4.7.0 ") {
		t.Fatalf("third address of the /64: %q, %v; want 421 4.7.0", line, err)
	}
	if _, err := refused[2].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("refused connection not closed: %v", err)
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// fakeListener hands out the connections put in conns.
type fakeListener struct{ conns chan net.Conn }

func (l *fakeListener) Accept() (net.Conn, error) { return <-l.conns, nil }
func (l *fakeListener) Close() error              { return nil }
func (l *fakeListener) Addr() net.Addr            { return fakeAddr("127.0.0.1:25") }
