package imap

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/postern/postern/mailin/imap/imapurl"
)

// ErrNotConnected means a mailbox has had no working session (logged in,
// folder selected) for longer than Config.NotReadyAfter.
var ErrNotConnected = errors.New("IMAP mailbox not connected")

// health is whether each mailbox is connected, for Ready and the logs.
type health struct {
	mu    sync.Mutex
	boxes map[string]*boxHealth // by imapurl.Mailbox.Key
}

// boxHealth is one mailbox's state: connected or not since when, the
// step its last session ended at, and whether that it has been down too
// long was logged.
type boxHealth struct {
	label     string
	connected bool
	since     time.Time
	step      string
	warned    bool
}

func newHealth(mailboxes []imapurl.Mailbox, now time.Time) *health {
	h := &health{boxes: map[string]*boxHealth{}}
	for _, m := range mailboxes {
		h.boxes[m.Key()] = &boxHealth{label: m.Label(), since: now, step: "connect"}
	}
	return h
}

// up records mailbox m connected (its folder selected), logging it
// when it had been reported down.
func (h *health) up(m imapurl.Mailbox, log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.boxes[m.Key()]
	if b == nil {
		return
	}
	if b.warned {
		log.Info("mailbox connected again", "down_for", time.Since(b.since).Round(time.Second))
	}
	*b = boxHealth{label: b.label, connected: true, since: time.Now()}
}

// down records m's session ended at step; once it has been down for
// longer than after, it logs that at error level, once per outage.
func (h *health) down(m imapurl.Mailbox, step string, after time.Duration, log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.boxes[m.Key()]
	if b == nil {
		return
	}
	if b.connected {
		b.connected, b.since = false, time.Now()
	}
	b.step = step
	if d := time.Since(b.since); d > after && !b.warned {
		b.warned = true
		log.Error("mailbox not connected: readiness fails until it is", "down_for", d.Round(time.Second), "step", step)
	}
}

// err is ErrNotConnected naming the first mailbox down for longer than
// after (by host:port/folder and the step it fails at), or nil.
func (h *health) err(after time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst *boxHealth
	for _, b := range h.boxes {
		if !b.connected && time.Since(b.since) > after && (worst == nil || b.since.Before(worst.since)) {
			worst = b
		}
	}
	if worst == nil {
		return nil
	}
	return fmt.Errorf("%w: %s for %v (failing at %s)", ErrNotConnected, worst.label, time.Since(worst.since).Round(time.Second), worst.step)
}

// Ready reports whether every mailbox is connected or was within
// Config.NotReadyAfter: otherwise ErrNotConnected naming the mailbox
// down longest by its label (host:port/folder, never the user) and the
// step its sessions end at (connect, login, select, read, wait). A
// receiver not started yet counts from New. Safe for concurrent use.
func (r *Receiver) Ready() error { return r.health.err(r.cfg.NotReadyAfter) }

// Connected reports whether each mailbox has a working session now, by
// its label (host:port/folder), for the metrics. Safe for concurrent use.
func (r *Receiver) Connected() map[string]bool {
	r.health.mu.Lock()
	defer r.health.mu.Unlock()
	out := make(map[string]bool, len(r.health.boxes))
	for _, b := range r.health.boxes {
		out[b.label] = b.connected
	}
	return out
}
