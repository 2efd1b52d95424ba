package doctor

import (
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailout"
)

// zone is a fake DNS: the records of each name by type. A name in fail
// answers with that error; block makes every query wait for its context.
type zone struct {
	mx    map[string][]*net.MX
	txt   map[string][]string
	ip    map[string][]net.IPAddr
	ptr   map[string][]string
	fail  map[string]error
	block bool
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func lookup[T any](ctx context.Context, z *zone, m map[string][]T, name string) ([]T, error) {
	if z.block {
		<-ctx.Done()
		return nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true}
	}
	name = strings.TrimSuffix(name, ".")
	if err := z.fail[name]; err != nil {
		return nil, err
	}
	if r, ok := m[name]; ok && len(r) > 0 {
		return r, nil
	}
	return nil, notFound(name)
}

func (z *zone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookup(ctx, z, z.mx, name)
}
func (z *zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookup(ctx, z, z.txt, name)
}
func (z *zone) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return lookup(ctx, z, z.ip, host)
}
func (z *zone) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookup(ctx, z, z.ptr, addr)
}

var _ Resolver = (*net.Resolver)(nil)

func ips(s ...string) []net.IPAddr {
	var out []net.IPAddr
	for _, a := range s {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out
}

// goodZone is forum.test with every record right for the relay
// relay.test at 192.0.2.10 and the DKIM record want.
func goodZone(want string) *zone {
	return &zone{
		mx: map[string][]*net.MX{"forum.test": {{Host: "mx.forum.test.", Pref: 10}}},
		txt: map[string][]string{
			"forum.test":                    {"v=spf1 include:_spf.relay.test -all", "google-site-verification=x"},
			"_spf.relay.test":               {"v=spf1 ip4:192.0.2.0/24 -all"},
			"postern._domainkey.forum.test": {want},
			"_dmarc.forum.test":             {"v=DMARC1; p=reject; rua=mailto:alice.person@example.com; adkim=s"},
		},
		ip: map[string][]net.IPAddr{
			"mx.forum.test":    ips("192.0.2.1"),
			"relay.test":       ips("192.0.2.10", "127.0.0.1"),
			"out.relay.test":   ips("192.0.2.10"),
			"other.relay.test": ips("198.51.100.7"),
		},
		ptr:  map[string][]string{"192.0.2.10": {"out.relay.test."}},
		fail: map[string]error{},
	}
}

// dkimKey writes a key and returns its file and its record as DNS
// returns it (the quoted strings joined).
func dkimKey(t *testing.T) (file, record string) {
	t.Helper()
	pem, txt, err := mailout.GenerateDKIMKey("rsa")
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(file, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, unquote(txt)
}

func dnsConfig(keyFile string) config.Config {
	cfg := config.Default()
	cfg.Forum.Domain = "forum.test"
	cfg.Forum.BaseURL = "https://www.forum.test"
	cfg.Notify.RelayURL = "smtp://relay.test:587"
	cfg.Notify.DKIMKeyFile = keyFile
	return cfg
}

// results indexes rs by check ("ptr" is the first ptr line).
func results(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		if _, dup := m[r.Check]; !dup {
			m[r.Check] = r
		}
	}
	return m
}

// TestDNSChecks: each record right, missing and wrong, with a fake
// resolver: the status, and for a problem the record to publish.
func TestDNSChecks(t *testing.T) {
	t.Parallel()
	keyFile, want := dkimKey(t)
	_, other := dkimKey(t)
	for _, tc := range []struct {
		name   string
		change func(z *zone, cfg *config.Config)
		check  string
		status Status
		in     string // in Detail or Fix
	}{
		{"mx ok", nil, "mx", OK, "10 mx.forum.test (192.0.2.1)"},
		{"mx missing", func(z *zone, _ *config.Config) { delete(z.mx, "forum.test") }, "mx", Fix, "forum.test. IN MX 10 www.forum.test."},
		{"mx null", func(z *zone, _ *config.Config) { z.mx["forum.test"] = []*net.MX{{Host: "."}} }, "mx", Fix, "null MX"},
		{"mx host without address", func(z *zone, _ *config.Config) { delete(z.ip, "mx.forum.test") }, "mx", Fix, "mx.forum.test. IN A"},
		{"mx servfail", func(z *zone, _ *config.Config) { z.fail["forum.test"] = &net.DNSError{Err: "server misbehaving"} }, "mx", Fix, "server misbehaving"},
		{"spf ok through include", nil, "spf", OK, "passes 192.0.2.10"},
		{"spf missing", func(z *zone, _ *config.Config) { z.txt["forum.test"] = []string{"other"} }, "spf", Fix, `forum.test. IN TXT "v=spf1 ip4:192.0.2.10 -all"`},
		{"spf two records", func(z *zone, _ *config.Config) {
			z.txt["forum.test"] = []string{"v=spf1 mx -all", "v=spf1 a -all"}
		}, "spf", Fix, "2 SPF records"},
		{"spf without the relay", func(z *zone, _ *config.Config) { z.txt["forum.test"] = []string{"v=spf1 ip4:198.51.100.1 ~all"} }, "spf", Fix,
			`"v=spf1 ip4:198.51.100.1 ip4:192.0.2.10 ~all"`},
		{"spf include broken", func(z *zone, _ *config.Config) { delete(z.txt, "_spf.relay.test") }, "spf", Fix, "permerror"},
		{"spf outgoing unknown (loopback relay)", func(_ *zone, cfg *config.Config) { cfg.Notify.RelayURL = "smtp://127.0.0.1:25" }, "spf", OK, "not evaluated"},
		{"dkim ok", nil, "dkim", OK, "public half of"},
		{"dkim missing", func(z *zone, _ *config.Config) { delete(z.txt, "postern._domainkey.forum.test") }, "dkim", Fix, "postern._domainkey.forum.test. IN TXT \"v=DKIM1; k=rsa; p="},
		{"dkim other key", func(z *zone, _ *config.Config) { z.txt["postern._domainkey.forum.test"] = []string{other} }, "dkim", Fix, "not the public half"},
		{"dkim revoked", func(z *zone, _ *config.Config) {
			z.txt["postern._domainkey.forum.test"] = []string{"v=DKIM1; k=rsa; p="}
		}, "dkim", Fix, "revoked"},
		{"dkim two records", func(z *zone, _ *config.Config) {
			z.txt["postern._domainkey.forum.test"] = []string{want, other}
		}, "dkim", Fix, "2 DKIM records"},
		{"dkim not configured", func(_ *zone, cfg *config.Config) { cfg.Notify.DKIMKeyFile = "" }, "dkim", Warn, "postern dkim keygen --domain forum.test"},
		{"dkim key unreadable", func(_ *zone, cfg *config.Config) { cfg.Notify.DKIMKeyFile = "/nonexistent/dkim.pem" }, "dkim", Fix, "/nonexistent/dkim.pem"},
		{"dmarc ok", nil, "dmarc", OK, "p=reject; adkim=s"},
		{"dmarc missing", func(z *zone, _ *config.Config) { delete(z.txt, "_dmarc.forum.test") }, "dmarc", Fix, `_dmarc.forum.test. IN TXT "v=DMARC1; p=none"`},
		{"dmarc two", func(z *zone, _ *config.Config) {
			z.txt["_dmarc.forum.test"] = []string{"v=DMARC1; p=none", "v=DMARC1; p=reject"}
		}, "dmarc", Fix, "2 DMARC records"},
		{"dmarc bad policy", func(z *zone, _ *config.Config) { z.txt["_dmarc.forum.test"] = []string{"v=DMARC1; p=maybe"} }, "dmarc", Fix, "no valid p="},
		{"ptr ok", nil, "ptr", OK, "192.0.2.10 (relay host relay.test; the relay may send from other addresses) is out.relay.test"},
		{"ptr missing", func(z *zone, _ *config.Config) { delete(z.ptr, "192.0.2.10") }, "ptr", Fix, "10.2.0.192.in-addr.arpa. IN PTR www.forum.test."},
		{"ptr not confirmed", func(z *zone, _ *config.Config) { z.ptr["192.0.2.10"] = []string{"other.relay.test."} }, "ptr", Fix, "other.relay.test. IN A 192.0.2.10"},
		{"ptr loopback relay", func(_ *zone, cfg *config.Config) { cfg.Notify.RelayURL = "smtp://127.0.0.1:25" }, "ptr", Warn, "--outgoing-ip"},
		{"ptr maildir", func(_ *zone, cfg *config.Config) { cfg.Notify.RelayURL = "" }, "ptr", OK, "no mail leaves"},
		{"no domain", func(_ *zone, cfg *config.Config) { cfg.Forum.Domain = "" }, "domain", Fix, `domain = "forum.example.org"`},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			z, cfg := goodZone(want), dnsConfig(keyFile)
			z.txt, z.mx = maps.Clone(z.txt), maps.Clone(z.mx)
			if tc.change != nil {
				tc.change(z, &cfg)
			}
			rs := checkDNS(context.Background(), timed{r: z, d: time.Second}, cfg, nil)
			r, found := results(rs)[tc.check]
			if !found {
				t.Fatalf("no %s result in %+v", tc.check, rs)
			}
			if r.Status != tc.status || !strings.Contains(r.Detail+" "+r.Fix, tc.in) {
				t.Errorf("%s: %s %q fix %q; want %s with %q", tc.check, r.Status, r.Detail, r.Fix, tc.status, tc.in)
			}
			for _, r := range rs {
				if strings.Contains(r.Detail+r.Fix, "alice.person") {
					t.Errorf("%s shows the DMARC report address: %q", r.Check, r.Detail)
				}
			}
			if tc.change == nil {
				for _, r := range rs {
					if r.Status != OK {
						t.Errorf("good zone: %s is %s: %s (%s)", r.Check, r.Status, r.Detail, r.Fix)
					}
				}
			}
		})
	}
}

// TestOutgoingIP: --outgoing-ip replaces the relay's addresses in the
// SPF and reverse DNS checks.
func TestOutgoingIP(t *testing.T) {
	t.Parallel()
	z := goodZone("")
	cfg := dnsConfig("")
	cfg.Notify.RelayURL = "smtp://127.0.0.1:25"
	rs := results(checkDNS(context.Background(), timed{r: z, d: time.Second}, cfg, []net.IP{net.ParseIP("198.51.100.7")}))
	if r := rs["spf"]; r.Status != Fix || !strings.Contains(r.Fix, "ip4:198.51.100.7") || !strings.Contains(r.Detail, "--outgoing-ip") {
		t.Errorf("spf: %+v", r)
	}
	if r := rs["ptr"]; r.Status != Fix || !strings.Contains(r.Fix, "7.100.51.198.in-addr.arpa.") {
		t.Errorf("ptr: %+v", r)
	}
}

// TestDNSBounded: a resolver that never answers makes every DNS check a
// FIX saying the lookup timed out, within the lookup timeouts.
func TestDNSBounded(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rs := checkDNS(context.Background(), timed{r: &zone{block: true}, d: 50 * time.Millisecond}, dnsConfig(""), nil)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	for _, r := range rs {
		if r.Check == "dkim" {
			continue // no key configured: no lookup
		}
		if r.Check == "ptr" { // the relay host did not resolve
			if r.Status != Warn || !strings.Contains(r.Detail, "did not resolve: timed out") {
				t.Errorf("ptr: %+v", r)
			}
			continue
		}
		if r.Status != Fix || !strings.Contains(r.Detail, "timed out") {
			t.Errorf("%s: %s %q", r.Check, r.Status, r.Detail)
		}
	}
}

// TestNoNetwork: the system's resolver with no name server reachable
// reports every lookup as failed and neither hangs nor panics.
func TestNoNetwork(t *testing.T) {
	t.Parallel()
	r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("network is unreachable")
	}}
	rep := Run(context.Background(), dnsConfig(""), Options{Resolver: r, LookupTimeout: time.Second, RelayTimeout: time.Second})
	rs := results(rep.Results)
	for _, c := range []string{"mx", "spf", "dmarc"} {
		if rs[c].Status != Fix || !strings.Contains(rs[c].Detail, "lookup of forum.test") && !strings.Contains(rs[c].Detail, "lookup of _dmarc") {
			t.Errorf("%s: %+v", c, rs[c])
		}
	}
	if rs["relay"].Status != Fix {
		t.Errorf("relay: %+v", rs["relay"])
	}
	if !rep.NeedsFix() {
		t.Error("no FIX")
	}
}

// TestDNSBlackhole: the system's resolver asking a name server that
// never answers (a UDP socket on 127.0.0.1 that reads and stays silent):
// every lookup times out, and the DNS checks end within about four
// lookup timeouts (the outgoing address, then the records side by side).
func TestDNSBlackhole(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The resolver's lookups outlive their callers' contexts a little
	// (net shares them between callers): closing their connections at
	// the end ends them.
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}}
	keyFile, _ := dkimKey(t)
	const lt = 200 * time.Millisecond
	start := time.Now()
	rs := checkDNS(context.Background(), timed{r: r, d: lt}, dnsConfig(keyFile), nil)
	if d := time.Since(start); d > 5*lt+time.Second {
		t.Errorf("took %v with lookups of %v", d, lt)
	}
	for _, r := range rs {
		want := Fix
		if r.Check == "ptr" {
			want = Warn // the relay host did not resolve
		}
		if r.Status != want || !strings.Contains(r.Detail, "timed out") {
			t.Errorf("%s: %s %q", r.Check, r.Status, r.Detail)
		}
	}
}
