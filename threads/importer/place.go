package importer

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
)

// batchWriter places the messages of a batch, in order, and collects the
// rows to COPY.
type batchWriter struct {
	imp     *importer
	look    *batchLookups
	authors map[string]int64
	ids     []int64
	next    int // next unused id
	res     *batchResult

	byKey    map[string]target
	pending  map[string]target
	subjects map[string]target

	posts, msgIDs, atts, pend, unknown, joined [][]any
	subjKeys                                   [][]byte
	subjPosts                                  []int64
	subjIndex                                  map[string]int
}

func newBatchWriter(imp *importer, look *batchLookups, authors map[string]int64, ids []int64, res *batchResult) *batchWriter {
	return &batchWriter{imp: imp, look: look, authors: authors, ids: ids, res: res,
		byKey: map[string]target{}, pending: map[string]target{}, subjects: map[string]target{}, subjIndex: map[string]int{}}
}

// find finds where a message goes: under the first of its references
// that is known (in this batch, remembered, or indexed); else beside a
// question that waits for one of them; else, for a reply-looking subject,
// in the question with that base subject (bySubject). nil: a new
// question. rank is the index of the reference used (len(it.refs) when
// none was).
func (w *batchWriter) find(it *item) (t *target, rank int, bySubject bool) {
	for i, r := range it.refs {
		if t, ok := w.byKey[r.hash]; ok {
			return &t, i, false
		}
		if t, ok := w.imp.targets.get(r.hash); ok {
			return &t, i, false
		}
		if t, ok := w.look.refs[r.clear]; ok {
			return &t, i, false
		}
		if t, ok := w.look.refs[r.hash]; ok {
			return &t, i, false
		}
	}
	for _, r := range it.refs {
		if t, ok := w.pending[r.hash]; ok {
			return &t, len(it.refs), false
		}
		if t, ok := w.look.pending[r.hash]; ok {
			return &t, len(it.refs), false
		}
	}
	if it.replySubject {
		k := hex.EncodeToString(it.subjectHash)
		if t, ok := w.subjects[k]; ok {
			return &t, len(it.refs), true
		}
		if t, ok := w.look.subjects[k]; ok {
			return &t, len(it.refs), true
		}
	}
	return nil, len(it.refs), false
}

// newPost is what a placed message becomes.
type newPost struct {
	kind                             threads.PostKind
	parentID, questionID, categoryID int64
	title, body                      string
	tags                             []string
}

// place decides what a fresh message becomes and queues its rows.
func (w *batchWriter) place(it *item) error {
	author := w.authors[string(it.authorHash)]
	t, rank, bySubject := w.find(it)
	var p newPost
	var skip string
	if t != nil {
		p, skip = w.asReply(it, t, author)
	} else {
		p, skip = w.asQuestion(it)
	}
	if skip != "" {
		w.res.stats.Skipped[skip]++
		return nil
	}
	id := w.ids[w.next]
	w.next++
	if err := w.queuePost(it, id, author, p); err != nil {
		return err
	}
	if bySubject {
		w.joined = append(w.joined, []any{id})
	}
	w.remember(it, id, author, p, t, rank)
	return nil
}

// asReply returns the reply it makes under t, or why it is skipped. An
// empty reply is skipped but indexed as an alias of t, so that its replies
// still find the thread.
func (w *batchWriter) asReply(it *item, t *target, author int64) (p newPost, skip string) {
	switch {
	case t.qState == "closed":
		return p, skipClosed
	case t.ref.State == "queued" || t.qState == "queued":
		return p, skipQueued
	case !it.hasContent:
		w.msgIDs = append(w.msgIDs, []any{it.msgKey, t.ref.ID, "in", author})
		w.byKey[it.msgKey] = *t
		w.res.targets[it.msgKey] = *t
		return p, skipEmptyReply
	}
	p.body, p.tags = it.body, []string{}
	p.kind, p.parentID, p.questionID = threads.Placement(t.ref)
	if t.ref.Kind == threads.KindQuestion && t.asker == author {
		// The asker replying in their own thread adds to the question,
		// as by email.
		p.kind = threads.KindComment
	}
	return p, ""
}

// asQuestion returns the question it makes, or why it is skipped.
func (w *batchWriter) asQuestion(it *item) (p newPost, skip string) {
	p.kind = threads.KindQuestion
	p.title, p.body, p.tags = it.qTitle, it.qBody, it.qTags
	if p.tags == nil {
		p.tags = []string{}
	}
	p.categoryID = w.imp.categoryID
	if p.categoryID == 0 && it.qSlug != "" {
		if id, ok := w.imp.categories[it.qSlug]; ok {
			p.categoryID = id
		} else {
			p.title = it.subjectTitle
		}
	}
	if !it.hasContent && p.title == "(no subject)" {
		return p, skipEmptyQ
	}
	return p, ""
}

// queuePost queues the rows of post id: the post (its texts redacted),
// its Message-ID index rows and its attachments.
func (w *batchWriter) queuePost(it *item, id, author int64, p newPost) error {
	body, elided := p.body, it.elided
	if len(it.addrCands) > 0 {
		// Known: people already stored, and every author of the batch
		// (an archive may quote a message that comes later in it).
		// Addresses not known yet are noted: redactLate looks again at
		// the end.
		known := map[string]bool{it.from: true}
		for j, c := range it.addrCands {
			h := string(it.addrHashes[j])
			if _, ok := w.authors[h]; ok || w.look.known[h] {
				known[c] = true
			} else if c != it.from {
				w.unknown = append(w.unknown, []any{it.addrHashes[j], id})
			}
		}
		threads.RedactAddresses(known, &body, &elided)
	}
	forumID := w.imp.st.ForumMessageID(p.kind, id)
	client, err := w.imp.st.SealClientMessageID(it.msgID, forumID)
	if err != nil {
		return err
	}
	var qid, pid, cid any
	if p.questionID != 0 && p.kind != threads.KindQuestion {
		qid = p.questionID
	}
	if p.parentID != 0 {
		pid = p.parentID
	}
	if p.categoryID != 0 {
		cid = p.categoryID
	}
	w.posts = append(w.posts, []any{id, string(p.kind), qid, pid, author, p.title, body, elided, cid, forumID, client, "visible", p.tags, it.date})
	w.msgIDs = append(w.msgIDs, []any{forumID, id, "out", nil}, []any{it.msgKey, id, "in", author})
	for _, a := range it.atts {
		w.atts = append(w.atts, []any{id, a.Filename, a.ContentType, int32(len(a.Data)), a.Data, a.ContentID, a.Inline})
	}
	return nil
}

// remember records post id for the messages after it: as a thread target
// by its Message-ID, its references nearer than the one used (rank) as
// waiting, and a question by its references and base subject.
func (w *batchWriter) remember(it *item, id, author int64, p newPost, t *target, rank int) {
	me := target{ref: threads.ParentRef{ID: id, Kind: p.kind, QuestionID: p.questionID, ParentID: p.parentID, State: "visible"}, qState: "visible", asker: author}
	// The references nearer than the one used are missing (so far): if
	// one is imported later, the post moves under it (see reparent).
	for r, ref := range it.refs[:rank] {
		w.pend = append(w.pend, []any{ref.hash, id, int16(min(r, 1<<15-1))})
	}
	switch p.kind {
	case threads.KindQuestion:
		me.ref.QuestionID = id
		w.res.stats.Questions++
		w.rememberQuestion(it, id, me)
	case threads.KindAnswer:
		w.res.stats.Answers++
	default:
		w.res.stats.Comments++
	}
	if t != nil {
		me.qState, me.asker = t.qState, t.asker
	}
	w.res.stats.Imported++
	w.byKey[it.msgKey] = me
	w.res.targets[it.msgKey] = me
}

// rememberQuestion records question id (me) as waiting for its references
// and as the latest question of its base subject.
func (w *batchWriter) rememberQuestion(it *item, id int64, me target) {
	for _, ref := range it.refs {
		if _, ok := w.pending[ref.hash]; !ok {
			w.pending[ref.hash] = me
		}
	}
	if it.subjectHash == nil {
		return
	}
	k := hex.EncodeToString(it.subjectHash)
	w.subjects[k] = me
	if j, ok := w.subjIndex[k]; ok {
		w.subjPosts[j] = id
	} else {
		w.subjIndex[k] = len(w.subjKeys)
		w.subjKeys, w.subjPosts = append(w.subjKeys, it.subjectHash), append(w.subjPosts, id)
	}
}

// write stores the queued rows with COPY (and the subject index with one
// upsert).
func (w *batchWriter) write(ctx context.Context, tx pgx.Tx) error {
	copies := []struct {
		to   copyTarget
		rows [][]any
	}{
		{copyPosts, w.posts}, {copyMessageIDs, w.msgIDs}, {copyAttachments, w.atts},
		{copyPending, w.pend}, {copyAddresses, w.unknown}, {copyJoined, w.joined},
	}
	for _, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, c.to.table, c.to.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", c.to.table[0], err)
		}
	}
	if len(w.subjKeys) > 0 {
		if _, err := tx.Exec(ctx, indexSubjectsSQL, w.subjKeys, w.subjPosts); err != nil {
			return fmt.Errorf("index subjects: %w", err)
		}
	}
	return nil
}
