package mailout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// ForwardWorker is the River worker for threads.ForwardArgs: it sends a
// message received for postmaster@ or abuse@ to the configured postmaster
// address, attached unchanged (message/rfc822) under a short note, through
// Sender like every outgoing mail. A temporary failure is retried by
// River; a permanent one, or a message already purged, is logged and
// dropped (the inbound row stays for `postern inbound list`).
type ForwardWorker struct {
	river.WorkerDefaults[threads.ForwardArgs]
	Store  *threads.Store
	Sender Sender
	Log    *slog.Logger
}

// Work implements river.Worker.
func (w *ForwardWorker) Work(ctx context.Context, job *river.Job[threads.ForwardArgs]) error {
	id := job.Args.InboundID
	f, err := w.Store.LoadForward(ctx, id)
	if errors.Is(err, threads.ErrNothingToForward) {
		w.Log.Warn("postmaster forward dropped", "inbound_id", id, "reason", "message no longer available or no postmaster address")
		return nil
	}
	if err != nil {
		return fmt.Errorf("postmaster forward: %w", err)
	}
	msg, err := ComposeForward(f, w.Store.Addresses().Domain(), time.Now())
	if err != nil {
		return fmt.Errorf("postmaster forward of inbound %d: %w", id, err)
	}
	if err := w.Sender.Send(ctx, f.From, f.To, msg); err != nil {
		if IsPermanent(err) {
			w.Log.Error("postmaster forward refused by the relay", "inbound_id", id, "err", err)
			return nil
		}
		return fmt.Errorf("postmaster forward of inbound %d: %w", id, err)
	}
	w.Log.Info("postmaster mail forwarded", "inbound_id", id, "bytes", len(f.Raw))
	return nil
}

// ComposeForward builds the forward of f: From the forum's notify
// address, To the postmaster address, a note naming the inbound id (its
// text is templates.PostmasterForward), and
// the received message attached as message/rfc822. Nothing from the
// received header is copied into the forward's header.
func ComposeForward(f threads.Forward, domain string, now time.Time) ([]byte, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("compose forward: %w", err)
	}
	boundary := "postern-fwd-" + hex.EncodeToString(rnd[:])
	id := strconv.FormatInt(f.InboundID, 10)
	text := templates.PostmasterForward{Domain: domain, InboundID: id}
	var b bytes.Buffer
	for _, h := range [][2]string{
		{"From", formatAddress(text.FromName(), f.From)},
		{"To", formatAddress("", f.To)},
		{"Subject", text.Subject()},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<pm" + id + "." + hex.EncodeToString(rnd[:6]) + "@" + domain + ">"},
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/mixed; boundary="` + boundary + `"`},
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(text.Note())
	b.WriteString("\r\n--" + boundary + "\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\nContent-Disposition: attachment; filename=\"inbound-" + id + ".eml\"\r\n\r\n")
	raw := f.Raw
	b.Write(raw)
	if !bytes.HasSuffix(raw, []byte("\n")) {
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}
