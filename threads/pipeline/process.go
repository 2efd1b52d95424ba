package pipeline

import (
	"context"
	"fmt"
	"runtime"

	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// ProcessWeight is how many times its size a message counts against the
// memory budget while it is processed: the copies alive at once (the
// database driver's buffer and the sealed, opened and decoded message, its
// text as it is trimmed and redacted, the kept files as the driver encodes
// them; the driver reads a row into a buffer of the next power of two,
// except a sealed message of 1 MiB or more, which InboundTx reads in
// slices or chunks into one buffer of its size), as measured by TestConcurrentLargeMessagesStayInBudget. Not
// lowered since the sliced read: a measurement would have to say by how
// much.
const ProcessWeight = 7

// processOverhead is what processing any message counts besides its size.
const processOverhead = 256 << 10

// Process turns inbound message id into a post (or marks it ignored or
// failed with a reason) through st. It is idempotent: a message no longer
// in state accepted is left alone, and every write happens in one
// transaction that also marks the message processed.
func Process(ctx context.Context, st *threads.Store, id int64) error {
	return ProcessInbound(ctx, st, id, 0)
}

// ProcessInbound is Process for a message of size bytes (0: unknown), as
// the postern.process job knows it. It logs to the store's logger.
func ProcessInbound(ctx context.Context, st *threads.Store, id, size int64) error {
	_, err := processInbound(ctx, st, id, size)
	return err
}

// processInbound is ProcessInbound, returning the state the message was
// left in ("" when it is gone, or on an error).
func processInbound(ctx context.Context, st *threads.Store, id, size int64) (string, error) {
	// Messages are processed within a memory budget, which a server
	// shares with its intake and its notifications, so that a burst of
	// large messages cannot multiply the process's memory.
	if size <= 0 {
		n, ok, err := st.InboundSize(ctx, id)
		if err != nil || !ok {
			return "", err
		}
		size = n
	}
	mem, memCap := st.Memory()
	w := min(ProcessWeight*size+processOverhead, memCap)
	if err := mem.Acquire(ctx, w); err != nil {
		return "", fmt.Errorf("process inbound %d: %w", id, err)
	}
	defer mem.Release(w)
	if size >= 1<<20 {
		// Its copies (sealed, opened, parsed) are garbage once it is
		// processed: collect them at once rather than let the next large
		// message's copies pile on top of them.
		defer runtime.GC()
	}
	p := processor{st: st, cfg: st.Config()}
	var out threads.Outcome
	err := st.InboundTx(ctx, id, func(tx *threads.Tx, in threads.Inbound) error {
		if in.State != threads.StateAccepted {
			out = threads.Outcome{State: in.State}
			return nil
		}
		var err error
		if out, err = p.process(ctx, tx, &in); err != nil {
			return err
		}
		return tx.MarkInbound(ctx, out)
	})
	if err != nil {
		return "", fmt.Errorf("process inbound %d: %w", id, err)
	}
	st.Log().Info("inbound processed", "inbound_id", id, "state", out.State, "reason", out.Reason, "post_id", out.PostID)
	return out.State, nil
}

// processor processes messages for one store, with its configuration.
type processor struct {
	st  *threads.Store
	cfg threads.Config
}

func ignored(reason string) threads.Outcome {
	return threads.Outcome{State: threads.StateIgnored, Reason: reason}
}
func failed(reason string) threads.Outcome {
	return threads.Outcome{State: threads.StateFailed, Reason: reason}
}

// process decides what in becomes, writing the result inside tx: Screen,
// then the sender and the evidence they sent it, then loadFacts, Decide
// and apply.
func (p processor) process(ctx context.Context, tx *threads.Tx, in *threads.Inbound) (threads.Outcome, error) {
	sf := ScreenFacts{Purged: in.Purged, Domain: p.cfg.Domain}
	var m *parse.Message
	var rcpts rcptSet
	if !in.Purged {
		sf.ForPostmaster = p.st.ForPostmaster(in.Rcpt)
	}
	if !in.Purged && !sf.ForPostmaster {
		var err error
		if m, err = parse.Parse(in.Raw, parse.Limits{}); err != nil {
			sf.ParseError = err.Error()
		} else {
			rcpts = recipients(p.st.Addresses(), in.Rcpt)
			screenMessage(&sf, m, in.MailFrom, rcpts)
		}
	}
	switch act := Screen(sf); act.Kind {
	case ActFail:
		return failed(act.Text), nil
	case ActIgnore:
		return ignored(act.Text), nil
	case ActPostmaster:
		return p.keepForPostmaster(ctx, tx)
	case ActBounce:
		return p.recordBounce(ctx, tx, m, rcpts.bounce)
	}
	author, err := tx.EnsurePerson(ctx, sf.From, m.From.Name)
	if err != nil {
		return threads.Outcome{}, err
	}
	res := p.authenticate(ctx, in)
	ev, err := p.evidence(ctx, tx, in, res, author, sf.From, rcpts, threads.CandidateIDs(m.InReplyTo, m.References))
	if err != nil {
		return threads.Outcome{}, err
	}
	if author.Confirmed && ev == threads.EvidenceNone {
		// The address is confirmed, but nothing shows this message comes
		// from there (anyone can write it in From): hold it and ask the
		// member, as for an unknown address.
		author = author.WithoutEvidence()
	}
	out, err := p.route(ctx, tx, in, m, rcpts, author, sf.From)
	out.SenderID, out.DKIM, out.DMARC, out.SPF, out.Evidence = author.ID, res.DKIM, res.DMARC, res.SPF, ev
	return withEvidence(out, author, res, ev), err
}

// withEvidence adds to out's reason why its author's message lacked
// evidence or was taken as theirs: "published (evidence: dkim)",
// "queued for a moderator (evidence: reply-token)".
func withEvidence(out threads.Outcome, author threads.Person, res auth.Result, ev string) threads.Outcome {
	if author.Unproven() && res.Temporary() {
		out.Reason += templates.InboundNoEvidenceDNS
	}
	if out.State == threads.StateProcessed && author.Confirmed {
		if out.Reason == "" {
			out.Reason = templates.InboundPublished
		}
		out.Reason = templates.InboundWithEvidence(out.Reason, ev)
	}
	return out
}

// route handles a message from a human sender (author): it loads the
// facts, decides, and applies the action.
func (p processor) route(ctx context.Context, tx *threads.Tx, in *threads.Inbound, m *parse.Message, rcpts rcptSet, author threads.Person, from string) (threads.Outcome, error) {
	f, err := p.loadFacts(ctx, tx, m, rcpts, author, from)
	if err != nil {
		return threads.Outcome{}, err
	}
	f.FromWeb = in.Source == threads.SourceWeb
	return p.apply(ctx, tx, in, author, Decide(f))
}
