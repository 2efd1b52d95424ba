package mailout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-message/mail"
	"github.com/riverqueue/river"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// NotifyWorker is the dispatcher: the River worker that renders and sends
// one notification (threads.NotifyArgs). It is the only code that sees a
// decrypted address, and only for the duration of one send.
//
// Delivery is at least once: the notification is marked sent after the
// relay accepted it, so a crash between the two sends it again on retry.
// A 4xx or network error is returned to River, which retries with backoff;
// a 5xx is recorded as a permanent failure against the address and not
// retried.
type NotifyWorker struct {
	river.WorkerDefaults[threads.NotifyArgs]
	Store     *threads.Store
	Templates *templates.Set
	Sender    Sender
	Log       *slog.Logger
}

// Work implements river.Worker.
func (w *NotifyWorker) Work(ctx context.Context, job *river.Job[threads.NotifyArgs]) error {
	id := job.Args.NotificationID
	o, err := w.Store.LoadOutgoing(ctx, id)
	if errors.Is(err, threads.ErrNotificationGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification %d: %w", id, err)
	}
	log := w.Log.With("notification_id", id, "person", o.RecipientID, "kind", o.Kind)
	if o.State != "pending" {
		return nil
	}
	if o.Skip != "" {
		log.Info("notification cancelled", "reason", o.Skip)
		return w.Store.MarkFailed(ctx, id, "cancelled", o.Skip)
	}
	msg, err := w.compose(o)
	if err != nil {
		// A rendering bug: retrying will not help, record it.
		log.Error("notification not composed", "err", err)
		return w.Store.MarkFailed(ctx, id, "failed", "compose: "+err.Error())
	}
	if err := w.Sender.Send(ctx, o.EnvelopeFrom, o.RecipientAddress, msg); err != nil {
		if IsPermanent(err) {
			log.Warn("notification rejected by relay", "err", err)
			if rerr := w.Store.RecordRejection(ctx, id, "5.0.0"); rerr != nil {
				return rerr
			}
			return w.Store.MarkFailed(ctx, id, "failed", err.Error())
		}
		log.Warn("notification send failed, will retry", "err", err, "attempt", job.Attempt)
		return fmt.Errorf("send notification %d: %w", id, err)
	}
	log.Info("notification sent", "bytes", len(msg))
	return w.Store.MarkSent(ctx, id)
}

// compose renders the templates for o and builds the MIME message.
func (w *NotifyWorker) compose(o *threads.Outgoing) ([]byte, error) {
	cfg := w.Store.Config()
	var unsubURL, unsubMail string
	if o.UnsubscribeTok != "" {
		unsubURL = fmt.Sprintf("%s/unsubscribe/%s", cfg.BaseURL, o.UnsubscribeTok)
		unsubMail = "mailto:" + o.UnsubscribeMail + "?subject=unsubscribe"
	}
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
		UnsubscribeURL: unsubURL,
		CategoryName:   o.CategoryName,
		ActionURL:      o.ActionURL,
		Reason:         o.Note,
	}
	for _, a := range o.Attachments {
		data.Files = append(data.Files, templates.FileLink{Name: a.Filename, Size: humanSize(a.Size), URL: fmt.Sprintf("%s/a/%d", cfg.BaseURL, a.ID)})
	}
	if o.Kind == threads.NotifyHelp {
		data.Addresses = helpAddresses(w.Store)
	}
	subject, text, html, err := w.Templates.Mail(o.Kind, data)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", o.Kind, err)
	}
	fromName := cfg.ForumName
	if o.PostAuthor != "" && (o.Kind == threads.NotifyNewQuestion || o.Kind == threads.NotifyAnswer || o.Kind == threads.NotifyComment) {
		fromName = o.PostAuthor + " via " + cfg.ForumName
	}
	fromAddr := w.Store.Addresses().Notify()
	if o.Kind == threads.NotifyModerate {
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
		UnsubscribeURL:    unsubURL,
		UnsubscribeMailto: unsubMail,
	})
}

// helpAddresses lists the forum's addresses for the help mail.
func helpAddresses(st *threads.Store) []templates.HelpAddress {
	cfg := st.Config()
	lp, d := cfg.LocalParts, "@"+cfg.Domain
	return []templates.HelpAddress{
		{Address: lp.Ask + d, What: "ask a new question (the subject is the title)"},
		{Address: lp.Ask + "+CATEGORY" + d, What: "ask in a category; or start the subject with [category]; #tags in the subject or a \"Tags:\" first line add tags"},
		{Address: lp.Subscribe + d, What: "receive every new question by email (you confirm once)"},
		{Address: lp.Subscribe + "+CATEGORY" + d, What: "receive the new questions of one category"},
		{Address: lp.Unsubscribe + d, What: "stop all emails; " + lp.Unsubscribe + "+CATEGORY" + d + " stops one category"},
		{Address: lp.Help + d, What: "this guide"},
	}
}

// humanSize formats a byte count for people.
func humanSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
