package threads

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// importer is the state of one ImportMbox run kept between batches: the
// counts and two bounded caches. It is used by one goroutine.
type importer struct {
	s          *Store
	stats      ImportStats
	categories map[string]int64 // every category by slug (there are few)
	categoryID int64            // ImportOptions.Category's id, 0 for none
	targets    *fifo[importTarget]
	people     *fifo[int64] // person id by address hash

	firstID, lastID int64 // the range of post ids this run reserved
}

// importTarget is what placing a reply needs to know of the post it
// replies to (see ParentRef) and of its question.
type importTarget struct {
	ref    ParentRef
	qState string // the question's state
	asker  int64  // the question's author
}

func (s *Store) newImporter(ctx context.Context, opts ImportOptions) (*importer, error) {
	imp := &importer{s: s, stats: ImportStats{Skipped: map[string]int64{}}, categories: map[string]int64{},
		targets: newFIFO[importTarget](opts.CacheSize), people: newFIFO[int64](opts.CacheSize)}
	rows, err := s.pool.Query(ctx, `SELECT slug, id FROM categories`)
	if err != nil {
		return nil, fmt.Errorf("import: load categories: %w", err)
	}
	for rows.Next() {
		var slug string
		var id int64
		if err := rows.Scan(&slug, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("import: load categories: %w", err)
		}
		imp.categories[slug] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import: load categories: %w", err)
	}
	if opts.Category != "" {
		id, ok := imp.categories[opts.Category]
		if !ok {
			return nil, fmt.Errorf("import: no category %q (postern category add %s \"Name\" makes it)", opts.Category, opts.Category)
		}
		imp.categoryID = id
	}
	return imp, nil
}

// batchResult is what one committed batch adds to the importer's state;
// it is applied only once the transaction has committed.
type batchResult struct {
	firstID, lastID int64 // the post ids reserved
	stats           ImportStats
	targets         map[string]importTarget
	people          map[string]int64
}

// commit imports one batch of prepared messages, in mailbox order, in one
// transaction. A batch that collides with a Message-ID stored meanwhile
// by someone else (live mail arriving during the import) is tried again.
func (imp *importer) commit(ctx context.Context, batch []*importItem) error {
	imp.stats.Read += int64(len(batch))
	last := batch[len(batch)-1]
	imp.stats.Garbage = last.garbage
	var todo []*importItem
	for _, it := range batch {
		if it.skip != "" {
			imp.stats.Skipped[it.skip]++
		} else {
			todo = append(todo, it)
		}
	}
	if len(todo) > 0 {
		var res batchResult
		var err error
		for attempt := 1; ; attempt++ {
			res, err = imp.commitOnce(ctx, todo)
			var pgErr *pgconn.PgError
			if err != nil && attempt < 3 && errors.As(err, &pgErr) && pgErr.Code == "23505" {
				imp.s.log.Warn("import: batch collided with a concurrent write, trying again", "attempt", attempt)
				continue
			}
			break
		}
		if err != nil {
			return err
		}
		imp.apply(res)
	}
	imp.stats.Bytes = last.end
	return nil
}

// apply adds a committed batch's result to the importer.
func (imp *importer) apply(res batchResult) {
	st := &imp.stats
	st.Imported += res.stats.Imported
	st.Questions += res.stats.Questions
	st.Answers += res.stats.Answers
	st.Comments += res.stats.Comments
	st.Duplicates += res.stats.Duplicates
	st.People += res.stats.People
	for k, n := range res.stats.Skipped {
		st.Skipped[k] += n
	}
	for k, t := range res.targets {
		imp.targets.put(k, t)
	}
	for k, id := range res.people {
		imp.people.put(k, id)
	}
	if res.lastID != 0 {
		if imp.firstID == 0 {
			imp.firstID = res.firstID
		}
		imp.lastID = res.lastID
	}
}

// The statements of a batch. Client Message-IDs are looked up in both
// forms, as lookupThread does (forum ids are indexed in clear).
const (
	importDedupSQL = `SELECT message_id FROM message_ids WHERE message_id = ANY($1)`
	importRefsSQL  = `SELECT m.message_id, p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, q.state, q.author_id
		FROM message_ids m JOIN posts p ON p.id = m.post_id JOIN posts q ON q.id = coalesce(p.question_id, p.id)
		WHERE m.message_id = ANY($1) AND p.state IN ('visible', 'closed', 'queued')`
	importPendingSQL = `SELECT DISTINCT ON (i.message_id) i.message_id, p.id, p.state, p.author_id
		FROM import_pending i JOIN posts p ON p.id = i.post_id
		WHERE i.message_id = ANY($1) AND p.kind = 'question' AND p.state IN ('visible', 'closed', 'queued')
		ORDER BY i.message_id, p.id`
	importSubjectsSQL = `SELECT s.subject_hash, p.id, p.state, p.author_id
		FROM import_subjects s JOIN posts p ON p.id = s.question_id
		WHERE s.subject_hash = ANY($1) AND p.kind = 'question' AND p.state IN ('visible', 'closed', 'queued')`
	importKnownSQL = `SELECT address_hash FROM people WHERE address_hash = ANY($1)`
	// importPeopleSQL creates the people not yet known, unconfirmed, with
	// "Member N" for those without a display name, and returns every
	// person asked for.
	importPeopleSQL = `WITH input AS (
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int[], $4::text[]) AS u(hash, enc, key_id, name)),
		created AS (
			INSERT INTO people (id, display_name, address_hash, address_enc, key_id)
			SELECT n.id, CASE WHEN n.name = '' THEN 'Member ' || n.id ELSE n.name END, n.hash, n.enc, n.key_id
			FROM (SELECT nextval(pg_get_serial_sequence('people', 'id')) AS id, i.* FROM input i) n
			ON CONFLICT (address_hash) DO NOTHING
			RETURNING id, address_hash)
		SELECT id, address_hash, true FROM created
		UNION ALL
		SELECT p.id, p.address_hash, false FROM people p JOIN input i ON p.address_hash = i.hash`
	importIDsSQL      = `SELECT nextval(pg_get_serial_sequence('posts', 'id')) FROM generate_series(1, $1)`
	importSubjectsUpd = `INSERT INTO import_subjects (subject_hash, question_id)
		SELECT * FROM unnest($1::bytea[], $2::bigint[])
		ON CONFLICT (subject_hash) DO UPDATE SET question_id = EXCLUDED.question_id`
)

// commitOnce writes one batch in one transaction and returns what it did.
func (imp *importer) commitOnce(ctx context.Context, todo []*importItem) (batchResult, error) {
	res := batchResult{stats: ImportStats{Skipped: map[string]int64{}}, targets: map[string]importTarget{}, people: map[string]int64{}}
	err := pgx.BeginFunc(ctx, imp.s.pool, func(tx pgx.Tx) error {
		res = batchResult{stats: ImportStats{Skipped: map[string]int64{}}, targets: map[string]importTarget{}, people: map[string]int64{}}
		// A batch lost in a crash is imported again by the next run: the
		// commit need not wait for the disk (the database stays
		// consistent either way).
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("batch settings: %w", err)
		}
		look, err := imp.lookUp(ctx, tx, todo)
		if err != nil {
			return err
		}
		// Duplicates: indexed already, or earlier in this batch.
		var fresh []*importItem
		inBatch := map[string]bool{}
		for _, it := range todo {
			if look.dup[it.msgKey] || inBatch[it.msgKey] {
				res.stats.Duplicates++
				continue
			}
			inBatch[it.msgKey] = true
			fresh = append(fresh, it)
		}
		if len(fresh) == 0 {
			return nil
		}
		authors, err := imp.ensurePeople(ctx, tx, fresh, &res)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, importIDsSQL, len(fresh))
		if err != nil {
			return fmt.Errorf("reserve post ids: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("reserve post ids: %w", err)
		}
		res.firstID, res.lastID = ids[0], ids[len(ids)-1]
		w := newBatchWriter(imp, look, authors, ids, &res)
		for _, it := range fresh {
			if err := w.place(it); err != nil {
				return err
			}
		}
		return w.write(ctx, tx)
	})
	if err != nil {
		return batchResult{}, fmt.Errorf("commit batch: %w", err)
	}
	return res, nil
}

// batchLookups is what the database knows of a batch's Message-IDs,
// subjects and addresses, read with one round trip.
type batchLookups struct {
	dup      map[string]bool
	refs     map[string]importTarget // by index key
	pending  map[string]importTarget // question waiting for that parent, by hash
	subjects map[string]importTarget // by hex of the subject digest
	known    map[string]bool         // address hashes (as strings) of people
}

// lookUp reads what the database knows of todo: in one round trip, which
// Message-IDs are indexed already, where their references are and which
// addresses in their texts belong to people; then, only for the messages
// none of whose references is known (rare), in a second one, which
// questions wait for the same missing parents and which questions have
// their base subjects.
func (imp *importer) lookUp(ctx context.Context, tx pgx.Tx, todo []*importItem) (*batchLookups, error) {
	l := &batchLookups{dup: map[string]bool{}, refs: map[string]importTarget{}, pending: map[string]importTarget{},
		subjects: map[string]importTarget{}, known: map[string]bool{}}
	var own, refKeys []string
	var addrs [][]byte
	seen := map[string]bool{}
	for _, it := range todo {
		own = append(own, it.msgKey)
		for _, r := range it.refs {
			if _, ok := imp.targets.get(r.hash); ok || seen[r.hash] {
				continue
			}
			seen[r.hash] = true
			refKeys = append(refKeys, r.clear, r.hash)
		}
		addrs = append(addrs, it.addrHashes...)
	}
	b := &pgx.Batch{}
	b.Queue(importDedupSQL, own).Query(func(rows pgx.Rows) error {
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range keys {
			l.dup[k] = true
		}
		return err
	})
	b.Queue(importRefsSQL, refKeys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key, kind string
			var t importTarget
			if err := rows.Scan(&key, &t.ref.ID, &kind, &t.ref.QuestionID, &t.ref.ParentID, &t.ref.State, &t.qState, &t.asker); err != nil {
				return err
			}
			t.ref.Kind = PostKind(kind)
			l.refs[key] = t
		}
		return rows.Err()
	})
	b.Queue(importKnownSQL, addrs).Query(func(rows pgx.Rows) error {
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		for _, h := range hashes {
			l.known[string(h)] = true
		}
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("look up batch: %w", err)
	}

	// The messages no reference of which can be found (in the batch
	// before them, remembered or indexed).
	var pendKeys []string
	var subjects [][]byte
	before := map[string]bool{}
	for _, it := range todo {
		if l.dup[it.msgKey] {
			continue
		}
		found := false
		for _, r := range it.refs {
			_, cached := imp.targets.get(r.hash)
			_, byClear := l.refs[r.clear]
			_, byHash := l.refs[r.hash]
			if found = cached || byClear || byHash || before[r.hash]; found {
				break
			}
		}
		before[it.msgKey] = true
		if found {
			continue
		}
		for _, r := range it.refs {
			pendKeys = append(pendKeys, r.hash)
		}
		if it.replySubject {
			subjects = append(subjects, it.subjectHash)
		}
	}
	if len(pendKeys) == 0 && len(subjects) == 0 {
		return l, nil
	}
	// question scans a row of a waiting question or of a subject: key
	// first.
	question := func(rows pgx.Rows, key any) (importTarget, error) {
		var t importTarget
		err := rows.Scan(key, &t.ref.ID, &t.ref.State, &t.asker)
		t.ref.Kind, t.ref.QuestionID, t.qState = KindQuestion, t.ref.ID, t.ref.State
		return t, err
	}
	b = &pgx.Batch{}
	b.Queue(importPendingSQL, pendKeys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key string
			t, err := question(rows, &key)
			if err != nil {
				return err
			}
			l.pending[key] = t
		}
		return rows.Err()
	})
	b.Queue(importSubjectsSQL, subjects).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key []byte
			t, err := question(rows, &key)
			if err != nil {
				return err
			}
			l.subjects[hex.EncodeToString(key)] = t
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("look up batch: %w", err)
	}
	return l, nil
}

// ensurePeople returns the person id of every author of items, creating
// the unknown ones (unconfirmed, their addresses sealed).
func (imp *importer) ensurePeople(ctx context.Context, tx pgx.Tx, items []*importItem, res *batchResult) (map[string]int64, error) {
	ids := map[string]int64{}
	var hashes, sealed [][]byte
	var keyIDs []int32
	var names []string
	for _, it := range items {
		k := string(it.authorHash)
		if _, ok := ids[k]; ok {
			continue
		}
		if id, ok := imp.people.get(k); ok {
			ids[k] = id
			continue
		}
		ids[k] = 0
		keyID, enc, err := imp.s.keys.Seal(it.from)
		if err != nil {
			return nil, err
		}
		hashes, sealed = append(hashes, it.authorHash), append(sealed, enc)
		keyIDs, names = append(keyIDs, int32(keyID)), append(names, it.authorName)
	}
	if len(hashes) == 0 {
		return ids, nil
	}
	rows, err := tx.Query(ctx, importPeopleSQL, hashes, sealed, keyIDs, names)
	if err != nil {
		return nil, fmt.Errorf("import people: %w", err)
	}
	for rows.Next() {
		var id int64
		var hash []byte
		var created bool
		if err := rows.Scan(&id, &hash, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("import people: %w", err)
		}
		ids[string(hash)] = id
		res.people[string(hash)] = id
		if created {
			res.stats.People++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import people: %w", err)
	}
	// Someone created by a concurrent transaction after this statement's
	// snapshot was neither inserted nor seen: read them now.
	var missing [][]byte
	for _, h := range hashes {
		if ids[string(h)] == 0 {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		rows, err := tx.Query(ctx, `SELECT id, address_hash FROM people WHERE address_hash = ANY($1)`, missing)
		if err != nil {
			return nil, fmt.Errorf("import people: %w", err)
		}
		for rows.Next() {
			var id int64
			var hash []byte
			if err := rows.Scan(&id, &hash); err != nil {
				rows.Close()
				return nil, fmt.Errorf("import people: %w", err)
			}
			ids[string(hash)], res.people[string(hash)] = id, id
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("import people: %w", err)
		}
		for _, h := range missing {
			if ids[string(h)] == 0 {
				return nil, errors.New("import people: a person could be neither created nor found")
			}
		}
	}
	return ids, nil
}

// batchWriter places the messages of a batch, in order, and collects the
// rows to COPY.
type batchWriter struct {
	imp     *importer
	look    *batchLookups
	authors map[string]int64
	ids     []int64
	next    int // next unused id
	res     *batchResult

	byKey    map[string]importTarget
	pending  map[string]importTarget
	subjects map[string]importTarget

	posts, msgIDs, atts, pend, unknown, joined [][]any
	subjKeys                                   [][]byte
	subjPosts                                  []int64
	subjIndex                                  map[string]int
}

func newBatchWriter(imp *importer, look *batchLookups, authors map[string]int64, ids []int64, res *batchResult) *batchWriter {
	return &batchWriter{imp: imp, look: look, authors: authors, ids: ids, res: res,
		byKey: map[string]importTarget{}, pending: map[string]importTarget{}, subjects: map[string]importTarget{}, subjIndex: map[string]int{}}
}

// target finds where a message goes: under the first of its references
// that is known (in this batch, remembered, or indexed); else beside a
// question that waits for one of them; else, for a reply-looking subject,
// in the question with that base subject (bySubject). nil: a new
// question. rank is the index of the reference used (len(it.refs) when
// none was).
func (w *batchWriter) target(it *importItem) (t *importTarget, rank int, bySubject bool) {
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

// place decides what a fresh message becomes and queues its rows.
func (w *batchWriter) place(it *importItem) error {
	s := w.imp.s
	authorKey := string(it.authorHash)
	author := w.authors[authorKey]
	t, rank, bySubject := w.target(it)
	skip := func(reason string) {
		w.res.stats.Skipped[reason]++
	}
	var kind PostKind
	var parentID, questionID, categoryID int64
	title, body, tags := "", it.body, []string{}
	if t != nil {
		switch {
		case t.qState == "closed":
			skip(skipClosed)
			return nil
		case t.ref.State == "queued" || t.qState == "queued":
			skip(skipQueued)
			return nil
		case !it.hasContent:
			// Nothing to post, but its replies must still find the
			// thread: its Message-ID leads to its parent.
			skip(skipEmptyReply)
			w.msgIDs = append(w.msgIDs, []any{it.msgKey, t.ref.ID, "in", author})
			w.byKey[it.msgKey] = *t
			w.res.targets[it.msgKey] = *t
			return nil
		}
		kind, parentID, questionID = Placement(t.ref)
		if t.ref.Kind == KindQuestion && t.asker == author {
			// The asker replying in their own thread adds to the
			// question, as by email.
			kind = KindComment
		}
	} else {
		kind = KindQuestion
		title, body, tags = it.qTitle, it.qBody, it.qTags
		if tags == nil {
			tags = []string{}
		}
		categoryID = w.imp.categoryID
		if categoryID == 0 && it.qSlug != "" {
			if id, ok := w.imp.categories[it.qSlug]; ok {
				categoryID = id
			} else {
				title = it.subjectTitle
			}
		}
		if !it.hasContent && title == "(no subject)" {
			skip(skipEmptyQ)
			return nil
		}
	}
	id := w.ids[w.next]
	w.next++
	elided := it.elided
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
		redactAddresses(known, &body, &elided)
	}
	forumID := s.forumMessageID(kind, id)
	keyID, sealed, err := s.keys.SealBytes([]byte(it.msgID), []byte(forumID))
	if err != nil {
		return err
	}
	client := append([]byte{byte(keyID)}, sealed...)
	var qid, pid, cid any
	if questionID != 0 && kind != KindQuestion {
		qid = questionID
	}
	if parentID != 0 {
		pid = parentID
	}
	if categoryID != 0 {
		cid = categoryID
	}
	w.posts = append(w.posts, []any{id, string(kind), qid, pid, author, title, body, elided, cid, forumID, client, "visible", tags, it.date})
	w.msgIDs = append(w.msgIDs, []any{forumID, id, "out", nil}, []any{it.msgKey, id, "in", author})
	if bySubject {
		w.joined = append(w.joined, []any{id})
	}
	for _, a := range it.atts {
		w.atts = append(w.atts, []any{id, a.filename, a.contentType, int32(len(a.data)), a.data, a.contentID, a.inline})
	}
	me := importTarget{ref: ParentRef{ID: id, Kind: kind, QuestionID: questionID, ParentID: parentID, State: "visible"}, qState: "visible", asker: author}
	// The references nearer than the one used are missing (so far): if
	// one is imported later, the post moves under it (see reparent).
	for r, ref := range it.refs[:rank] {
		w.pend = append(w.pend, []any{ref.hash, id, int16(min(r, 1<<15-1))})
	}
	switch kind {
	case KindQuestion:
		me.ref.QuestionID = id
		me.asker = author
		w.res.stats.Questions++
		for _, ref := range it.refs {
			if _, ok := w.pending[ref.hash]; !ok {
				w.pending[ref.hash] = me
			}
		}
		if it.subjectHash != nil {
			k := hex.EncodeToString(it.subjectHash)
			w.subjects[k] = me
			if j, ok := w.subjIndex[k]; ok {
				w.subjPosts[j] = id
			} else {
				w.subjIndex[k] = len(w.subjKeys)
				w.subjKeys, w.subjPosts = append(w.subjKeys, it.subjectHash), append(w.subjPosts, id)
			}
		}
	case KindAnswer:
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
	return nil
}

// write stores the queued rows with COPY (and the subject index with one
// upsert).
func (w *batchWriter) write(ctx context.Context, tx pgx.Tx) error {
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"posts", []string{"id", "kind", "question_id", "parent_id", "author_id", "title", "body", "elided", "category_id", "message_id", "client_msgid", "state", "tags", "created_at"}, w.posts},
		{"message_ids", []string{"message_id", "post_id", "direction", "recipient_id"}, w.msgIDs},
		{"attachments", []string{"post_id", "filename", "content_type", "size", "data", "content_id", "inline"}, w.atts},
		{"import_pending", []string{"message_id", "post_id", "rank"}, w.pend},
		{"import_addresses", []string{"address_hash", "post_id"}, w.unknown},
		{"import_subject_joined", []string{"post_id"}, w.joined},
	}
	for _, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", c.table, err)
		}
	}
	if len(w.subjKeys) > 0 {
		if _, err := tx.Exec(ctx, importSubjectsUpd, w.subjKeys, w.subjPosts); err != nil {
			return fmt.Errorf("index subjects: %w", err)
		}
	}
	return nil
}

// reparentBatch is how many waiting posts reparent handles per
// transaction.
const reparentBatch = 500

// reparent moves each imported post that waits for a nearer parent (see
// import_pending) now imported under it, with its replies, as JWZ
// threading of the whole archive would have placed it, and returns how
// many questions became replies and how many replies moved.
func (imp *importer) reparent(ctx context.Context) (questions, replies int64, err error) {
	var after int64
	t0 := time.Now()
	for {
		type move struct{ post, target int64 }
		rows, err := imp.s.pool.Query(ctx, `SELECT DISTINCT ON (i.post_id) i.post_id, m.post_id
			FROM import_pending i JOIN message_ids m ON m.message_id = i.message_id
			JOIN posts t ON t.id = m.post_id AND t.state IN ('visible', 'closed', 'queued')
			WHERE i.post_id > $1 ORDER BY i.post_id, i.rank LIMIT $2`, after, reparentBatch)
		if err != nil {
			return questions, replies, fmt.Errorf("find waiting posts: %w", err)
		}
		moves, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (move, error) {
			var m move
			return m, r.Scan(&m.post, &m.target)
		})
		if err != nil {
			return questions, replies, fmt.Errorf("find waiting posts: %w", err)
		}
		if len(moves) == 0 {
			break
		}
		var q, r int64
		err = pgx.BeginFunc(ctx, imp.s.pool, func(tx pgx.Tx) error {
			q, r = 0, 0
			for _, m := range moves {
				kind, err := imp.moveUnder(ctx, tx, m.post, m.target)
				if err != nil {
					return err
				}
				switch kind {
				case KindQuestion:
					q++
				case "":
				default:
					r++
				}
			}
			return nil
		})
		if err != nil {
			return questions, replies, err
		}
		questions, replies = questions+q, replies+r
		after = moves[len(moves)-1].post
	}
	if questions+replies > 0 {
		imp.s.log.Info("import: posts moved under parents imported after them", "questions", questions, "replies", replies,
			"took", time.Since(t0).Round(time.Millisecond))
	}
	return questions, replies, nil
}

// moveUnder moves post id, with the posts under it, under post target and
// returns the kind id had ("" when it did not move it: target lies in
// id's own subtree, a reference loop). Placement follows Placement: a post
// moved under a question becomes an answer, and the posts under it
// comments on it; under an answer or a comment, everything becomes a
// comment on that answer (Question2Answer's comments are flat). Its
// waiting references are resolved either way.
func (imp *importer) moveUnder(ctx context.Context, tx pgx.Tx, id, target int64) (PostKind, error) {
	var t importTarget
	var kind string
	err := tx.QueryRow(ctx, `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, q.state, q.author_id
		FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id) WHERE p.id = $1`, target).
		Scan(&t.ref.ID, &kind, &t.ref.QuestionID, &t.ref.ParentID, &t.ref.State, &t.qState, &t.asker)
	if err != nil {
		return "", fmt.Errorf("load parent %d: %w", target, err)
	}
	t.ref.Kind = PostKind(kind)
	var oldKind string
	var author, oldParent, oldQuestion int64
	if err := tx.QueryRow(ctx, `SELECT kind, author_id, coalesce(parent_id, 0), coalesce(question_id, 0) FROM posts WHERE id = $1`, id).
		Scan(&oldKind, &author, &oldParent, &oldQuestion); err != nil {
		return "", fmt.Errorf("load post %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM import_pending WHERE post_id = $1`, id); err != nil {
		return "", fmt.Errorf("resolve post %d: %w", id, err)
	}
	// The posts under id: a question's whole thread, an answer's comments;
	// a comment has none.
	var below string
	switch PostKind(oldKind) {
	case KindQuestion:
		below = `question_id = $1`
		if t.ref.QuestionID == id {
			return "", nil
		}
	case KindAnswer:
		below = `parent_id = $1 AND kind = 'comment'`
		if t.ref.ID == id || t.ref.ParentID == id {
			return "", nil
		}
	default:
		if t.ref.ID == id {
			return "", nil
		}
	}
	newKind, parentID, questionID := Placement(t.ref)
	if t.ref.Kind == KindQuestion && t.asker == author {
		newKind = KindComment
	}
	if string(newKind) == oldKind && parentID == oldParent && questionID == oldQuestion {
		return "", nil // already there (the parent found was an empty reply's alias)
	}
	under := parentID
	if newKind == KindAnswer {
		under = id
	}
	if PostKind(oldKind) == KindQuestion {
		// What joined the question by its subject alone joins the new
		// question the same way (JWZ groups subjects among roots).
		rows, err := tx.Query(ctx, `SELECT p.id, p.author_id FROM posts p JOIN import_subject_joined j ON j.post_id = p.id
			WHERE p.question_id = $1 AND p.parent_id = $1`, id)
		if err != nil {
			return "", fmt.Errorf("load the replies of post %d: %w", id, err)
		}
		type joined struct{ id, author int64 }
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (joined, error) {
			var j joined
			return j, r.Scan(&j.id, &j.author)
		})
		if err != nil {
			return "", fmt.Errorf("load the replies of post %d: %w", id, err)
		}
		for _, j := range list {
			kind := KindAnswer
			if j.author == t.asker {
				kind = KindComment
			}
			if _, err := tx.Exec(ctx, `UPDATE posts SET kind = $2, question_id = $3, parent_id = $3 WHERE id = $1`, j.id, string(kind), questionID); err != nil {
				return "", fmt.Errorf("move post %d: %w", j.id, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE posts SET question_id = $2 WHERE parent_id = $1 AND kind = 'comment'`, j.id, questionID); err != nil {
				return "", fmt.Errorf("move the comments of post %d: %w", j.id, err)
			}
		}
	}
	if below != "" {
		if _, err := tx.Exec(ctx, `UPDATE posts SET kind = 'comment', question_id = $2, parent_id = $3 WHERE `+below, id, questionID, under); err != nil {
			return "", fmt.Errorf("move the replies of post %d: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET kind = $2, question_id = $3, parent_id = $4, title = '', category_id = NULL, tags = '{}'
		WHERE id = $1`, id, string(newKind), questionID, parentID); err != nil {
		return "", fmt.Errorf("move post %d: %w", id, err)
	}
	if PostKind(oldKind) == KindQuestion {
		if _, err := tx.Exec(ctx, `UPDATE import_subjects SET question_id = $2 WHERE question_id = $1`, id, questionID); err != nil {
			return "", fmt.Errorf("move the subject of question %d: %w", id, err)
		}
	}
	return PostKind(oldKind), nil
}

// redactLate redacts, in the posts this run imported, the addresses that
// were not known when they were stored but are now (an archive quoting a
// sender whose first message comes in a later batch), then forgets the
// addresses it noted (import_addresses). It returns how many posts it
// changed.
func (imp *importer) redactLate(ctx context.Context) (int64, error) {
	if imp.lastID == 0 {
		return 0, nil
	}
	var changed int64
	err := pgx.BeginFunc(ctx, imp.s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT a.post_id FROM import_addresses a JOIN people p ON p.address_hash = a.address_hash
			WHERE a.post_id BETWEEN $1 AND $2 ORDER BY 1`, imp.firstID, imp.lastID)
		if err != nil {
			return fmt.Errorf("find addresses to redact: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("find addresses to redact: %w", err)
		}
		for _, id := range ids {
			var body, elided string
			if err := tx.QueryRow(ctx, `SELECT body, elided FROM posts WHERE id = $1`, id).Scan(&body, &elided); err != nil {
				return fmt.Errorf("load post %d: %w", id, err)
			}
			b, e := body, elided
			if err := imp.s.redactKnown(ctx, tx, "", &b, &e); err != nil {
				return err
			}
			if b == body && e == elided {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE posts SET body = $2, elided = $3 WHERE id = $1`, id, b, e); err != nil {
				return fmt.Errorf("redact post %d: %w", id, err)
			}
			changed++
		}
		if _, err := tx.Exec(ctx, `DELETE FROM import_addresses WHERE post_id BETWEEN $1 AND $2`, imp.firstID, imp.lastID); err != nil {
			return fmt.Errorf("forget noted addresses: %w", err)
		}
		return nil
	})
	return changed, err
}
