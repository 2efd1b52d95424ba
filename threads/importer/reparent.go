package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
)

// reparentBatch is how many waiting posts reparent handles per
// transaction.
const reparentBatch = 500

// move is one post waiting for a nearer parent, and that parent.
type move struct{ post, target int64 }

// reparent moves each imported post that waits for a nearer parent (see
// import_pending) now imported under it, with its replies, as JWZ
// threading of the whole archive would have placed it, and returns how
// many questions became replies and how many replies moved.
func (imp *importer) reparent(ctx context.Context) (questions, replies int64, err error) {
	var after int64
	t0 := time.Now()
	for {
		rows, err := imp.pool.Query(ctx, waitingSQL, after, reparentBatch)
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
		q, r, err := imp.moveAll(ctx, moves)
		if err != nil {
			return questions, replies, err
		}
		questions, replies = questions+q, replies+r
		after = moves[len(moves)-1].post
	}
	if questions+replies > 0 {
		imp.log.Info("import: posts moved under parents imported after them", "questions", questions, "replies", replies,
			"took", time.Since(t0).Round(time.Millisecond))
	}
	return questions, replies, nil
}

// moveAll makes moves in one transaction and returns how many questions
// and replies moved.
func (imp *importer) moveAll(ctx context.Context, moves []move) (questions, replies int64, err error) {
	err = pgx.BeginFunc(ctx, imp.pool, func(tx pgx.Tx) error {
		questions, replies = 0, 0
		for _, m := range moves {
			kind, err := moveUnder(ctx, tx, m.post, m.target)
			if err != nil {
				return err
			}
			switch kind {
			case threads.KindQuestion:
				questions++
			case "":
			default:
				replies++
			}
		}
		return nil
	})
	return questions, replies, err
}

// movedPost is the post moveUnder moves, as it was.
type movedPost struct {
	id                 int64
	kind               threads.PostKind
	author             int64
	parentID, question int64
}

// moveUnder moves post id, with the posts under it, under post to and
// returns the kind id had ("" when it did not move it: to lies in id's
// own subtree, a reference loop). Placement follows threads.Placement: a
// post moved under a question becomes an answer, and the posts under it
// comments on it; under an answer or a comment, everything becomes a
// comment on that answer (Question2Answer's comments are flat). Its
// waiting references are resolved either way.
func moveUnder(ctx context.Context, tx pgx.Tx, id, to int64) (threads.PostKind, error) {
	var t target
	var kind string
	if err := tx.QueryRow(ctx, moveTargetSQL, to).Scan(&t.ref.ID, &kind, &t.ref.QuestionID, &t.ref.ParentID, &t.ref.State, &t.qState, &t.asker); err != nil {
		return "", fmt.Errorf("load parent %d: %w", to, err)
	}
	t.ref.Kind = threads.PostKind(kind)
	old := movedPost{id: id}
	if err := tx.QueryRow(ctx, movedPostSQL, id).Scan(&kind, &old.author, &old.parentID, &old.question); err != nil {
		return "", fmt.Errorf("load post %d: %w", id, err)
	}
	old.kind = threads.PostKind(kind)
	if _, err := tx.Exec(ctx, resolvePendingSQL, id); err != nil {
		return "", fmt.Errorf("resolve post %d: %w", id, err)
	}
	if inSubtree(old, t) {
		return "", nil
	}
	newKind, parentID, questionID := threads.Placement(t.ref)
	if t.ref.Kind == threads.KindQuestion && t.asker == old.author {
		newKind = threads.KindComment
	}
	if newKind == old.kind && parentID == old.parentID && questionID == old.question {
		return "", nil // already there (the parent found was an empty reply's alias)
	}
	if err := moveBelow(ctx, tx, old, t, newKind, parentID, questionID); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, movePostSQL, id, string(newKind), questionID, parentID); err != nil {
		return "", fmt.Errorf("move post %d: %w", id, err)
	}
	if old.kind == threads.KindQuestion {
		if _, err := tx.Exec(ctx, moveSubjectSQL, id, questionID); err != nil {
			return "", fmt.Errorf("move the subject of question %d: %w", id, err)
		}
	}
	return old.kind, nil
}

// inSubtree reports whether t is p itself or lies under it: moving p
// there would make a loop.
func inSubtree(p movedPost, t target) bool {
	switch p.kind {
	case threads.KindQuestion:
		return t.ref.QuestionID == p.id
	case threads.KindAnswer:
		return t.ref.ID == p.id || t.ref.ParentID == p.id
	default:
		return t.ref.ID == p.id
	}
}

// moveBelow moves the posts under p (a question's whole thread, an
// answer's comments; a comment has none) along with p, which becomes
// newKind in questionID under parentID.
func moveBelow(ctx context.Context, tx pgx.Tx, p movedPost, t target, newKind threads.PostKind, parentID, questionID int64) error {
	under := parentID
	if newKind == threads.KindAnswer {
		under = p.id
	}
	switch p.kind {
	case threads.KindQuestion:
		if err := moveJoined(ctx, tx, p.id, t.asker, questionID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, moveThreadSQL, p.id, questionID, under); err != nil {
			return fmt.Errorf("move the replies of post %d: %w", p.id, err)
		}
	case threads.KindAnswer:
		if _, err := tx.Exec(ctx, moveAnswerCommentsSQL, p.id, questionID, under); err != nil {
			return fmt.Errorf("move the replies of post %d: %w", p.id, err)
		}
	}
	return nil
}

// moveJoined moves what joined question id by its subject alone to
// question questionID, which it joins the same way (JWZ groups subjects
// among roots): an answer there, or a comment when asker wrote it.
func moveJoined(ctx context.Context, tx pgx.Tx, id, asker, questionID int64) error {
	rows, err := tx.Query(ctx, subjectJoinedSQL, id)
	if err != nil {
		return fmt.Errorf("load the replies of post %d: %w", id, err)
	}
	type joined struct{ id, author int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (joined, error) {
		var j joined
		return j, r.Scan(&j.id, &j.author)
	})
	if err != nil {
		return fmt.Errorf("load the replies of post %d: %w", id, err)
	}
	for _, j := range list {
		kind := threads.KindAnswer
		if j.author == asker {
			kind = threads.KindComment
		}
		if _, err := tx.Exec(ctx, moveJoinedSQL, j.id, string(kind), questionID); err != nil {
			return fmt.Errorf("move post %d: %w", j.id, err)
		}
		if _, err := tx.Exec(ctx, moveCommentsSQL, j.id, questionID); err != nil {
			return fmt.Errorf("move the comments of post %d: %w", j.id, err)
		}
	}
	return nil
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
	err := pgx.BeginFunc(ctx, imp.pool, func(tx pgx.Tx) error {
		changed = 0
		rows, err := tx.Query(ctx, lateAddressesSQL, imp.firstID, imp.lastID)
		if err != nil {
			return fmt.Errorf("find addresses to redact: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("find addresses to redact: %w", err)
		}
		for _, id := range ids {
			done, err := imp.redactPost(ctx, tx, id)
			if err != nil {
				return err
			}
			if done {
				changed++
			}
		}
		if _, err := tx.Exec(ctx, forgetAddressesSQL, imp.firstID, imp.lastID); err != nil {
			return fmt.Errorf("forget noted addresses: %w", err)
		}
		return nil
	})
	return changed, err
}

// redactPost redacts the known addresses in post id's texts and reports
// whether it changed them.
func (imp *importer) redactPost(ctx context.Context, tx pgx.Tx, id int64) (bool, error) {
	var body, elided string
	if err := tx.QueryRow(ctx, postTextSQL, id).Scan(&body, &elided); err != nil {
		return false, fmt.Errorf("load post %d: %w", id, err)
	}
	b, e := body, elided
	if err := imp.st.RedactKnown(ctx, tx, "", &b, &e); err != nil {
		return false, err
	}
	if b == body && e == elided {
		return false, nil
	}
	if _, err := tx.Exec(ctx, redactPostSQL, id, b, e); err != nil {
		return false, fmt.Errorf("redact post %d: %w", id, err)
	}
	return true, nil
}
