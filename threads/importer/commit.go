package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/threads"
)

// importer is the state of one Mbox run kept between batches: the counts
// and two bounded caches. It is used by one goroutine.
type importer struct {
	st         *threads.Store
	pool       *pgxpool.Pool
	log        *slog.Logger
	stats      Stats
	categories map[string]int64 // every category by slug (there are few)
	categoryID int64            // Options.Category's id, 0 for none
	targets    *fifo[target]
	people     *fifo[int64] // person id by address hash

	firstID, lastID int64 // the range of post ids this run reserved
}

// target is what placing a reply needs to know of the post it replies to
// (see threads.ParentRef) and of its question.
type target struct {
	ref    threads.ParentRef
	qState string // the question's state
	asker  int64  // the question's author
}

func newImporter(ctx context.Context, st *threads.Store, opts Options) (*importer, error) {
	imp := &importer{st: st, pool: st.Pool(), log: st.Logger(), stats: Stats{Skipped: map[string]int64{}}, categories: map[string]int64{},
		targets: newFIFO[target](opts.CacheSize), people: newFIFO[int64](opts.CacheSize)}
	rows, err := imp.pool.Query(ctx, categoriesSQL)
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
	stats           Stats
	targets         map[string]target
	people          map[string]int64
}

func newBatchResult() batchResult {
	return batchResult{stats: Stats{Skipped: map[string]int64{}}, targets: map[string]target{}, people: map[string]int64{}}
}

// commit imports one batch of prepared messages, in mailbox order, in one
// transaction. A batch that collides with a Message-ID stored meanwhile
// by someone else (live mail arriving during the import) is tried again.
func (imp *importer) commit(ctx context.Context, batch []*item) error {
	imp.stats.Read += int64(len(batch))
	last := batch[len(batch)-1]
	imp.stats.Garbage = last.garbage
	var todo []*item
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
				imp.log.Warn("import: batch collided with a concurrent write, trying again", "attempt", attempt)
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

// commitOnce writes one batch in one transaction and returns what it did.
func (imp *importer) commitOnce(ctx context.Context, todo []*item) (batchResult, error) {
	var res batchResult
	err := pgx.BeginFunc(ctx, imp.pool, func(tx pgx.Tx) error {
		res = newBatchResult()
		if _, err := tx.Exec(ctx, asyncCommitSQL); err != nil {
			return fmt.Errorf("batch settings: %w", err)
		}
		look, err := imp.lookUp(ctx, tx, todo)
		if err != nil {
			return err
		}
		// Duplicates: indexed already, or earlier in this batch.
		var fresh []*item
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
		rows, err := tx.Query(ctx, reserveIDsSQL, len(fresh))
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
