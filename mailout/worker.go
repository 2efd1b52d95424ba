package mailout

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/riverqueue/river"

	"github.com/postern/postern/internal/metrics"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
)

// NotifyWorker is the dispatcher: the River worker that renders and sends
// the notifications of one job (threads.NotifyArgs: a batch of ids, or one
// id in jobs enqueued before batching). It is the only code that sees a
// decrypted address, and only for the duration of one job.
//
// A batch is loaded with a few set-based queries (threads.Store
// LoadOutgoingBatch) and sent in order through Sender, whose relay pool
// keeps the connection between messages, so a batch normally travels
// over one connection. Each notification keeps the rules it had alone:
//
//   - not pending (already sent, failed or cancelled, e.g. by an earlier
//     attempt of this job): left alone, never sent again;
//   - skipped (forgotten, suppressed, unsubscribed, muted): marked
//     cancelled with the reason;
//   - accepted by the relay: marked sent in the background while the
//     next ones are sent, by the worker's group marker (sentMarker: a
//     few UPDATEs at a time for all jobs, each carrying every id
//     accepted while the others ran); a job sends its next message only
//     while fewer than markEvery of its accepted ones are unmarked, and
//     what was sent is always marked before Work returns, also when ctx
//     ends mid-batch;
//   - a 5xx: recorded as a permanent failure against the address
//     (RecordRejection), marked failed, not retried;
//   - a 4xx or network error, or data that does not open: Work goes on
//     with the next recipients when the relay can still take them
//     (IsMessageTemporary), else stops, and in both cases returns an error
//     once the sent ones are marked, so River retries the job with
//     backoff; the retry sends only what is still pending. An attempt
//     that settled some of the batch is snoozed for the first retry
//     delay instead, so that the backoff grows only while nothing gets
//     through (a batch of many posts' notifications, as a processing
//     batch enqueues, is not left waiting for minutes by a relay that
//     defers some of them).
//
// A mark that cannot be written (the database is down) does not make a
// resend: the accepted ids are remembered in the process (sentLedger), a
// retry skips them, and FlushSent (every job, the app's timer, shutdown)
// writes the mark once the database answers. Only a crash between the
// relay's acceptance and the mark sends one again on retry, with the same
// Message-ID; the window (markEvery) bounds that to markEvery messages
// per sending job (those accepted and not yet marked, and the one being
// sent).
//
// A NotifyWorker must not be copied after its first job.
type NotifyWorker struct {
	river.WorkerDefaults[threads.NotifyArgs]
	Store     *threads.Store
	Templates *templates.Set
	Sender    Sender
	Log       *slog.Logger
	// Metrics counts the notifications by outcome and times the relay
	// (nil: not counted).
	Metrics *metrics.Set

	sent   sentLedger // accepted by the relay, "sent" mark not written
	marker sentMarker // writes the "sent" marks of every job
}

// markEvery is the crash window of one sending job: before each send,
// fewer than markEvery of the job's messages accepted by the relay are
// without their "sent" mark, so a crash resends at most markEvery per job
// (with the same Message-ID). The marks are written as group commits
// (sentMarker) while the job goes on sending; the job waits only when the
// database lags markEvery messages behind the relay.
const markEvery = 10

// maxTempInARow is how many recipients in a row may be refused with a 4xx
// before the rest of a batch waits for the retry: a relay refusing
// everyone (rate limits, a full queue) is not asked about each.
const maxTempInARow = 3

// markTimeout bounds each UPDATE of the "sent" marks, which runs even
// after the job's ctx ended (shutdown) so that what was sent is not sent
// again.
const markTimeout = 10 * time.Second

// Work implements river.Worker. See NotifyWorker for what happens to each
// notification; the error returned (wrapped, without addresses) makes
// River retry the job.
func (w *NotifyWorker) Work(ctx context.Context, job *river.Job[threads.NotifyArgs]) error {
	ids := job.Args.IDs()
	if len(ids) == 0 {
		return nil
	}
	if _, err := w.FlushSent(ctx); err != nil {
		w.Log.Warn("remembered notifications still not marked sent", "count", len(w.sent.pending()), "err", err)
	}
	outs, err := w.Store.LoadOutgoingBatch(ctx, ids)
	if err != nil {
		return fmt.Errorf("notifications %d (%d in the job): %w", ids[0], len(ids), err)
	}
	b := &batch{w: w, log: w.Log.With("job_id", job.ID, "attempt", job.Attempt)}
	if len(outs) > 1 {
		if b.render, err = newRenderCache(w.Templates); err != nil {
			return err
		}
	}
	relayStart := time.Now()
	err = b.run(ctx, outs)
	w.Metrics.Relay(time.Since(relayStart))
	// Whatever happened, what the relay accepted is marked, even when ctx
	// ended (shutdown mid-batch).
	if merr := b.flush(); merr != nil && err == nil {
		err = merr
	}
	// One line per job; each notification's own line is at debug level
	// (warnings for refusals).
	b.log.Info("notifications sent", "first_id", ids[0], "ids", len(ids), "sent", b.nSent, "remembered", b.nRemembered, "cancelled", b.nCancelled, "failed", b.nFailed, "retry", b.nRetry)
	w.Metrics.Notified("sent", b.nSent+b.nRemembered)
	w.Metrics.Notified("cancelled", b.nCancelled)
	w.Metrics.Notified("failed", b.nFailed)
	w.Metrics.Notified("retried", b.nRetry)
	if err != nil {
		return fmt.Errorf("notifications %d (%d in the job): %w", ids[0], len(ids), err)
	}
	if b.retry != nil {
		if b.nSent+b.nCancelled+b.nFailed > 0 {
			// The relay took part of the batch: the rest is tried again
			// after the first retry delay, not after a backoff that
			// grows with each partial attempt (a snooze is no attempt),
			// so a batch deferred piecemeal is not left waiting for
			// minutes. Each such attempt settles at least one
			// notification: the snoozes end.
			b.log.Info("notifications deferred by the relay, trying again", "retry", b.nRetry, "err", b.retry)
			return river.JobSnooze(retryFirst)
		}
		return fmt.Errorf("notifications %d (%d in the job): %d to retry: %w", ids[0], len(ids), b.nRetry, b.retry)
	}
	return nil
}

// batch is one job's sending state.
type batch struct {
	w      *NotifyWorker
	log    *slog.Logger
	render *renderCache // nil for a batch of one: nothing to share

	// owed is the groups of the marker carrying this job's accepted
	// notifications whose mark is not known to be written, oldest first,
	// with how many of the job's ids each holds; unmarked is their sum.
	owed     []owedMark
	unmarked int

	retry                                           error // the first temporary failure: the job is retried
	nSent, nRemembered, nCancelled, nFailed, nRetry int
}

// run sends outs in order. It returns a database error that ends the
// batch; temporary send failures are kept in b.retry instead.
func (b *batch) run(ctx context.Context, outs []*threads.Outgoing) error {
	tempInARow := 0
	// stop leaves the notifications from outs[i] on for the retry.
	stop := func(i int, err error) {
		for _, o := range outs[i:] {
			if o.State == "pending" {
				b.later(err)
			}
		}
	}
	for i, o := range outs {
		if b.settled(o) {
			continue
		}
		if err := ctx.Err(); err != nil {
			stop(i, err)
			return nil
		}
		if o.Err != nil {
			b.logFor(o).Error("notification not loaded, will retry", "err", o.Err)
			b.later(o.Err)
			continue
		}
		if o.Skip != "" {
			b.logFor(o).Info("notification cancelled", "reason", o.Skip)
			if err := b.w.Store.MarkFailed(ctx, o.NotificationID, "cancelled", o.Skip); err != nil {
				return err
			}
			b.nCancelled++
			continue
		}
		// The crash window: wait while markEvery of the batch's sent
		// notifications are unmarked.
		if err := b.room(); err != nil {
			return err
		}
		// Composing and sending count against the memory budget that
		// intake and processing share.
		mem, size := b.w.Store.Memory()
		weight := min(composeWeight(o), size)
		if err := mem.Acquire(ctx, weight); err != nil {
			stop(i, err)
			return nil
		}
		msg, err := b.w.compose(o, b.render)
		if err != nil {
			mem.Release(weight)
			// A rendering bug: retrying will not help, record it.
			b.logFor(o).Error("notification not composed", "err", err)
			if err := b.w.Store.MarkFailed(ctx, o.NotificationID, "failed", "compose: "+err.Error()); err != nil {
				return err
			}
			b.nFailed++
			continue
		}
		err = b.w.Sender.Send(ctx, o.EnvelopeFrom, o.RecipientAddress, msg)
		mem.Release(weight)
		switch {
		case err == nil:
			tempInARow = 0
			b.sent(ctx, o, len(msg))
		case IsPermanent(err):
			tempInARow = 0
			if err := b.refused(ctx, o, err); err != nil {
				return err
			}
		default:
			b.logFor(o).Warn("notification send failed, will retry", "err", err)
			b.later(err)
			tempInARow++
			if !IsMessageTemporary(err) || tempInARow >= maxTempInARow || ctx.Err() != nil {
				// The relay is unreachable or refuses everyone: the rest
				// waits for the retry.
				stop(i+1, err)
				return nil
			}
		}
	}
	return nil
}

// settled reports whether o needs no sending: not pending any more, or
// accepted by the relay in an earlier attempt whose mark was not written
// (sentLedger), which is marked with the next chunk, never sent again.
func (b *batch) settled(o *threads.Outgoing) bool {
	if o.State != "pending" {
		return true
	}
	if b.w.sent.has(o.NotificationID) {
		b.queueMark(o.NotificationID)
		b.nRemembered++
		return true
	}
	return false
}

// sent records that the relay accepted o (size bytes): it is queued to
// be marked sent.
func (b *batch) sent(ctx context.Context, o *threads.Outgoing, size int) {
	if b.log.Enabled(ctx, slog.LevelDebug) {
		b.logFor(o).Debug("notification sent", "bytes", size)
	}
	b.queueMark(o.NotificationID)
	b.nSent++
}

// refused records the relay's permanent refusal (sendErr) of o: counted
// against the address like a hard bounce, and o marked failed.
func (b *batch) refused(ctx context.Context, o *threads.Outgoing, sendErr error) error {
	b.logFor(o).Warn("notification rejected by relay", "err", sendErr)
	if err := b.w.Store.RecordRejection(ctx, o.NotificationID, "5.0.0"); err != nil {
		return err
	}
	if err := b.w.Store.MarkFailed(ctx, o.NotificationID, "failed", sendErr.Error()); err != nil {
		return err
	}
	b.nFailed++
	return nil
}

// composeWeight is what composing and sending o counts against the memory
// budget: its body rendered as text and HTML, quoted-printable encoded,
// perhaps DKIM-signed, and written to the relay, besides a fixed part for
// headers, footer and buffers. Attachments are never in the mail, only
// links to them.
func composeWeight(o *threads.Outgoing) int64 {
	return 8*int64(len(o.PostBody)) + 64<<10
}

// logFor returns the job's logger with o's attributes (ids and kind, never
// an address). It is made only when a line is written: With formats the
// attributes at once, which is not free for thousands of notifications.
func (b *batch) logFor(o *threads.Outgoing) *slog.Logger {
	return b.log.With("notification_id", o.NotificationID, "inbound_id", o.InboundID, "post_id", o.PostID, "person", o.RecipientID, "kind", o.Kind)
}

// later records a notification left pending for the job's retry.
func (b *batch) later(err error) {
	if b.retry == nil {
		b.retry = err
	}
	b.nRetry++
}

// owedMark is a marker group carrying n of a batch's ids.
type owedMark struct {
	g *markGroup
	n int
}

// queueMark hands id, accepted by the relay, to the worker's marker.
func (b *batch) queueMark(id int64) {
	g := b.w.marker.add(id, b.w.markGroup)
	if k := len(b.owed); k > 0 && b.owed[k-1].g == g {
		b.owed[k-1].n++
	} else {
		b.owed = append(b.owed, owedMark{g: g})
		b.owed[len(b.owed)-1].n = 1
	}
	b.unmarked++
}

// room returns once fewer than markEvery of the batch's accepted
// notifications are unmarked (waiting for the oldest groups when not),
// or with the error of a group that failed: the database does not
// answer, which ends the batch (the ids are in the sentLedger).
func (b *batch) room() error {
	for len(b.owed) > 0 {
		o := b.owed[0]
		if b.unmarked < markEvery {
			select {
			case <-o.g.done:
			default:
				return nil
			}
		} else {
			<-o.g.done
		}
		b.owed = b.owed[1:]
		b.unmarked -= o.n
		if o.g.err != nil {
			return o.g.err
		}
	}
	return nil
}

// flush waits until every accepted notification of the batch is marked
// sent (or remembered, when the database does not answer: the first such
// error is returned). Each group's UPDATE is bounded by markTimeout.
func (b *batch) flush() error {
	var first error
	for _, o := range b.owed {
		<-o.g.done
		if o.g.err != nil && first == nil {
			first = o.g.err
		}
	}
	b.owed, b.unmarked = nil, 0
	return first
}

// compose renders the templates for o and builds the MIME message. With
// a renderCache, mails of the same kind and post are rendered once (see
// renderCache); with nil, directly.
func (w *NotifyWorker) compose(o *threads.Outgoing, rc *renderCache) ([]byte, error) {
	cfg := w.Store.Config()
	lk := w.Store.Links()
	unsub := o.Unsubscribe
	data := templates.MailData{
		ForumName:      cfg.ForumName,
		PosterName:     o.PostAuthor,
		RecipientName:  o.RecipientName,
		Kind:           o.Kind,
		QuestionTitle:  o.Title,
		QuestionID:     o.QuestionID,
		PostKind:       string(o.PostKind),
		Body:           o.PostBody,
		ThreadURL:      o.ThreadURL,
		UnsubscribeURL: unsub.URL,
		CategoryName:   o.CategoryName,
		ActionURL:      o.ActionURL,
		FromWeb:        o.FromWeb,
		Reason:         o.Note,

		UnsubscribeAddress:         o.StopAll,
		UnsubscribeCategoryAddress: o.StopCategory,
	}
	for _, a := range o.Attachments {
		data.Files = append(data.Files, templates.FileLink{Name: a.Filename, Size: templates.HumanSize(a.Size), URL: lk.Download(a.ID)})
	}
	if o.Kind == mailkind.Help {
		data.Forum = forumAddresses(w.Store.Addresses())
	}
	var subject, text, html string
	var err error
	if rc != nil {
		subject, text, html, err = rc.mail(o.Kind, o.PostID, o.QuestionID, data, lk.UnsubscribePage(""), unsub.Token)
	} else {
		subject, text, html, err = w.Templates.Mail(o.Kind, data)
	}
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", o.Kind, err)
	}
	fromName := cfg.ForumName
	if o.PostAuthor != "" && o.Kind.FromPoster() {
		fromName = o.PostAuthor + " via " + cfg.ForumName
	}
	fromAddr := w.Store.Addresses().Notify()
	if o.Kind == mailkind.Moderate {
		fromAddr = w.Store.Addresses().Moderate()
	}
	return Compose(&Outgoing{
		To:                mail.Address{Name: o.RecipientName, Address: o.RecipientAddress},
		FromName:          fromName,
		FromAddr:          fromAddr,
		ReplyTo:           o.ReplyTo,
		MessageID:         o.MessageID,
		InReplyTo:         o.InReplyTo,
		References:        o.References,
		Subject:           subject,
		Text:              text,
		HTML:              html,
		ListID:            fmt.Sprintf("%s <forum.%s>", cfg.ForumName, cfg.Domain),
		UnsubscribeURL:    unsub.URL,
		UnsubscribeMailto: unsub.Mailto,
	})
}

// forumAddresses are the forum's addresses the help mail lists.
func forumAddresses(a *threads.Addresses) templates.ForumAddresses {
	const c = templates.CategoryPlaceholder
	return templates.ForumAddresses{
		Ask: a.Ask(), AskCategory: a.AskIn(c),
		Subscribe: a.Subscribe(), SubscribeCategory: a.SubscribeIn(c),
		Unsubscribe: a.UnsubscribeAll(), UnsubscribeCategory: a.UnsubscribeCategory(c),
		Help: a.Help(),
	}
}
