package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/guesslimit"
	"github.com/postern/postern/internal/metrics"
	"github.com/postern/postern/mailin"
	"github.com/postern/postern/mailin/auth"
	imapin "github.com/postern/postern/mailin/imap"
	"github.com/postern/postern/mailout"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
	"github.com/postern/postern/web"
)

// Options are what New takes besides the configuration: hooks with no
// setting.
type Options struct {
	// Log receives every part's log lines; nil: none are written.
	Log *slog.Logger
	// Resolver answers the DNS queries of Auth.Verify (tests pass a fake
	// one); nil: the system's.
	Resolver auth.Resolver
}

// App is one Postern server: the wiring of store, queue, receiver, sender
// and web server. It holds no logic of its own.
//
// Its life is New (connect, check the schema, build every part; nothing
// runs yet), Start (work the queue, then bind and serve each configured
// listener) and Close (stop, in order). An App is started at most once.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	pool  *pgxpool.Pool
	store *threads.Store
	river *river.Client[pgx.Tx]
	smtp  *mailin.Server
	imap  *imapin.Receiver // reads the mailboxes of POSTERN_IMAP_URL (none: nil)
	http  *http.Server
	pprof *http.Server // opt-in, loopback only
	// metrics are the server's Prometheus metrics, served by metricsSrv
	// on POSTERN_METRICS_ADDR (empty: not served).
	metrics    *metrics.Set
	metricsSrv *http.Server

	// notify is the notification worker; its remembered "sent" marks
	// (NotifyWorker.FlushSent) are written on a timer until done closes,
	// and once more in Close.
	notify *mailout.NotifyWorker
	done   chan struct{}

	smtpAddr, lmtpAddr, smtpsAddr, httpAddr, metricsAddr net.Addr
	// certs is the SMTP listeners' certificate (ReloadTLS); nil: no TLS.
	certs *mailin.Certs
	// listeners are every listener Start bound, closed by Close whatever
	// the servers did: a server whose Serve had not begun when Close came
	// (a stop right after the start) would not close its own, and Close
	// would wait for it for ever.
	listeners []net.Listener
	wg        sync.WaitGroup
}

// New connects to the database (cfg.Store.DatabaseURL, reading the secret
// and sealing keys: serve's settings, see config.Config.Require), checks
// that the schema is current (threads.ErrSchemaOld, naming `postern
// migrate`, if not) and builds every part: the store, the River client
// with the processing, notification, forward and maintenance workers, the
// outgoing sender (relay or Maildir, DKIM-signing when a key is set), the
// SMTP/LMTP server, the IMAP receiver and the web handler. Nothing runs and nothing listens
// until Start; on an error nothing is left open. It logs a warning when
// no DKIM/SPF evidence source is set and when trusted
// Authentication-Results could be written by a client that bypasses the
// front MTA (TrustedIDExposure).
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Auth.TrustedID == "" && !cfg.Auth.Verify {
		log.Warn("no DKIM/SPF evidence source: members' mail is held for their confirmation unless it replies to their own notification or comes from a trusted network; set POSTERN_AUTH_VERIFY_DKIM=true (Postern is the MX) or POSTERN_AUTH_TRUSTED_ID (behind a front MTA)")
	}
	if w := TrustedIDExposure(cfg); w != "" {
		log.Warn(w)
	}
	// One memory budget for the mail in flight: received, processed and
	// composed into notifications.
	mcfg := mailin.ConfigFrom(cfg)
	mcfg.Memory = semaphore.NewWeighted(mcfg.MemoryBudget)
	procWorkers, notifyConns := cfg.Workers()
	// Twice as many sending jobs as relay connections (NewRelay caps
	// them): while one job loads its batch or waits for its last "sent"
	// mark, another sends over the connection (docs/BENCHMARKS.md,
	// fan-out). Each job keeps its own crash window (markEvery).
	notifyWorkers := notifyJobsPerConn * notifyConns
	// Both worker pools, River's own producers and completer, and SMTP
	// sessions waiting to commit (they queue for a connection).
	var store *threads.Store // the metrics read its queues at each scrape
	m := metrics.New(func(ctx context.Context) (map[string]metrics.QueueState, error) { return queueStates(store)(ctx) })
	store, closePool, err := OpenStore(ctx, cfg, StoreOptions{Secret: true, MaxConns: int32(procWorkers + notifyWorkers + 16),
		Memory: mcfg.Memory, MemorySize: mcfg.MemoryBudget, Log: log, Resolver: opts.Resolver, OnCommit: m.Batch})
	if err != nil {
		return nil, err
	}
	rc, tmpl, notify, err := newWorkers(cfg, store, log, m, procWorkers, notifyWorkers)
	if err != nil {
		closePool()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, pool: store.Pool(), store: store, river: rc, notify: notify, done: make(chan struct{}), metrics: m}
	mcfg.Metrics = m
	m.Bounces(store.BounceCounts)
	if cfg.SMTP.TLSCertFile != "" {
		if mcfg.Certs, err = mailin.LoadCerts(cfg.SMTP.TLSCertFile, cfg.SMTP.TLSKeyFile); err != nil {
			closePool()
			return nil, err
		}
		a.certs = mcfg.Certs
	} else if w := plainSMTPExposure(cfg); w != "" {
		log.Warn(w)
	}
	// One count of bad tokens per network, for reply addresses and links.
	if cfg.Forum.Rates.Limits {
		mcfg.Guesses = guesslimit.New(cfg.Forum.Rates.BadTokensPerIP, time.Hour)
	}
	a.smtp = mailin.New(mcfg, store, store.Addresses(), log.With("component", "mailin"))
	icfg, mailboxes, err := imapin.ConfigFrom(cfg)
	if err != nil {
		closePool()
		return nil, err
	}
	if len(mailboxes) > 0 {
		icfg.Memory, icfg.MemoryBudget = mcfg.Memory, mcfg.MemoryBudget
		a.imap = imapin.New(icfg, mailboxes, store, log.With("component", "imap"))
		// /readyz fails while a mailbox has been unreachable for long.
		store.AddReadyCheck(a.imap.Ready)
		m.IMAPMailboxes(a.imap.Connected)
	}
	a.http = &http.Server{
		Handler:           web.New(store, tmpl, log.With("component", "web"), web.Options{Guesses: mcfg.Guesses, Metrics: m, Mailboxes: a.mailboxStates, TrustedProxies: cfg.Web.TrustedProxies}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	return a, nil
}

// notifyJobsPerConn is how many sending jobs run per relay connection.
const notifyJobsPerConn = 2

// newSender returns the outgoing mail path: the relay, else the Maildir,
// DKIM-signing when a key is set.
func newSender(cfg config.Config) (mailout.Sender, error) {
	var sender mailout.Sender
	var err error
	n := cfg.Notify
	if n.RelayURL != "" {
		sender, err = NewRelay(cfg)
	} else {
		sender, err = mailout.NewMaildir(n.Maildir)
	}
	if err != nil {
		return nil, fmt.Errorf("outgoing mail: %w", err)
	}
	if n.DKIMKeyFile != "" {
		signer, err := mailout.NewDKIMSigner(mailout.DKIMConfig{Domain: cfg.Forum.Domain, Selector: n.DKIMSel, KeyFile: n.DKIMKeyFile})
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		sender = mailout.WithDKIM(sender, signer)
	}
	return sender, nil
}

// relayTLS is the TLS configuration of a relay whose certificate must
// chain to the CAs of the PEM file path (POSTERN_RELAY_CA_FILE).
func relayTLS(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relay CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("relay CA file %s: no PEM certificate in it", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// newWorkers returns the River client that works the jobs of store
// (processing, notifications, forwards, maintenance), the templates the
// notifications and pages are written with, and the notification worker.
// The store enqueues through a client of its own (OpenStore), so this one
// can be made last.
func newWorkers(cfg config.Config, store *threads.Store, log *slog.Logger, m *metrics.Set, procWorkers, notifyWorkers int) (*river.Client[pgx.Tx], *templates.Set, *mailout.NotifyWorker, error) {
	tmpl, err := templates.New()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("templates: %w", err)
	}
	sender, err := newSender(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	notify := &mailout.NotifyWorker{Store: store, Templates: tmpl, Sender: sender, Log: log, Metrics: m}
	workers := river.NewWorkers()
	river.AddWorker(workers, &pipeline.ProcessWorker{Store: store, Log: log, Metrics: m})
	river.AddWorker(workers, notify)
	river.AddWorker(workers, &threads.MaintenanceWorker{Store: store})
	river.AddWorker(workers, &threads.FanoutWorker{Store: store})
	river.AddWorker(workers, &mailout.ForwardWorker{Store: store, Sender: sender, Log: log.With("component", "mailout")})
	rc, err := river.NewClient(riverpgxv5.New(store.Pool()), &river.Config{
		Queues: map[string]river.QueueConfig{
			river.QueueDefault:   {MaxWorkers: 1}, // maintenance
			threads.QueueProcess: {MaxWorkers: procWorkers},
			threads.QueueNotify:  {MaxWorkers: notifyWorkers},
		},
		Workers:           workers,
		Middleware:        []rivertype.Middleware{newIntakePriority(store)},
		Logger:            log.With("component", "river"),
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: 200 * time.Millisecond,
		JobTimeout:        5 * time.Minute,
		// A finished job says nothing the inbound and notifications rows
		// do not: keep them an hour, not River's default day, so that at
		// 100 messages/s river_job holds under a million rows, not 17
		// million, and its vacuums stay short. Failed (discarded) jobs
		// keep River's default week for inspection.
		CompletedJobRetentionPeriod: time.Hour,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return threads.MaintenanceArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true})},
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("job queue: %w", err)
	}
	return rc, tmpl, notify, nil
}

// Start begins working the queue (River's client, which also schedules
// the hourly maintenance job), starts reading the IMAP mailboxes
// (POSTERN_IMAP_URL; each connects in the background, retrying), then
// binds and serves, in this order, the SMTP, LMTP, HTTP, metrics and
// pprof listeners whose address is set. It returns
// once every listener is bound; the addresses are then known (SMTPAddr,
// LMTPAddr, HTTPAddr). On an error, what started keeps running: call
// Close. The end of ctx does not stop the jobs: Close does, letting a
// send in progress finish (River cancels its running jobs when its start
// context ends, and a notification cut off after the relay took it would
// be sent again).
func (a *App) Start(ctx context.Context) error {
	if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	a.wg.Add(2)
	go a.flushSentLoop()
	go a.heartbeatLoop()
	if a.imap != nil {
		a.imap.Start()
	}
	listen := func(addr, what string, serve func(net.Listener) error) (net.Addr, error) {
		if addr == "" {
			return nil, nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s on %s: %w", what, addr, err)
		}
		a.listeners = append(a.listeners, l)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := serve(l); err != nil && !isClosed(err) {
				a.log.Error("listener stopped", "what", what, "err", err)
			}
		}()
		a.log.Info("listening", "what", what, "addr", l.Addr().String())
		return l.Addr(), nil
	}
	var err error
	if a.smtpAddr, err = listen(a.cfg.SMTP.Addr, "smtp", a.smtp.ServeSMTP); err != nil {
		return err
	}
	if a.lmtpAddr, err = listen(a.cfg.SMTP.LMTPAddr, "lmtp", a.smtp.ServeLMTP); err != nil {
		return err
	}
	if a.smtpsAddr, err = listen(a.cfg.SMTP.SMTPSAddr, "smtps", a.smtp.ServeSMTPS); err != nil {
		return err
	}
	if a.httpAddr, err = listen(a.cfg.Web.HTTPAddr, "http", a.http.Serve); err != nil {
		return err
	}
	if a.cfg.Web.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		a.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if a.metricsAddr, err = listen(a.cfg.Web.MetricsAddr, "metrics", a.metricsSrv.Serve); err != nil {
			return err
		}
	}
	if a.cfg.Web.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		a.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if _, err = listen(a.cfg.Web.PprofAddr, "pprof", a.pprof.Serve); err != nil {
			return err
		}
	}
	return nil
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) || err.Error() == "smtp: server already closed"
}

// Close shuts everything down in order: no new mail (the IMAP mailboxes
// are let go once a batch being stored has committed; SMTP and LMTP stop
// accepting, answer 421 4.3.2 to sessions waiting for a command, and let
// sessions in DATA finish), no new requests (HTTP, pprof), then the queue
// stops after its running jobs end, within its own deadline
// (cfg.Shutdown.WorkerGrace, counted from then, not what is left of ctx),
// and the database pool closes last. Problems are logged, not returned:
// when ctx ends first, the SMTP sessions and requests still running are
// cut off. Once
// it returns, after a shutdown within ctx, no goroutine of the App is left
// (the whole-system tests check it with goleak). It is safe after a
// failed Start, and is called once.
func (a *App) Close(ctx context.Context) {
	if a.imap != nil {
		a.imap.Close()
	}
	if err := a.smtp.Shutdown(ctx); err != nil {
		a.log.Warn("smtp shutdown", "err", err)
	}
	if err := a.http.Shutdown(ctx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	if a.pprof != nil {
		_ = a.pprof.Close()
	}
	if a.metricsSrv != nil {
		_ = a.metricsSrv.Close()
	}
	for _, l := range a.listeners {
		_ = l.Close() // closed already by its server, unless its Serve had not begun
	}
	// The jobs' own deadline, not what the sessions left of ctx.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Shutdown.WorkerGrace)
	defer wcancel()
	if err := a.river.Stop(wctx); err != nil {
		a.log.Warn("job queue shutdown", "err", err)
	} else if err := a.store.Retire(wctx, a.river.ID()); err != nil {
		// Its jobs all ended: nothing for another instance to rescue.
		a.log.Warn("retire instance", "err", err)
	}
	close(a.done)
	a.wg.Wait()
	// Its own deadline: ctx may be spent by the sessions and jobs.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushSentInterval)
	a.flushSent(fctx)
	cancel()
	a.pool.Close()
}

// flushSentInterval is how often the notifications the relay accepted
// but whose "sent" mark could not be written are marked again.
const flushSentInterval = 2 * time.Second

// flushSentLoop writes the remembered "sent" marks on a timer until done
// closes: after a database outage they are written when it answers, with
// no job needed.
func (a *App) flushSentLoop() {
	defer a.wg.Done()
	t := time.NewTicker(flushSentInterval)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), flushSentInterval)
			a.flushSent(ctx)
			cancel()
		}
	}
}

// flushSent writes the remembered "sent" marks, logging a failure.
func (a *App) flushSent(ctx context.Context) {
	if _, err := a.notify.FlushSent(ctx); err != nil {
		a.log.Warn("remembered notifications not marked sent yet", "err", err)
	}
}

// Store is the App's store.
func (a *App) Store() *threads.Store { return a.store }

// Pool is the App's connection pool (the store's).
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// River is the client that works the App's jobs.
func (a *App) River() *river.Client[pgx.Tx] { return a.river }

// SMTPAddr is the address the SMTP listener is bound to, after Start; nil
// when none is configured. So are LMTPAddr and HTTPAddr.
func (a *App) SMTPAddr() net.Addr { return a.smtpAddr }

// LMTPAddr is the LMTP listener's address (see SMTPAddr).
func (a *App) LMTPAddr() net.Addr { return a.lmtpAddr }

// HTTPAddr is the HTTP listener's address (see SMTPAddr).
func (a *App) HTTPAddr() net.Addr { return a.httpAddr }

// TrustedIDExposure returns a warning when the front MTA's
// Authentication-Results are trusted (POSTERN_AUTH_TRUSTED_ID) while
// Postern's own SMTP listener is not on loopback: a client reaching it
// directly, not through the MTA, can write fields claiming the MTA's id
// that no MTA removed. "" when there is nothing to say.
func TrustedIDExposure(cfg config.Config) string {
	if cfg.Auth.TrustedID == "" || cfg.SMTP.Addr == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(cfg.SMTP.Addr)
	if ip := net.ParseIP(host); err == nil && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return ""
	}
	return "POSTERN_AUTH_TRUSTED_ID is set and SMTP listens beyond loopback: a client that reaches Postern's SMTP port directly, " +
		"not through the front MTA, can write Authentication-Results claiming its id; let only the MTA reach it " +
		"(listen on loopback, a firewall rule, or POSTERN_SMTP_ADDR= with LMTP only)"
}

// queueStates reads the queues' backlog from store for the metrics.
func queueStates(store *threads.Store) metrics.Queues {
	return func(ctx context.Context) (map[string]metrics.QueueState, error) {
		qs, err := store.QueueBacklog(ctx)
		out := make(map[string]metrics.QueueState, len(qs))
		for name, q := range qs {
			out[name] = metrics.QueueState{Waiting: q.Waiting, OldestDueSec: q.OldestDue.Seconds()}
		}
		return out, err
	}
}

// MetricsAddr is the metrics listener's address (nil when not serving).
func (a *App) MetricsAddr() net.Addr { return a.metricsAddr }

// mailboxStates is whether each IMAP mailbox is connected (none: nil).
func (a *App) mailboxStates() map[string]bool {
	if a.imap == nil {
		return nil
	}
	return a.imap.Connected()
}

// SMTPSAddr is the implicit-TLS SMTP listener's address (nil when off).
func (a *App) SMTPSAddr() net.Addr { return a.smtpsAddr }

// ReloadTLS reads the SMTP listeners' certificate and key files again
// (on SIGHUP); on an error the old certificate stays in use. Without TLS
// configured it does nothing.
func (a *App) ReloadTLS() error {
	if a.certs == nil {
		return nil
	}
	return a.certs.Reload()
}

// plainSMTPExposure is the warning for an SMTP listener beyond loopback
// without TLS ("" when there is none): mail and credentials-free as it
// is, a client's message would cross the network in clear.
func plainSMTPExposure(cfg config.Config) string {
	host, _, err := net.SplitHostPort(cfg.SMTP.Addr)
	if cfg.SMTP.Addr == "" || err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return "SMTP listens beyond loopback without TLS: senders' mail crosses the network in clear; set --tls-cert-file and --tls-key-file (POSTERN_TLS_CERT_FILE, POSTERN_TLS_KEY_FILE)"
}
