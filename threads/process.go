package threads

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/htmltext"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/mailin/trim"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads/token"
)

// Inbound states.
const (
	StateAccepted  = "accepted"
	StateProcessed = "processed"
	StateIgnored   = "ignored"
	StateFailed    = "failed"
)

// giveUpSnooze is how long the last attempt of a job waits before it
// runs again when the database is unreachable; it does so at most
// maxOutageSnoozes times (a day), so that an error wrongly taken for an
// outage cannot keep a message accepted for ever.
const (
	giveUpSnooze     = 10 * time.Minute
	maxOutageSnoozes = 144
)

// ProcessWorker is the River worker for ProcessArgs.
type ProcessWorker struct {
	river.WorkerDefaults[ProcessArgs]
	Store *Store
}

// Work processes one inbound message. Errors are returned (and retried by
// River, with its exponential backoff) for failures the message does not
// decide, such as a lost database connection; a message that cannot
// become a post is marked ignored or failed instead. When the job's last
// attempt (its MaxAttempts) fails too, the message is marked failed with
// the reason, for `postern inbound list --failed` and `postern inbound
// retry`; but a last attempt that failed because the database is
// unreachable, or because the worker is stopping, is snoozed (River does
// not count a snooze as an attempt; an outage gets at most a day of
// snoozes more) rather than turned into a failure.
func (w *ProcessWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	err := w.Store.process1(ctx, job.Args.InboundID, job.Args.Size)
	if err == nil {
		return nil
	}
	// River logs and keeps the error's text: never with an address.
	err = scrubbedError{err}
	if job.Attempt < job.MaxAttempts {
		return err
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return river.JobSnooze(0) // stopping: try again at the next start
	}
	// A job that ran out of its time (JobTimeout) failed by itself, even
	// though its error reads as a timeout.
	canSnooze := ctx.Err() == nil && snoozes(job.Metadata) < maxOutageSnoozes
	if canSnooze && DatabaseUnreachable(err) {
		w.Store.log.Warn("last processing attempt failed with the database unreachable; trying again later",
			"inbound_id", job.Args.InboundID, "attempt", job.Attempt, "err", err)
		return river.JobSnooze(giveUpSnooze)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := w.Store.failInbound(fctx, job.Args.InboundID, job.Attempt, err); ferr != nil {
		w.Store.log.Error("cannot mark inbound failed after its last attempt", "inbound_id", job.Args.InboundID, "err", scrubbedError{ferr})
		if canSnooze && DatabaseUnreachable(ferr) {
			return river.JobSnooze(giveUpSnooze)
		}
	}
	return err
}

// snoozes returns how many times River snoozed a job, from its metadata.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if len(metadata) == 0 || json.Unmarshal(metadata, &m) != nil {
		return 0
	}
	return m.Snoozes
}

// failInbound marks the accepted message id failed after attempts failed
// processing attempts, the last with err. The reason keeps err's text
// with anything address-like removed: it is shown by `postern inbound
// list`.
func (s *Store) failInbound(ctx context.Context, id int64, attempts int, err error) error {
	reason := fmt.Sprintf("processing failed %d times; last error: %s", attempts, scrubAddresses(err.Error()))
	tag, uerr := s.pool.Exec(ctx, `UPDATE inbound SET state = 'failed', reason = $2, processed_at = now() WHERE id = $1 AND state = 'accepted'`, id, reason)
	if uerr != nil {
		return fmt.Errorf("mark inbound %d failed: %w", id, uerr)
	}
	if tag.RowsAffected() == 1 {
		s.log.Warn("inbound message failed after its last processing attempt", "inbound_id", id, "attempts", attempts)
	}
	return nil
}

// addressLike matches a word with an @ in it: an address, or what may be
// one.
var addressLike = regexp.MustCompile(`[^\s<>"'()\[\],;:]*@[^\s<>"'()\[\],;:]*`)

// scrubbedError is an error whose text has its address-like words
// replaced (see scrubAddresses); errors.Is and errors.As see the original.
type scrubbedError struct{ err error }

func (e scrubbedError) Error() string { return scrubAddresses(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

// scrubAddresses replaces what looks like an address in s.
func scrubAddresses(s string) string {
	return addressLike.ReplaceAllString(s, "[address removed]")
}

// DatabaseUnreachable reports whether err says the database could not be
// reached (no connection, a connection lost or timed out, the server
// shutting down or refusing connections) rather than that it answered a
// statement with an error.
func DatabaseUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down or starting; 53300: too many connections.
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// outcome is what processing decided for an inbound message.
type outcome struct {
	state    string
	reason   string
	postID   int64
	senderID int64
	auth     auth.Result
	evidence string
}

type inboundRow struct {
	id       int64
	raw      []byte
	mailFrom string
	rcpt     []string
	state    string
	remoteIP string
	peerIP   string // the front MTA over LMTP, else ""
	purged   bool
}

// Process turns inbound message id into a post (or marks it ignored or
// failed with a reason). It is idempotent: a message no longer in state
// accepted is left alone, and every write happens in one transaction that
// also marks the message processed.
func (s *Store) Process(ctx context.Context, id int64) error {
	return s.process1(ctx, id, 0)
}

// ProcessWeight is how many times its size a message counts against the
// memory budget while it is processed: the copies alive at once (the
// database driver's buffer and the sealed, opened and decoded message, its
// text as it is trimmed and redacted, the kept files as the driver encodes
// them; the driver reads a row into a buffer of the next power of two), as
// measured by TestConcurrentLargeMessagesStayInBudget.
const ProcessWeight = 7

// processOverhead is what processing any message counts besides its size.
const processOverhead = 256 << 10

// process1 is Process for a message of size bytes (0: unknown).
func (s *Store) process1(ctx context.Context, id, size int64) error {
	// Messages are processed within a memory budget, which a server
	// shares with its intake and its notifications, so that a burst of
	// large messages cannot multiply the process's memory.
	if size <= 0 {
		if err := s.pool.QueryRow(ctx, `SELECT size FROM inbound WHERE id = $1 AND state = 'accepted'`, id).Scan(&size); errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("load inbound %d: %w", id, err)
		}
	}
	w := min(ProcessWeight*size+processOverhead, s.procMemCap)
	if err := s.procMem.Acquire(ctx, w); err != nil {
		return fmt.Errorf("process inbound %d: %w", id, err)
	}
	defer s.procMem.Release(w)
	if size >= 1<<20 {
		// Its copies (sealed, opened, parsed) are garbage once it is
		// processed: collect them at once rather than let the next large
		// message's copies pile on top of them.
		defer runtime.GC()
	}
	var out outcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Load and lock in one statement: a second worker given the same
		// job waits here, then finds the message no longer accepted.
		var in inboundRow
		var keyID int
		var sealed, dedup []byte
		err := tx.QueryRow(ctx, `SELECT id, key_id, sealed, dedup_key, rcpt, state, remote_ip, peer_ip FROM inbound WHERE id = $1 FOR UPDATE`, id).
			Scan(&in.id, &keyID, &sealed, &dedup, &in.rcpt, &in.state, &in.remoteIP, &in.peerIP)
		if err != nil {
			return fmt.Errorf("lock inbound: %w", err)
		}
		if in.state != StateAccepted {
			out = outcome{state: in.state}
			return nil
		}
		if sealed == nil {
			in.purged = true
		} else if plain, err := s.keys.OpenBytes(keyID, sealed, dedup); err != nil {
			// Wrong or missing key: keep the message, say why.
			in.purged = true
			s.log.Error("inbound message cannot be decrypted", "inbound_id", id, "key_id", keyID, "err", err)
		} else {
			in.mailFrom, in.raw = openInbound(plain)
		}
		out, err = s.process(ctx, tx, &in)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE inbound SET state = $2, reason = $3, post_id = NULLIF($4, 0), sender_id = NULLIF($5, 0), processed_at = now(),
			auth_dkim = $6, auth_dmarc = $7, auth_spf = $8, evidence = $9 WHERE id = $1`,
			id, out.state, out.reason, out.postID, out.senderID, out.auth.DKIM, out.auth.DMARC, out.auth.SPF, out.evidence)
		if err != nil {
			return fmt.Errorf("mark inbound: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("process inbound %d: %w", id, err)
	}
	s.log.Info("inbound processed", "inbound_id", id, "state", out.state, "reason", out.reason, "post_id", out.postID)
	return nil
}

func ignored(reason string) outcome { return outcome{state: StateIgnored, reason: reason} }
func failed(reason string) outcome  { return outcome{state: StateFailed, reason: reason} }

// process decides what in becomes, writing the result inside tx.
func (s *Store) process(ctx context.Context, tx pgx.Tx, in *inboundRow) (outcome, error) {
	if in.purged {
		return failed("raw message no longer available (purged or undecryptable)"), nil
	}
	if s.forPostmaster(in.rcpt) {
		// Before anything looks at the sender: never a post, never a reply.
		return s.keepForPostmaster(ctx, tx, in)
	}
	m, err := parse.Parse(in.raw, parse.Limits{})
	if err != nil {
		return failed("unparseable message: " + err.Error()), nil
	}
	rcpts := s.recipients(in.rcpt)
	verdict := classify.Classify(m, in.mailFrom, s.cfg.Domain)
	if verdict.Kind == classify.Bounce || rcpts.bounce != nil {
		return s.recordBounce(ctx, tx, in, m, rcpts.bounce)
	}
	if verdict.Kind == classify.Auto {
		return ignored("automatic mail: " + verdict.Reason), nil
	}
	if !m.HasFrom || !strings.Contains(m.From.Addr, "@") {
		return ignored("no sender address in From"), nil
	}
	if malformedFrom(m) {
		return ignored("malformed From header: no trustworthy sender address"), nil
	}
	from := NormalizeAddress(m.From.Addr)
	if strings.HasSuffix(from, "@"+s.cfg.Domain) {
		return ignored("loop: From is one of the forum's own addresses"), nil
	}
	author, err := s.ensurePerson(ctx, tx, from, cleanDisplayName(m.From.Name))
	if err != nil {
		return outcome{}, err
	}
	res := s.authenticate(ctx, in)
	ev, err := s.evidence(ctx, tx, in, res, author, from, rcpts, CandidateIDs(m.InReplyTo, m.References))
	if err != nil {
		return outcome{}, err
	}
	if author.Confirmed && ev == EvidenceNone {
		// The address is confirmed, but nothing shows this message comes
		// from there (anyone can write it in From): hold it and ask the
		// member, as for an unknown address.
		author.Confirmed, author.unproven = false, true
	}
	out, err := s.route(ctx, tx, in, m, rcpts, author, from)
	out.senderID, out.auth, out.evidence = author.ID, res, ev
	if err == nil && author.unproven && res.Temporary() {
		out.reason += " (DNS lookups for DKIM/SPF/DMARC failed or timed out: taken as no evidence)"
	}
	if err == nil && out.state == StateProcessed && author.Confirmed {
		// Say why it was taken as the member's: "published (evidence:
		// dkim)", "queued for a moderator (evidence: reply-token)".
		if out.reason == "" {
			out.reason = "published"
		}
		out.reason += " (evidence: " + ev + ")"
	}
	return out, err
}

// route handles a message from a human sender (author) by its recipients
// and thread headers.
func (s *Store) route(ctx context.Context, tx pgx.Tx, in *inboundRow, m *parse.Message, rcpts rcptSet, author Person, from string) (outcome, error) {
	switch {
	case rcpts.confirm != nil:
		return s.confirm(ctx, tx, in, author, rcpts.confirm)
	case rcpts.subscribe:
		return s.requestSubscription(ctx, tx, in, author, rcpts.subSlug)
	case rcpts.unsubSlug != "":
		return s.unfollowCategory(ctx, tx, author, rcpts.unsubSlug)
	case rcpts.unsubscribe != nil:
		return s.unsubscribeByMail(ctx, tx, author, rcpts.unsubscribe)
	case rcpts.help && !rcpts.ask && rcpts.reply == nil:
		return s.sendHelp(ctx, tx, in, author)
	}
	ids := CandidateIDs(m.InReplyTo, m.References)
	// A reply to a confirmation request confirms, whatever address it
	// was sent to.
	if conf, err := s.confirmationReplied(ctx, tx, ids, author.ID); err != nil || conf != nil {
		if err != nil {
			return outcome{}, err
		}
		return s.confirm(ctx, tx, in, author, conf)
	}

	// Routing, first match wins: a reply token, then the thread headers,
	// then ask@.
	var target *ParentRef
	if rcpts.reply != nil {
		t := rcpts.reply
		if t.Person == author.ID && t.Epoch != author.Epoch {
			return s.reject(ctx, tx, in, author, 0, "the reply address you used has been revoked; reply to a newer notification")
		}
		ref, err := loadParentRef(ctx, tx, t.Subject)
		if err != nil {
			return outcome{}, err
		}
		if ref == nil {
			return s.reject(ctx, tx, in, author, 0, "the post you replied to no longer exists")
		}
		target = ref
	}
	if target == nil {
		ref, err := s.lookupThread(ctx, tx, ids)
		if err != nil {
			return outcome{}, err
		}
		target = ref
	}
	if target == nil && !rcpts.ask {
		return s.reject(ctx, tx, in, author, 0, "we could not tell which discussion your reply belongs to; reply to a notification email, or write to "+s.addrs.Ask()+" to ask a new question")
	}

	body, elided := ExtractBody(m)
	if err := s.redactKnown(ctx, tx, from, &body, &elided); err != nil {
		return outcome{}, err
	}
	body = strings.TrimSpace(body)
	// An unsubscribe command as the whole text of a reply, or as the whole
	// subject of a reply or of mail to ask@ (which never asks anything).
	subjectCmd := unsubscribeCommand(QuestionTitle(m.Subject))
	if target != nil {
		cmd := ParseCommand(body)
		if cmd.Kind == CmdNone && subjectCmd != "" {
			cmd.Kind = CmdUnsubscribe
			if subjectCmd == "all" {
				cmd.Kind = CmdUnsubscribeAll
			}
		}
		if target.State == "queued" && cmd.Kind != CmdApprove && cmd.Kind != CmdReject {
			return s.reject(ctx, tx, in, author, 0, "the post you replied to is waiting for a moderator")
		}
		if cmd.Kind != CmdNone {
			return s.runCommand(ctx, tx, in, author, target, cmd)
		}
	} else if subjectCmd != "" {
		return s.unsubscribeByReply(ctx, tx, author, 0, true)
	}
	// A message whose only content is files is a post; one whose files
	// were all dropped and has no text is empty. One whose parts were
	// nested too deeply to read is a post saying so: its sender did write
	// something.
	hasContent := body != "" || m.PartsDropped
	body, elided, atts := postContent(m, body, elided, s.cfg.MaxAttachmentBytes, s.cfg.MaxPostAttachmentBytes)
	hasContent = hasContent || len(atts) > 0
	np := newPost{author: author, body: body, elided: elided, clientMsgID: m.MessageID, attachments: atts}
	if target == nil {
		np.kind = KindQuestion
		title, slug, tags, rest := ParseTags(QuestionTitle(m.Subject), body)
		np.title, np.tags, np.body = QuestionTitle(title), tags, rest
		if rcpts.category == "" && slug != "" {
			// "[slug]" in the subject chooses a category only if it is one.
			var id int64
			err := tx.QueryRow(ctx, `SELECT id FROM categories WHERE slug = $1`, slug).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				np.title = QuestionTitle(m.Subject)
			} else if err != nil {
				return outcome{}, fmt.Errorf("look up category: %w", err)
			} else {
				np.categoryID = id
			}
		}
		if !hasContent && np.title == "(no subject)" {
			return s.reject(ctx, tx, in, author, 0, "your message had no subject and no text")
		}
		if rcpts.category != "" {
			err := tx.QueryRow(ctx, `SELECT id FROM categories WHERE slug = $1`, rcpts.category).Scan(&np.categoryID)
			if errors.Is(err, pgx.ErrNoRows) {
				reason, err := s.unknownCategory(ctx, tx, rcpts.category)
				if err != nil {
					return outcome{}, err
				}
				return s.reject(ctx, tx, in, author, 0, reason)
			}
			if err != nil {
				return outcome{}, fmt.Errorf("look up category: %w", err)
			}
		}
	} else {
		if !hasContent {
			return s.reject(ctx, tx, in, author, target.QuestionID, "nothing was left of your reply after removing the quoted text; write your answer above the quoted message")
		}
		if target.QuestionState == "closed" {
			return s.reject(ctx, tx, in, author, target.QuestionID, "the question is closed and takes no more answers or comments")
		}
		np.kind, np.parentID, np.questionID = Placement(*target)
		if target.Kind == KindQuestion {
			// By email, the asker replying in their own thread (to the
			// "posted" note or a follower's copy) adds to the question:
			// a comment on it, not an answer to themselves.
			if target.AskerID == author.ID {
				np.kind = KindComment
			}
		}
	}
	np.held = !author.Confirmed
	if !np.held {
		if over, max, err := s.postLimited(ctx, tx, author.ID, np.kind); err != nil || over {
			if err != nil {
				return outcome{}, err
			}
			return s.reject(ctx, tx, in, author, np.questionID, limitReason(np.kind, max))
		}
		q, err := s.needsModeration(ctx, tx, author)
		if err != nil {
			return outcome{}, err
		}
		np.queued = q
	}
	postID, err := s.insertPost(ctx, tx, np)
	if err != nil {
		return outcome{}, err
	}
	if np.held {
		reason, err := s.requestConfirmation(ctx, tx, in, author, postID)
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, postID: postID, reason: reason}, nil
	}
	if np.queued {
		return outcome{state: StateProcessed, postID: postID, reason: "queued for a moderator"}, nil
	}
	return outcome{state: StateProcessed, postID: postID}, nil
}

// limitReason explains a post refused by the hourly per-person limit.
func limitReason(kind PostKind, max int) string {
	what := "answers and comments"
	if kind == KindQuestion {
		what = "questions"
	}
	return fmt.Sprintf("you have reached the limit of %d %s an hour under your name; please send it again later", max, what)
}

// unsubscribeCommand recognises a reply whose whole text is an
// unsubscribe command: "unsubscribe" or "stop" (this thread), with "all"
// or "everything" (every email). It returns "", "thread" or "all".
func unsubscribeCommand(body string) string {
	f := strings.Fields(strings.ToLower(strings.Trim(strings.TrimSpace(body), ".!")))
	if len(f) == 0 || len(f) > 2 || (f[0] != "unsubscribe" && f[0] != "stop") {
		return ""
	}
	if len(f) == 1 {
		return "thread"
	}
	if f[1] == "all" || f[1] == "everything" {
		return "all"
	}
	return ""
}

// rcptSet is the forum recipients of one message, by kind.
type rcptSet struct {
	confirm     *tokenRef
	ask         bool
	category    string
	notify      bool
	subscribe   bool
	subSlug     string // subscribe+SLUG: one category
	unsubSlug   string // unsubscribe+SLUG: stop following one category
	help        bool
	reply       *tokenRef
	bounce      *tokenRef
	unsubscribe *tokenRef
}

type tokenRef struct {
	Purpose                token.Purpose
	Subject, Person, Epoch int64
	Present                bool
}

func (s *Store) recipients(rcpt []string) rcptSet {
	var rs rcptSet
	for _, a := range rcpt {
		r, err := s.addrs.Parse(a)
		if err != nil {
			continue
		}
		ref := &tokenRef{Purpose: r.Token.Purpose, Subject: r.Token.Subject, Person: r.Token.Person, Epoch: r.Token.Epoch, Present: r.Detail != ""}
		switch r.Kind {
		case RcptAsk:
			rs.ask, rs.category = true, r.Detail
		case RcptNotify:
			rs.notify = true
		case RcptSubscribe:
			rs.subscribe, rs.subSlug = true, r.Detail
		case RcptHelp:
			rs.help = true
		case RcptModerate:
			rs.notify = true
		case RcptReply:
			if rs.reply == nil {
				rs.reply = ref
			}
		case RcptBounce:
			rs.bounce = ref
		case RcptUnsubscribe:
			rs.unsubscribe = ref
			if r.Token.Purpose == 0 && r.Detail != "" {
				ref.Present, rs.unsubSlug = false, r.Detail
			}
		case RcptConfirm:
			rs.confirm = ref
		}
	}
	return rs
}

// trimOptions are the trimming options for replies: Postern's own reply
// marker starts the quoted part. (Sent, the plain text of notifications
// sent to this person in the thread, is left empty: the quote rules and
// the marker cover the clients seen so far.)
var trimOptions = trim.Options{Markers: []string{templates.ReplyMarker}}

// ExtractBody returns the person's own text of m and the trimmed-away rest:
// the text/plain part when there is one, otherwise the HTML part with its
// quote containers removed and converted to text. Text from Postern's
// reply marker on is trimmed away.
func ExtractBody(m *parse.Message) (body, elided string) {
	if strings.TrimSpace(m.Text) != "" {
		r := trim.Text(m.Text, trimOptions)
		return r.Text, r.Elided
	}
	if strings.TrimSpace(m.HTML) == "" {
		return "", ""
	}
	kept, removed := trim.HTML(m.HTML)
	r := trim.Text(htmltext.Convert(kept), trimOptions)
	el := r.Elided
	if removed != "" {
		if el != "" {
			el += "\n\n"
		}
		el += htmltext.Convert(removed)
	}
	return r.Text, el
}

// malformedFrom reports a From header whose address could only be
// recovered heuristically and whose display name holds characters no
// client puts there unquoted ("Name [NOTE] <addr>"): such mail is dropped,
// as its sender cannot be trusted. A display name with an unquoted comma or
// apostrophe ("'Doe, John' via List <addr>") is common and accepted.
func malformedFrom(m *parse.Message) bool {
	raw := m.Header.Get("From")
	lt := strings.LastIndexByte(raw, '<')
	if lt < 0 {
		return false
	}
	name := raw[:lt]
	if strings.Count(name, `"`) >= 2 {
		return false
	}
	return strings.ContainsAny(name, "[]<>;:\\")
}

func loadParentRef(ctx context.Context, tx pgx.Tx, postID int64) (*ParentRef, error) {
	var r ParentRef
	var kind string
	err := tx.QueryRow(ctx, `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, p.author_id, q.state, q.author_id
		FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id) WHERE p.id = $1`, postID).
		Scan(&r.ID, &kind, &r.QuestionID, &r.ParentID, &r.State, &r.AuthorID, &r.QuestionState, &r.AskerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load post %d: %w", postID, err)
	}
	r.Kind = PostKind(kind)
	return &r, nil
}

// lookupThread finds the first of ids (in order) that is in the Message-ID
// index, with one indexed query. Forum and notification ids are indexed
// in clear, client ids by their keyed hash, so both forms are looked up.
// Held and hidden posts are not thread targets.
func (s *Store) lookupThread(ctx context.Context, tx pgx.Tx, ids []string) (*ParentRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2*len(ids))
	hashed := make(map[string]string, len(ids))
	for _, id := range ids {
		h := s.keys.MessageIDHash(id)
		hashed[id] = h
		keys = append(keys, id, h)
	}
	rows, err := tx.Query(ctx, `SELECT m.message_id, p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, p.author_id, q.state, q.author_id
		FROM message_ids m JOIN posts p ON p.id = m.post_id JOIN posts q ON q.id = coalesce(p.question_id, p.id)
		WHERE m.message_id = ANY($1) AND p.state IN ('visible', 'closed', 'queued')`, keys)
	if err != nil {
		return nil, fmt.Errorf("look up thread: %w", err)
	}
	found := map[string]ParentRef{}
	for rows.Next() {
		var mid, kind string
		var r ParentRef
		if err := rows.Scan(&mid, &r.ID, &kind, &r.QuestionID, &r.ParentID, &r.State, &r.AuthorID, &r.QuestionState, &r.AskerID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan thread: %w", err)
		}
		r.Kind = PostKind(kind)
		found[mid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up thread: %w", err)
	}
	for _, id := range ids {
		if r, ok := found[id]; ok {
			return &r, nil
		}
		if r, ok := found[hashed[id]]; ok {
			return &r, nil
		}
	}
	return nil, nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomTag returns n random bytes as lower-case base32.
func randomTag(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(idEncoding.EncodeToString(b))
}

// forumMessageID returns a post's forum Message-ID (without angle
// brackets): kind letter, post id and a random tag; never an address.
func (s *Store) forumMessageID(kind PostKind, id int64) string {
	return fmt.Sprintf("%c%d.%s@%s", kind[0], id, randomTag(5), s.cfg.Domain)
}
