package doctor

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailout"
	"github.com/postern/postern/threads"
)

// RelayTimeout bounds the relay probe (connection, TLS, EHLO and AUTH
// together); DatabaseTimeout bounds reading the schema version once
// connected (app.Connect bounds the connection itself to 10 s).
const (
	RelayTimeout    = 15 * time.Second
	DatabaseTimeout = 10 * time.Second
)

// Options tune a Run. The zero value checks with the system's DNS.
type Options struct {
	// Resolver answers every DNS query; nil: net.DefaultResolver.
	Resolver Resolver
	// OutgoingIPs are the public addresses mail leaves from (postern
	// doctor --outgoing-ip); nil: the relay host's addresses.
	OutgoingIPs []net.IP
	// LookupTimeout bounds each DNS query (0: LookupTimeout);
	// RelayTimeout the relay probe (0: RelayTimeout).
	LookupTimeout, RelayTimeout time.Duration
}

// Run checks the installation cfg describes and returns the report, in
// a fixed order: the DNS of the forum domain (mx, spf, dkim, dmarc,
// ptr), then database, schema, relay, secret, sealing-keys, base-url.
// The DNS, the database and the relay are checked concurrently; Run
// returns within about max(RelayTimeout, 10 s + DatabaseTimeout, the DNS
// lookups' timeouts) even when nothing answers. It changes nothing
// (no migration, no mail sent).
func Run(ctx context.Context, cfg config.Config, opts Options) Report {
	res := opts.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	lt := opts.LookupTimeout
	if lt <= 0 {
		lt = LookupTimeout
	}
	rt := opts.RelayTimeout
	if rt <= 0 {
		rt = RelayTimeout
	}
	dns := timed{r: res, d: lt}
	var dnsResults, store []Result
	var relay RelayFacts
	var wg sync.WaitGroup
	wg.Go(func() { dnsResults = checkDNS(ctx, dns, cfg, opts.OutgoingIPs) })
	wg.Go(func() { store = checkStore(ctx, cfg) })
	wg.Go(func() { relay = probeRelay(ctx, cfg, rt) })
	keys := CheckKeys(keyFacts(cfg))
	wg.Wait()
	rep := Report{Domain: domainOf(cfg)}
	rep.Results = append(rep.Results, dnsResults...)
	rep.Results = append(rep.Results, store...)
	rep.Results = append(rep.Results, CheckRelay(relay)...)
	rep.Results = append(rep.Results, keys...)
	rep.Results = append(rep.Results, CheckBaseURL(cfg.Forum.BaseURL))
	return rep
}

// domainOf is the forum domain in lower case, without a final dot.
func domainOf(cfg config.Config) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Forum.Domain)), ".")
}

// mailHost is the host name to suggest in MX and PTR records: the base
// URL's host when it is a public name, else the forum domain.
func mailHost(cfg config.Config) string {
	if u, err := url.Parse(cfg.Forum.BaseURL); err == nil {
		if h := u.Hostname(); h != "" && net.ParseIP(h) == nil && !isLoopbackHost(h) && strings.Contains(h, ".") {
			return strings.ToLower(h)
		}
	}
	return domainOf(cfg)
}

// checkDNS gathers the DNS facts of the forum domain and checks them:
// the outgoing address first (the SPF and PTR checks need it), then each
// record side by side, so that lookups that time out cost about four
// LookupTimeouts in all, not one each.
func checkDNS(ctx context.Context, r timed, cfg config.Config, ips []net.IP) []Result {
	domain := domainOf(cfg)
	if domain == "" {
		return []Result{fix("domain", "domain is not set: no DNS record can be checked", `domain = "forum.example.org" (POSTERN_DOMAIN)`)}
	}
	host := mailHost(cfg)
	out := outgoing(ctx, r, cfg, ips)
	var mx, spfR, dkim, dmarc Result
	var ptr []Result
	var wg sync.WaitGroup
	wg.Go(func() { mx = CheckMX(domain, host, mxFacts(ctx, r, domain)) })
	wg.Go(func() { spfR = CheckSPF(domain, spfFacts(ctx, r, domain, out)) })
	wg.Go(func() { dkim = CheckDKIM(domain, cfg.Notify.DKIMSel, dkimFacts(ctx, r, cfg)) })
	wg.Go(func() { dmarc = CheckDMARC(domain, answer(r.LookupTXT(ctx, "_dmarc."+domain))) })
	wg.Go(func() { ptr = CheckPTR(host, ptrFacts(ctx, r, out)) })
	wg.Wait()
	return append([]Result{mx, spfR, dkim, dmarc}, ptr...)
}

// mxFacts looks up the MX of domain and the addresses of its hosts.
func mxFacts(ctx context.Context, r Resolver, domain string) MXFacts {
	f := MXFacts{MX: answer(r.LookupMX(ctx, domain)), Hosts: map[string]Answer[net.IPAddr]{}}
	for i, m := range f.MX.Records {
		if name := strings.TrimSuffix(m.Host, "."); i < maxMXHosts && name != "" {
			f.Hosts[name] = answer(r.LookupIPAddr(ctx, name))
		}
	}
	return f
}

// spfFacts looks up the TXT records of domain and, when it has one SPF
// policy, evaluates it for the outgoing addresses within
// spfEvalLookups lookup timeouts.
func spfFacts(ctx context.Context, r timed, domain string, out Outgoing) SPFFacts {
	f := SPFFacts{TXT: answer(r.LookupTXT(ctx, domain)), Outgoing: out}
	if f.TXT.Err == nil && len(spfRecords(f.TXT.Records)) == 1 {
		ctx, cancel := context.WithTimeout(ctx, spfEvalLookups*r.d)
		defer cancel()
		f.Results, f.Errs = evalSPF(ctx, r, domain, out)
	}
	return f
}

// spfEvalLookups bounds an SPF evaluation (up to 10 lookups by RFC 7208
// section 4.6.4) to this many lookup timeouts.
const spfEvalLookups = 2

// outgoing finds the addresses outgoing mail leaves from: ips when given,
// else the relay host's public addresses.
func outgoing(ctx context.Context, r Resolver, cfg config.Config, ips []net.IP) Outgoing {
	if len(ips) > 0 {
		return Outgoing{IPs: ips[:min(len(ips), maxOutgoing)], Source: "--outgoing-ip", Leaves: true}
	}
	if cfg.Notify.RelayURL == "" {
		return Outgoing{Source: "no relay_url, no mail leaves (Maildir)"}
	}
	u, err := url.Parse(cfg.Notify.RelayURL)
	if err != nil || u.Hostname() == "" {
		return Outgoing{Source: "relay_url cannot be parsed", Leaves: true}
	}
	host := u.Hostname()
	var found []net.IP
	if ip := net.ParseIP(host); ip != nil {
		found = []net.IP{ip}
	} else if addrs, err := r.LookupIPAddr(ctx, host); err == nil {
		for _, a := range addrs {
			found = append(found, a.IP)
		}
	} else {
		return Outgoing{Source: "the relay host " + host + " did not resolve: " + dnsCause(err), Leaves: true}
	}
	o := Outgoing{Source: "relay host " + host + "; the relay may send from other addresses", Leaves: true}
	for _, ip := range found {
		if isPublic(ip) && len(o.IPs) < maxOutgoing {
			o.IPs = append(o.IPs, ip)
		}
	}
	if len(o.IPs) == 0 {
		o.Source = "the relay " + host + " is on this machine or a private network, so the public address is unknown"
	}
	return o
}

// isPublic reports whether ip may be the address a receiver sees.
func isPublic(ip net.IP) bool {
	return !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() && !ip.IsMulticast()
}

// dkimFacts loads the configured DKIM key and looks up its record.
func dkimFacts(ctx context.Context, r Resolver, cfg config.Config) DKIMFacts {
	n := cfg.Notify
	f := DKIMFacts{KeyFile: n.DKIMKeyFile, Name: strings.ToLower(n.DKIMSel) + "._domainkey." + domainOf(cfg)}
	if f.KeyFile == "" {
		return f
	}
	s, err := mailout.NewDKIMSigner(mailout.DKIMConfig{Domain: domainOf(cfg), Selector: n.DKIMSel, KeyFile: n.DKIMKeyFile})
	if err != nil {
		f.KeyErr = err
		return f
	}
	f.Name, f.Want = s.DNSName(), s.DNSTXT()
	f.TXT = answer(r.LookupTXT(ctx, f.Name))
	return f
}

// ptrFacts looks up the reverse DNS of each outgoing address and the
// addresses of the names found.
func ptrFacts(ctx context.Context, r Resolver, out Outgoing) PTRFacts {
	f := PTRFacts{Outgoing: out, Forward: map[string]Answer[net.IPAddr]{}}
	for _, ip := range out.IPs {
		names := answer(r.LookupAddr(ctx, ip.String()))
		f.Names = append(f.Names, names)
		for i, n := range names.Records {
			if n = strings.TrimSuffix(n, "."); i < 3 && n != "" {
				f.Forward[n] = answer(r.LookupIPAddr(ctx, n))
			}
		}
	}
	return f
}

// checkStore connects to the database and reads its schema version.
func checkStore(ctx context.Context, cfg config.Config) []Result {
	if cfg.Store.DatabaseURL == "" {
		return []Result{CheckDatabase(false, nil)}
	}
	pool, err := app.Connect(ctx, cfg.Store.DatabaseURL)
	if err != nil {
		return []Result{CheckDatabase(true, err)}
	}
	defer pool.Close()
	sctx, cancel := context.WithTimeout(ctx, DatabaseTimeout)
	defer cancel()
	s, err := threads.ReadSchema(sctx, pool)
	return []Result{CheckDatabase(true, nil), CheckSchema(s, err)}
}

// probeRelay probes the configured relay, within timeout.
func probeRelay(ctx context.Context, cfg config.Config, timeout time.Duration) RelayFacts {
	if cfg.Notify.RelayURL == "" {
		return RelayFacts{Maildir: cfg.Notify.Maildir}
	}
	r, err := app.NewRelay(cfg)
	if err != nil {
		return RelayFacts{URLErr: err}
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return RelayFacts{Probe: r.Probe(ctx)}
}

// keyFacts loads the secret and the sealing keys and seals and opens a
// value with them.
func keyFacts(cfg config.Config) KeyFacts {
	f := KeyFacts{SecretFile: cfg.Store.SecretFile, SealingKeysFile: cfg.Store.SealingKeysFile}
	if f.SecretFile == "" {
		return f
	}
	f.SecretMode, f.SealingMode = fileMode(f.SecretFile), fileMode(f.SealingKeysFile)
	keys, current, err := app.LoadKeys(cfg)
	if err != nil {
		f.Err = err
		return f
	}
	f.Current = current
	probe, ad := []byte("postern doctor"), []byte("doctor")
	id, sealed, err := keys.SealBytes(probe, ad)
	if err == nil {
		var opened []byte
		if opened, err = keys.OpenBytes(id, sealed, ad); err == nil && !bytes.Equal(opened, probe) {
			err = errors.New("the opened value differs")
		}
	}
	f.RoundTrip = err
	return f
}

// fileMode is the permission bits of path, 0 when it cannot be read.
func fileMode(path string) os.FileMode {
	if path == "" {
		return 0
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Mode().Perm()
}
