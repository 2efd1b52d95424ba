// Package metrics is Postern's Prometheus metrics
// (github.com/prometheus/client_golang): one Set per running server, its
// own registry, served on its own listener (POSTERN_METRICS_ADDR, never
// the public HTTP one). Every metric is declared here, once. No label
// ever carries an address, a token, a subject or any text from mail:
// labels are protocols, reply codes, fixed outcome and reason names, the
// web's route patterns and the IMAP mailboxes' host:port/folder (the
// operator's configuration, never its user).
//
// The methods of a nil *Set do nothing, so that a package can hold one
// unconditionally (tests and tools run without metrics).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Set is the metrics of one server.
type Set struct {
	reg *prometheus.Registry

	sessions      *prometheus.CounterVec   // protocol
	rcptReplies   *prometheus.CounterVec   // protocol, code
	dataReplies   *prometheus.CounterVec   // protocol, outcome
	intakeSeconds *prometheus.HistogramVec // protocol
	batchRows     prometheus.Histogram
	processed     *prometheus.CounterVec // outcome
	processSecs   prometheus.Histogram
	notified      *prometheus.CounterVec // outcome
	relaySeconds  prometheus.Histogram
	web           *prometheus.CounterVec // route, status
	dataRefused   *prometheus.CounterVec // protocol, code
	rateLimited   *prometheus.CounterVec // kind
}

// Queues reports, at each scrape, the jobs waiting per queue and the age
// of the oldest one that is due (the store's view of River's tables).
type Queues func(ctx context.Context) (map[string]QueueState, error)

// QueueState is one queue's backlog.
type QueueState struct {
	Waiting      int
	OldestDueSec float64
}

// New returns a Set with the Go runtime's and the process's metrics, and
// the queues' (queues nil: none).
func New(queues Queues) *Set {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "postern", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		c := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "postern", Name: name, Help: help, Buckets: buckets})
		reg.MustRegister(c)
		return c
	}
	s := &Set{reg: reg,
		sessions:    f("sessions_total", "SMTP and LMTP sessions opened, by protocol.", "protocol"),
		rcptReplies: f("rcpt_replies_total", "Replies to RCPT other than 250, by protocol and reply code.", "protocol", "code"),
		dataReplies: f("messages_total", "Messages received (DATA), by protocol and outcome: accepted, duplicate (a client's retry, stored once), refused (5xx), deferred (4xx).", "protocol", "outcome"),
		intakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "postern", Name: "intake_seconds",
			Help: "Time from the end of DATA to the reply, by protocol.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"protocol"}),
		batchRows:    h("group_commit_rows", "Rows in each group-commit transaction of the intake.", []float64{1, 2, 4, 8, 16, 32, 64}),
		processed:    f("processed_total", "Received messages processed, by outcome: processed, ignored (automatic mail and the like), failed.", "outcome"),
		processSecs:  h("process_seconds", "Time to process one received message.", prometheus.ExponentialBuckets(0.001, 2, 14)),
		notified:     f("notifications_total", "Notifications, by outcome: sent, cancelled (the person stopped them), failed (the relay refused them for good), retried.", "outcome"),
		relaySeconds: h("relay_seconds", "Time the relay took for one batch of notifications.", prometheus.ExponentialBuckets(0.005, 2, 12)),
		web:          f("web_requests_total", "Web requests, by route pattern and status.", "route", "status"),
		dataRefused:  f("messages_refused_total", "Messages refused or deferred at DATA, by protocol and enhanced status code (the reason: 5.3.4 too big, 5.6.0 malformed, 4.3.0 not stored…).", "protocol", "code"),
		rateLimited:  f("rate_limited_total", "Requests refused by a rate limit, by kind: smtp_ask, smtp_reply… (RCPT per sender and network), bad_token (guessing reply or page tokens), web_post, web_guest, web_signin.", "kind"),
	}
	reg.MustRegister(s.intakeSeconds)
	if queues != nil {
		reg.MustRegister(queueCollector{queues})
	}
	return s
}

// Handler serves the metrics in Prometheus's text format.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Session counts a session opened over protocol ("smtp", "lmtp").
func (s *Set) Session(protocol string) {
	if s != nil {
		s.sessions.WithLabelValues(protocol).Inc()
	}
}

// RcptRefused counts a RCPT answered code (not 250).
func (s *Set) RcptRefused(protocol string, code int) {
	if s != nil {
		s.rcptReplies.WithLabelValues(protocol, strconv.Itoa(code)).Inc()
	}
}

// Message counts a DATA answered with outcome, which took took (0: not
// timed, as for a message refused while reading).
func (s *Set) Message(protocol, outcome string, took time.Duration) {
	if s == nil {
		return
	}
	s.dataReplies.WithLabelValues(protocol, outcome).Inc()
	if took > 0 {
		s.intakeSeconds.WithLabelValues(protocol).Observe(took.Seconds())
	}
}

// Refused counts a message refused at DATA with the enhanced status
// code (e.g. "5.3.4").
func (s *Set) Refused(protocol, code string) {
	if s != nil {
		s.dataRefused.WithLabelValues(protocol, code).Inc()
	}
}

// RateLimited counts one request refused by the rate limit of kind (a
// fixed name, see the metric's help).
func (s *Set) RateLimited(kind string) {
	if s != nil {
		s.rateLimited.WithLabelValues(kind).Inc()
	}
}

// Batch records a group-commit transaction of rows rows.
func (s *Set) Batch(rows int) {
	if s != nil {
		s.batchRows.Observe(float64(rows))
	}
}

// Processed counts a received message processed to outcome (its state),
// which took took.
func (s *Set) Processed(outcome string, took time.Duration) {
	if s != nil {
		s.processed.WithLabelValues(outcome).Inc()
		s.processSecs.Observe(took.Seconds())
	}
}

// Notified counts n notifications ending (or retried) with outcome.
func (s *Set) Notified(outcome string, n int) {
	if s != nil && n > 0 {
		s.notified.WithLabelValues(outcome).Add(float64(n))
	}
}

// Relay records the relay's time for one batch.
func (s *Set) Relay(took time.Duration) {
	if s != nil {
		s.relaySeconds.Observe(took.Seconds())
	}
}

// Web counts a web request of route (a pattern of package links, "" for
// none) answered status.
func (s *Set) Web(route string, status int) {
	if s == nil {
		return
	}
	if route == "" {
		route = "none"
	}
	s.web.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// queueCollector reports the queues at each scrape.
type queueCollector struct{ queues Queues }

var (
	queueWaiting = prometheus.NewDesc("postern_queue_jobs", "Jobs waiting or running in each queue (process: received mail; notify: notifications).", []string{"queue"}, nil)
	queueOldest  = prometheus.NewDesc("postern_queue_oldest_due_seconds", "How long the oldest due job of each queue has waited for a worker.", []string{"queue"}, nil)
	queueUp      = prometheus.NewDesc("postern_database_up", "Whether the last scrape could read the queues from PostgreSQL.", nil, nil)
)

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueWaiting
	ch <- queueOldest
	ch <- queueUp
}

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	states, err := q.queues(ctx)
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, up)
	for name, st := range states {
		ch <- prometheus.MustNewConstMetric(queueWaiting, prometheus.GaugeValue, float64(st.Waiting), name)
		ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, st.OldestDueSec, name)
	}
}

// IMAPMailboxes reports at each scrape whether each IMAP mailbox is
// connected (postern_imap_connected, 1 or 0, by mailbox: host:port/folder,
// never the user), as connected returns them.
func (s *Set) IMAPMailboxes(connected func() map[string]bool) {
	if s == nil {
		return
	}
	s.reg.MustRegister(imapCollector{connected})
}

// imapCollector reports the IMAP mailboxes at each scrape.
type imapCollector struct{ connected func() map[string]bool }

var imapConnected = prometheus.NewDesc("postern_imap_connected", "Whether each IMAP mailbox of POSTERN_IMAP_URL has a working session (logged in, folder selected), by host:port/folder.", []string{"mailbox"}, nil)

func (c imapCollector) Describe(ch chan<- *prometheus.Desc) { ch <- imapConnected }

func (c imapCollector) Collect(ch chan<- prometheus.Metric) {
	for label, up := range c.connected() {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(imapConnected, prometheus.GaugeValue, v, label)
	}
}

// Bounces reports at each scrape the bounces recorded in the database
// (postern_bounces_recorded, by kind: hard, soft), as count returns them.
func (s *Set) Bounces(count func(ctx context.Context) (map[string]int64, error)) {
	if s == nil {
		return
	}
	s.reg.MustRegister(bounceCollector{count})
}

// bounceCollector reports the bounces at each scrape.
type bounceCollector struct {
	count func(ctx context.Context) (map[string]int64, error)
}

var bouncesRecorded = prometheus.NewDesc("postern_bounces_recorded", "Bounces (delivery status notifications about notifications) recorded in the database, by kind: hard (the address does not exist), soft.", []string{"kind"}, nil)

func (c bounceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- bouncesRecorded }

func (c bounceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		return // postern_database_up says so
	}
	for _, kind := range []string{"hard", "soft"} {
		ch <- prometheus.MustNewConstMetric(bouncesRecorded, prometheus.GaugeValue, float64(counts[kind]), kind)
	}
}
