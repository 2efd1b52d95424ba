package importer

import (
	"crypto/sha256"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

// ref is one candidate parent of a message: its Message-ID as the index
// keys it in clear (forum ids) and hashed (client ids).
type ref struct{ clear, hash string }

// item is a message prepared for import: everything that needs no
// database, computed in parallel.
type item struct {
	seq, end, garbage, weight int64
	skip                      string // set when it is not imported

	msgKey string // its own Message-ID's index key (keyed hash)
	msgID  string // its Message-ID, sealed into the post
	refs   []ref  // candidate parents, nearest first

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
	atts         []threads.KeptAttachment
}

// preparer reads messages as live processing does, without the database.
// It does not change once made: the parsing workers share it.
type preparer struct {
	st               *threads.Store
	keys             *threads.Keys
	log              *slog.Logger
	domain           string
	maxFile, maxPost int // attachment limits
}

func newPreparer(st *threads.Store) *preparer {
	cfg := st.Config()
	return &preparer{st: st, keys: st.Keys(), log: st.Logger(), domain: cfg.Domain,
		maxFile: cfg.MaxAttachmentBytes, maxPost: cfg.MaxPostAttachmentBytes}
}

// prepare parses and reads one message: the steps of processing live mail
// (Store.process and Store.route) that need no database.
func (p *preparer) prepare(j job) *item {
	it := &item{seq: j.seq, end: j.end, garbage: j.garbage, weight: j.weight, skip: j.skip}
	if j.msg == nil {
		return it
	}
	m, err := parse.Parse(j.msg.Raw, parse.Limits{})
	if err != nil {
		p.log.Warn("import: message skipped", "offset", j.msg.Offset, "reason", skipUnparseable, "err", err)
		it.skip = skipUnparseable
		return it
	}
	if it.skip = p.sender(m, it); it.skip != "" {
		return it
	}
	p.content(m, it)
	it.date = m.Date
	if it.date.IsZero() {
		if d, ok := j.msg.SeparatorDate(); ok {
			it.date = d
		} else {
			it.date = time.Now()
		}
	}
	return it
}

// sender fills in who sent m and what it replies to, or returns why m is
// skipped.
func (p *preparer) sender(m *parse.Message, it *item) (skip string) {
	// List traffic is what an archive holds: only bounces and
	// auto-replies (which Classify names before any list header) are
	// left out.
	v := classify.Classify(m, "-", "")
	switch {
	case v.Kind == classify.Bounce:
		return skipBounce
	case v.Kind == classify.Auto && (strings.HasPrefix(v.Reason, "auto-submitted") || strings.HasPrefix(v.Reason, "x-auto")):
		return skipAutoReply
	}
	if !m.HasFrom || !strings.Contains(m.From.Addr, "@") {
		// Mailman's pipermail archives write "user at host (Name)".
		addr, name, ok := deobfuscatedFrom(m.Header.Get("From"))
		if !ok {
			return skipNoFrom
		}
		m.From, m.HasFrom = parse.Address{Name: name, Addr: addr}, true
	} else if pipeline.MalformedFrom(m) {
		return skipMalformed
	}
	it.from = threads.NormalizeAddress(m.From.Addr)
	if strings.HasSuffix(it.from, "@"+p.domain) {
		return skipOwnDomain
	}
	it.authorHash = p.keys.AddressHash(it.from)
	it.authorName = threads.CleanDisplayName(m.From.Name)
	it.msgID = m.MessageID
	it.msgKey = p.keys.MessageIDHash(m.MessageID)
	for _, id := range threads.CandidateIDs(m.InReplyTo, m.References) {
		it.refs = append(it.refs, ref{clear: id, hash: p.keys.MessageIDHash(id)})
	}
	return ""
}

// content fills in m's texts (as a reply and as a question), the address
// candidates in them, its attachments and its base subject.
func (p *preparer) content(m *parse.Message, it *item) {
	body, elided := pipeline.ExtractBody(m)
	body = strings.TrimSpace(body)
	it.addrCands, it.addrHashes = p.st.AddressCandidates(&body, &elided)
	atts, notes := pipeline.SelectAttachments(m, p.maxFile, p.maxPost)
	it.hasContent = body != "" || len(atts) > 0
	it.atts = atts
	it.body, it.elided = threads.AppendNotes(body, notes), elided
	it.subjectTitle = threads.QuestionTitle(m.Subject)
	title, slug, tags, rest := threads.ParseTags(it.subjectTitle, it.body)
	it.qTitle, it.qSlug, it.qTags, it.qBody = threads.QuestionTitle(title), slug, tags, rest
	if base, reply := BaseSubject(m.Subject); base != "" {
		sum := sha256.Sum256([]byte(base))
		it.subjectHash, it.replySubject = sum[:16], reply
	}
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
