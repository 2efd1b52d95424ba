package importer

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
)

// batchLookups is what the database knows of a batch's Message-IDs,
// subjects and addresses.
type batchLookups struct {
	dup      map[string]bool
	refs     map[string]target // by index key
	pending  map[string]target // question waiting for that parent, by hash
	subjects map[string]target // by hex of the subject digest
	known    map[string]bool   // address hashes (as strings) of people
}

// lookUp reads what the database knows of todo: in one round trip, which
// Message-IDs are indexed already, where their references are and which
// addresses in their texts belong to people; then, only for the messages
// none of whose references is known (rare), in a second one, which
// questions wait for the same missing parents and which questions have
// their base subjects.
func (imp *importer) lookUp(ctx context.Context, tx pgx.Tx, todo []*item) (*batchLookups, error) {
	l := &batchLookups{dup: map[string]bool{}, refs: map[string]target{}, pending: map[string]target{},
		subjects: map[string]target{}, known: map[string]bool{}}
	if err := imp.lookUpKeys(ctx, tx, todo, l); err != nil {
		return nil, err
	}
	pendKeys, subjects := imp.orphans(todo, l)
	if len(pendKeys) == 0 && len(subjects) == 0 {
		return l, nil
	}
	if err := lookUpOrphans(ctx, tx, pendKeys, subjects, l); err != nil {
		return nil, err
	}
	return l, nil
}

// lookUpKeys fills in l.dup, l.refs and l.known for todo, in one round
// trip. References remembered from earlier batches are not looked up.
func (imp *importer) lookUpKeys(ctx context.Context, tx pgx.Tx, todo []*item, l *batchLookups) error {
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
	b.Queue(dedupSQL, own).Query(func(rows pgx.Rows) error {
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range keys {
			l.dup[k] = true
		}
		return err
	})
	b.Queue(refsSQL, refKeys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key, kind string
			var t target
			if err := rows.Scan(&key, &t.ref.ID, &kind, &t.ref.QuestionID, &t.ref.ParentID, &t.ref.State, &t.qState, &t.asker); err != nil {
				return err
			}
			t.ref.Kind = threads.PostKind(kind)
			l.refs[key] = t
		}
		return rows.Err()
	})
	b.Queue(knownSQL, addrs).Query(func(rows pgx.Rows) error {
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		for _, h := range hashes {
			l.known[string(h)] = true
		}
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("look up batch: %w", err)
	}
	return nil
}

// orphans returns, for the messages of todo no reference of which can be
// found (in the batch before them, remembered or indexed), the keys of
// their references and the subject digests of those with a reply-looking
// subject.
func (imp *importer) orphans(todo []*item, l *batchLookups) (pendKeys []string, subjects [][]byte) {
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
	return pendKeys, subjects
}

// lookUpOrphans fills in l.pending and l.subjects, in one round trip.
func lookUpOrphans(ctx context.Context, tx pgx.Tx, pendKeys []string, subjects [][]byte, l *batchLookups) error {
	// question scans a row of a waiting question or of a subject: key
	// first.
	question := func(rows pgx.Rows, key any) (target, error) {
		var t target
		err := rows.Scan(key, &t.ref.ID, &t.ref.State, &t.asker)
		t.ref.Kind, t.ref.QuestionID, t.qState = threads.KindQuestion, t.ref.ID, t.ref.State
		return t, err
	}
	b := &pgx.Batch{}
	b.Queue(pendingSQL, pendKeys).Query(func(rows pgx.Rows) error {
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
	b.Queue(subjectsSQL, subjects).Query(func(rows pgx.Rows) error {
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
		return fmt.Errorf("look up batch: %w", err)
	}
	return nil
}
