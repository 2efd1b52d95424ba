package threads

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/mailin/parse"
)

// ImportOptions configures Store.ImportMbox. The zero value takes the
// defaults.
type ImportOptions struct {
	// Category is the slug of the category imported questions go into;
	// "" leaves them where their subject's "[slug]" puts them, as for
	// mail to ask@ (nowhere, usually). The category must exist.
	Category string
	// BatchSize is the most messages committed in one transaction.
	// Default 1000.
	BatchSize int
	// Workers is the number of messages parsed at once. Default
	// GOMAXPROCS.
	Workers int
	// CacheSize bounds the Message-IDs (and, separately, the people)
	// remembered between batches, which saves looking them up again.
	// Default 32768.
	CacheSize int
	// Progress, when set, is called after each committed batch, on the
	// goroutine that called ImportMbox, with the counts so far; its
	// argument (and the Skipped map in it) must not be kept.
	Progress func(ImportStats)
}

// ImportStats counts what an import did.
type ImportStats struct {
	// Read is the number of messages read from the mailbox, whatever
	// became of them.
	Read int64
	// Imported is the number of posts created: Questions + Answers +
	// Comments.
	Imported, Questions, Answers, Comments int64
	// Reparented is the number of questions that became replies at the
	// end, their parent having come later in the mailbox (or in a later
	// import). Threads = Questions - Reparented.
	Reparented int64
	// Moved is the number of replies placed under a nearer parent at the
	// end, that parent having come later.
	Moved int64
	// Redacted is the number of posts in which, at the end, addresses of
	// senders met only later in the mailbox were removed.
	Redacted int64
	// Duplicates is the number of messages already imported (their
	// Message-ID is indexed) or repeated in the mailbox.
	Duplicates int64
	// Skipped counts the messages not imported, by reason.
	Skipped map[string]int64
	// People is the number of people created (unconfirmed).
	People int64
	// Bytes is how far into the mailbox the committed messages reach.
	Bytes int64
	// Garbage is the number of bytes before the first From_ line.
	Garbage int64
}

// Threads is the number of questions the import leaves.
func (st ImportStats) Threads() int64 { return st.Questions - st.Reparented }

// SkippedTotal is the number of messages skipped, for any reason.
func (st ImportStats) SkippedTotal() int64 {
	var n int64
	for _, c := range st.Skipped {
		n += c
	}
	return n
}

func (o ImportOptions) withDefaults() ImportOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 32768
	}
	return o
}

// Reasons an imported message is skipped.
const (
	skipOversize    = "larger than the message size limit"
	skipUnparseable = "unparseable message"
	skipBounce      = "delivery report (bounce)"
	skipAutoReply   = "automatic reply (Auto-Submitted)"
	skipNoFrom      = "no sender address in From"
	skipMalformed   = "malformed From header"
	skipOwnDomain   = "From is one of the forum's own addresses"
	skipEmptyQ      = "no subject and no text"
	skipEmptyReply  = "empty reply once the quote is removed (its replies thread under its parent)"
	skipClosed      = "reply to a closed question"
	skipQueued      = "reply to a post waiting for a moderator"
)

// importBatchBytes bounds the mailbox bytes of one batch; three batches'
// worth may be read ahead of the commits.
const importBatchBytes = 8 << 20

// ImportMbox imports a mailing-list archive: every message of r becomes a
// post, threaded as JWZ's algorithm does (see docs/ARCHITECTURE.md):
// under the nearest of its In-Reply-To/References ids already imported or
// known to the forum, else beside a message that named the same missing
// parent, else, for a reply-looking subject, in the latest imported
// question with that base subject, else as a new question. Bodies are
// extracted, trimmed and redacted exactly as for mail received live.
// Senders become unconfirmed people; nobody is notified and no job is
// queued. Posts are visible and dated by their Date header.
//
// Messages are parsed in parallel (Workers) and committed in mailbox order
// in transactions of BatchSize messages with COPY. Memory does not grow
// with the mailbox: a few batches of messages and bounded caches. A
// message whose Message-ID is already indexed is counted as a duplicate,
// so an interrupted import can be run again; a message without a
// Message-ID gets one from the hash of its bytes. At the end, questions
// whose missing parent has since been imported are moved under it.
//
// The caller owns r. On error (or when ctx ends) the batches committed so
// far stay, and the returned stats count them.
func (s *Store) ImportMbox(ctx context.Context, r *mbox.Reader, opts ImportOptions) (ImportStats, error) {
	opts = opts.withDefaults()
	imp, err := s.newImporter(ctx, opts)
	if err != nil {
		return ImportStats{Skipped: map[string]int64{}}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan importJob, 2*opts.Workers)
	results := make(chan *importItem, 2*opts.Workers)
	sem := semaphore.NewWeighted(3 * importBatchBytes)

	g.Go(func() error {
		defer close(jobs)
		for seq := int64(0); ; seq++ {
			m, err := r.Next()
			job := importJob{seq: seq, end: r.Offset(), garbage: r.Garbage()}
			var over *mbox.OversizeError
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.As(err, &over):
				s.log.Warn("import: message skipped", "offset", over.Offset, "bytes", over.Size, "reason", skipOversize)
				job.skip = skipOversize
			case err != nil:
				return fmt.Errorf("read mailbox: %w", err)
			default:
				job.msg = m
			}
			job.weight = 1024
			if m != nil {
				job.weight = min(int64(len(m.Raw))+1024, importBatchBytes)
			}
			if err := sem.Acquire(gctx, job.weight); err != nil {
				return err
			}
			select {
			case jobs <- job:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	var parsing sync.WaitGroup
	for range opts.Workers {
		parsing.Add(1)
		g.Go(func() error {
			defer parsing.Done()
			for job := range jobs {
				it := s.prepareImport(job)
				select {
				case results <- it:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		parsing.Wait()
		close(results)
	}()
	g.Go(func() error {
		// Results come in any order; they are committed in mailbox order.
		waiting := map[int64]*importItem{}
		var next int64
		var batch []*importItem
		var weight int64
		idle := time.Now() // since the last commit ended
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			t0 := time.Now()
			err := imp.commit(gctx, batch)
			s.log.Debug("import: batch committed", "messages", len(batch), "waited", t0.Sub(idle).Round(time.Millisecond),
				"took", time.Since(t0).Round(time.Millisecond), "queued", len(waiting))
			idle = time.Now()
			sem.Release(weight)
			batch, weight = batch[:0], 0
			if err == nil && opts.Progress != nil {
				opts.Progress(imp.stats)
			}
			return err
		}
		for it := range results {
			waiting[it.seq] = it
			for {
				it, ok := waiting[next]
				if !ok {
					break
				}
				delete(waiting, next)
				next++
				batch, weight = append(batch, it), weight+it.weight
				if len(batch) >= opts.BatchSize || weight >= importBatchBytes {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		if gctx.Err() != nil {
			return gctx.Err()
		}
		return flush()
	})
	if err := g.Wait(); err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	questions, replies, err := imp.reparent(ctx)
	imp.stats.Reparented += questions
	imp.stats.Moved += replies
	if err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	n, err := imp.redactLate(ctx)
	imp.stats.Redacted = n
	if err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	return imp.stats, nil
}

// importJob is one message read from the mailbox, in order.
type importJob struct {
	seq     int64
	end     int64 // mailbox offset after it
	garbage int64 // bytes skipped before the first message
	weight  int64 // its share of the read-ahead budget
	msg     *mbox.Message
	skip    string // set when it was not readable
}

// importRef is one candidate parent of a message: its Message-ID as the
// index keys it in clear (forum ids) and hashed (client ids).
type importRef struct{ clear, hash string }

// importItem is a message prepared for import: everything that needs no
// database, computed in parallel.
type importItem struct {
	seq, end, garbage, weight int64
	skip                      string // set when it is not imported

	msgKey string      // its own Message-ID's index key (keyed hash)
	msgID  string      // its Message-ID, sealed into the post
	refs   []importRef // candidate parents, nearest first

	from       string // normalised sender address: hashed and sealed, never logged
	authorHash []byte
	authorName string
	addrCands  []string // addresses in the text, with their hashes, for redaction
	addrHashes [][]byte

	body, elided string // as a reply (dropped-file notes included)
	qTitle       string // as a question: title, "[slug]" and tags as ParseTags reads them
	qSlug        string
	qTags        []string
	qBody        string
	subjectTitle string // QuestionTitle of the subject, for an unknown "[slug]"
	subjectHash  []byte // base subject digest (nil when empty)
	replySubject bool   // the subject looks like a reply
	hasContent   bool
	date         time.Time
	atts         []keptAttachment
}

// prepareImport parses and reads one message: the steps of processing
// live mail (Store.process and Store.route) that need no database.
func (s *Store) prepareImport(job importJob) *importItem {
	it := &importItem{seq: job.seq, end: job.end, garbage: job.garbage, weight: job.weight, skip: job.skip}
	if job.msg == nil {
		return it
	}
	m, err := parse.Parse(job.msg.Raw, parse.Limits{})
	if err != nil {
		s.log.Warn("import: message skipped", "offset", job.msg.Offset, "reason", skipUnparseable, "err", err)
		it.skip = skipUnparseable
		return it
	}
	// List traffic is what an archive holds: only bounces and
	// auto-replies (which Classify names before any list header) are
	// left out.
	v := classify.Classify(m, "-", "")
	switch {
	case v.Kind == classify.Bounce:
		it.skip = skipBounce
		return it
	case v.Kind == classify.Auto && (strings.HasPrefix(v.Reason, "auto-submitted") || strings.HasPrefix(v.Reason, "x-auto")):
		it.skip = skipAutoReply
		return it
	}
	if !m.HasFrom || !strings.Contains(m.From.Addr, "@") {
		// Mailman's pipermail archives write "user at host (Name)".
		if addr, name, ok := deobfuscatedFrom(m.Header.Get("From")); ok {
			m.From, m.HasFrom = parse.Address{Name: name, Addr: addr}, true
		} else {
			it.skip = skipNoFrom
			return it
		}
	} else if malformedFrom(m) {
		it.skip = skipMalformed
		return it
	}
	it.from = NormalizeAddress(m.From.Addr)
	if strings.HasSuffix(it.from, "@"+s.cfg.Domain) {
		it.skip = skipOwnDomain
		return it
	}
	it.authorHash = s.keys.AddressHash(it.from)
	it.authorName = cleanDisplayName(m.From.Name)
	it.msgID = m.MessageID
	it.msgKey = s.keys.MessageIDHash(m.MessageID)
	for _, id := range CandidateIDs(m.InReplyTo, m.References) {
		it.refs = append(it.refs, importRef{clear: id, hash: s.keys.MessageIDHash(id)})
	}

	body, elided := ExtractBody(m)
	body = strings.TrimSpace(body)
	it.addrCands, it.addrHashes = s.addressCandidates(&body, &elided)
	atts, notes := selectAttachments(m, s.cfg.MaxAttachmentBytes, s.cfg.MaxPostAttachmentBytes)
	it.hasContent = body != "" || len(atts) > 0
	it.atts = atts
	it.body, it.elided = appendNotes(body, notes), elided
	it.subjectTitle = QuestionTitle(m.Subject)
	title, slug, tags, rest := ParseTags(it.subjectTitle, it.body)
	it.qTitle, it.qSlug, it.qTags, it.qBody = QuestionTitle(title), slug, tags, rest
	if base, reply := BaseSubject(m.Subject); base != "" {
		sum := sha256.Sum256([]byte(base))
		it.subjectHash, it.replySubject = sum[:16], reply
	}
	it.date = m.Date
	if it.date.IsZero() {
		if d, ok := job.msg.SeparatorDate(); ok {
			it.date = d
		} else {
			it.date = time.Now()
		}
	}
	return it
}

// pipermailFrom matches the From header of Mailman's pipermail archives,
// which hide the "@": "user at example.org (Display Name)".
var pipermailFrom = regexp.MustCompile(`^\s*([^\s@<>()"]+) at ([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\s*(?:\((.*)\))?\s*$`)

// deobfuscatedFrom recovers the address and name of a pipermail-style
// From header.
func deobfuscatedFrom(h string) (addr, name string, ok bool) {
	m := pipermailFrom.FindStringSubmatch(h)
	if m == nil {
		return "", "", false
	}
	return m[1] + "@" + strings.ToLower(m[2]), strings.TrimSpace(m[3]), true
}

var (
	// listTag is a mailing list's subject tag: "[list-name] ".
	listTag = regexp.MustCompile(`^\s*\[[^\]]*\]\s*`)
	// replyPrefix and forwardPrefix are one reply or forward marker, in
	// the languages QuestionTitle knows, with an optional count ("Re[2]:").
	replyPrefix   = regexp.MustCompile(`(?i)^\s*(re|aw|sv|vs|antw|odp|rif|res)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*`)
	forwardPrefix = regexp.MustCompile(`(?i)^\s*(fw|fwd|wg|tr)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*`)
)

// BaseSubject returns the subject a thread is known by, for JWZ's subject
// grouping: list tags ("[list]") and reply and forward prefixes ("Re:",
// "AW:", "Sv:", "Fwd:", "Re[2]:"), in any order and number, removed from
// the start, white space folded, lower case. reply reports whether a reply
// prefix was among them.
func BaseSubject(subject string) (base string, reply bool) {
	s := subject
	for {
		if loc := replyPrefix.FindStringIndex(s); loc != nil {
			s, reply = s[loc[1]:], true
			continue
		}
		if loc := forwardPrefix.FindStringIndex(s); loc != nil {
			s = s[loc[1]:]
			continue
		}
		if loc := listTag.FindStringIndex(s); loc != nil && loc[1] < len(s) {
			s = s[loc[1]:]
			continue
		}
		break
	}
	return strings.ToLower(strings.Join(strings.Fields(s), " ")), reply
}

// fifo is a map bounded to n entries that forgets the oldest first: the
// importer's memory of recent Message-IDs and people, which replies
// mostly refer to.
type fifo[V any] struct {
	m    map[string]V
	ring []string
	next int
}

func newFIFO[V any](n int) *fifo[V] {
	return &fifo[V]{m: make(map[string]V, n), ring: make([]string, n)}
}

func (c *fifo[V]) get(k string) (V, bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *fifo[V]) put(k string, v V) {
	if _, ok := c.m[k]; ok {
		c.m[k] = v
		return
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.m, old)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % len(c.ring)
	c.m[k] = v
}
