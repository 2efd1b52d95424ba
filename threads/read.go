package threads

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of this file: what readers (the web pages, the admin
// commands) see. Only visible and closed posts are shown.
const (
	// listQuestionsSQL returns the newest $1 questions with their answer
	// counts.
	listQuestionsSQL = `SELECT q.id, q.title, a.display_name, coalesce(c.name, ''), q.state, q.votes,
			(SELECT count(*) FROM posts x WHERE x.question_id = q.id AND x.kind = 'answer' AND x.state IN ('visible', 'closed')), q.best_answer_id, q.created_at
		FROM posts q JOIN people a ON a.id = q.author_id LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.kind = 'question' AND q.state IN ('visible', 'closed')
		ORDER BY q.id DESC LIMIT $1`

	// listInboundSQL returns the newest $2 received messages that
	// filter $1 (an InboundFilter) selects, with their post's state.
	listInboundSQL = `SELECT i.id, i.message_id, i.source, i.size, i.state, i.reason, i.post_id, i.received_at, i.processed_at, i.evidence,
			coalesce(p.state, '')
		FROM inbound i LEFT JOIN posts p ON p.id = i.post_id
		WHERE $1 = 0 OR ($1 = 1 AND i.state = 'failed') OR ($1 = 2 AND p.state = 'held')
		ORDER BY i.id DESC LIMIT $2`

	// threadQuestionSQL returns question $1 with its author's points
	// (pointsSQL, for the author joined as a).
	threadQuestionSQL = `SELECT q.id, q.title, q.body, q.elided, a.display_name, coalesce(c.name, ''), q.state, q.votes, q.best_answer_id, q.created_at,
			q.tags, q.duplicate_of, q.edited_at, q.author_id, ` + pointsSQL + `
		FROM posts q JOIN people a ON a.id = q.author_id LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.id = $1 AND q.kind = 'question' AND q.state IN ('visible', 'closed')`

	// threadPostsSQL returns the answers and comments of question $1 in
	// id order, each with its author's points, computed once per author
	// (pa is MATERIALIZED, or the planner computes them again for each
	// post: a page of 1,500 answers by one author of 75,000 took 376 s
	// that way, 56 ms this way, with migration 00022's indexes).
	threadPostsSQL = `WITH p AS (SELECT id, kind, parent_id, body, elided, author_id, votes, created_at, edited_at
			FROM posts WHERE question_id = $1 AND state IN ('visible', 'closed')),
		pa AS MATERIALIZED (SELECT a.id, a.display_name, ` + pointsSQL + ` AS points
			FROM people a WHERE a.id IN (SELECT author_id FROM p))
		SELECT p.id, p.kind, coalesce(p.parent_id, 0), p.body, p.elided, pa.display_name, p.votes, p.created_at,
			p.edited_at, p.author_id, pa.points
		FROM p JOIN pa ON pa.id = p.author_id ORDER BY p.id`

	retryInboundSQL = `UPDATE inbound SET state = 'accepted', reason = '', processed_at = NULL
		WHERE id = $1 AND state IN ('failed', 'ignored')`
)

// QuestionSummary is one line of the question list. It carries display
// names only, never an address.
type QuestionSummary struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Author     string    `json:"author"`
	Category   string    `json:"category,omitempty"`
	State      string    `json:"state"`
	Votes      int       `json:"votes"`
	Answers    int       `json:"answers"`
	BestAnswer *int64    `json:"best_answer"`
	CreatedAt  time.Time `json:"created_at"`
}

// PostMeta is what a question, an answer and a comment carry beside their
// text. Its fields appear in each one's JSON as its own.
type PostMeta struct {
	// EditedAt is set when the author edited the post ("edited").
	EditedAt *time.Time `json:"edited_at"`
	// AuthorPoints are the author's points.
	AuthorPoints int `json:"author_points"`
	// AuthorID is the author's person id, for the signed-in pages (which
	// offer votes on others' posts, edits of one's own); never printed.
	AuthorID int64 `json:"-"`
	// Attachments are the files kept with the post (never nil).
	Attachments []AttachmentInfo `json:"attachments"`
}

// Comment is a comment as shown in a thread.
type Comment struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	Author    string    `json:"author"`
	Elided    string    `json:"elided,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	PostMeta
}

// Answer is an answer with its comments.
type Answer struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	Author    string    `json:"author"`
	Votes     int       `json:"votes"`
	Best      bool      `json:"best"`
	Elided    string    `json:"elided,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Comments  []Comment `json:"comments"`
	PostMeta
}

// Thread is a question with its answers and comments.
type Thread struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Author     string    `json:"author"`
	Category   string    `json:"category,omitempty"`
	State      string    `json:"state"`
	Votes      int       `json:"votes"`
	BestAnswer *int64    `json:"best_answer"`
	Elided     string    `json:"elided,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Answers    []Answer  `json:"answers"`
	Comments   []Comment `json:"comments"`
	// Tags are the question's tags (never nil).
	Tags []string `json:"tags"`
	// DuplicateOf is the question this one was closed as a duplicate of.
	DuplicateOf *int64 `json:"duplicate_of"`
	PostMeta
}

// ListQuestions returns the newest questions first, at most limit.
func (s *Store) ListQuestions(ctx context.Context, limit int) ([]QuestionSummary, error) {
	return queryList(ctx, s, "list questions", listQuestionsSQL, func(r pgx.CollectableRow) (QuestionSummary, error) {
		var q QuestionSummary
		err := r.Scan(&q.ID, &q.Title, &q.Author, &q.Category, &q.State, &q.Votes, &q.Answers, &q.BestAnswer, &q.CreatedAt)
		return q, err
	}, limit)
}

// queryList runs sql with args and returns every row as scan reads it: an
// empty list, never nil, when there is none. what names the query in
// errors.
func queryList[T any](ctx context.Context, s *Store, what, sql string, scan pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if list == nil {
		list = []T{}
	}
	return list, nil
}

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = fmt.Errorf("not found")

// GetThread returns question id with its answers and comments in order.
func (s *Store) GetThread(ctx context.Context, id int64) (*Thread, error) {
	t := &Thread{Answers: []Answer{}, Comments: []Comment{}}
	err := s.pool.QueryRow(ctx, threadQuestionSQL, id).Scan(&t.ID, &t.Title, &t.Body, &t.Elided, &t.Author, &t.Category, &t.State, &t.Votes, &t.BestAnswer, &t.CreatedAt,
		&t.Tags, &t.DuplicateOf, &t.EditedAt, &t.AuthorID, &t.AuthorPoints)
	if err == pgx.ErrNoRows {
		return nil, fmt.Errorf("question %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load question %d: %w", id, err)
	}
	atts, err := s.postAttachments(ctx, id)
	if err != nil {
		return nil, err
	}
	t.Attachments = attachmentList(atts[t.ID])
	rows, err := s.pool.Query(ctx, threadPostsSQL, id)
	if err != nil {
		return nil, fmt.Errorf("load posts of %d: %w", id, err)
	}
	defer rows.Close()
	index := map[int64]int{}
	// A comment may come before its answer in id order (an imported
	// archive's replies move under parents imported after them): comments
	// are placed once every answer is known.
	type pending struct {
		parent int64
		c      Comment
	}
	var comments []pending
	for rows.Next() {
		var pid, parent, authorID int64
		var kind, body, elided, author string
		var votes, points int
		var created time.Time
		var edited *time.Time
		if err := rows.Scan(&pid, &kind, &parent, &body, &elided, &author, &votes, &created, &edited, &authorID, &points); err != nil {
			return nil, fmt.Errorf("scan post: %w", err)
		}
		meta := PostMeta{EditedAt: edited, AuthorID: authorID, AuthorPoints: points, Attachments: attachmentList(atts[pid])}
		switch kind {
		case "answer":
			index[pid] = len(t.Answers)
			t.Answers = append(t.Answers, Answer{ID: pid, Body: body, Elided: elided, Author: author, Votes: votes, CreatedAt: created,
				Best: t.BestAnswer != nil && *t.BestAnswer == pid, Comments: []Comment{}, PostMeta: meta})
		case "comment":
			c := Comment{ID: pid, Body: body, Elided: elided, Author: author, CreatedAt: created, PostMeta: meta}
			comments = append(comments, pending{parent, c})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load posts of %d: %w", id, err)
	}
	for _, p := range comments {
		if i, ok := index[p.parent]; ok {
			t.Answers[i].Comments = append(t.Answers[i].Comments, p.c)
		} else {
			t.Comments = append(t.Comments, p.c)
		}
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	s.censorThread(t)
	return t, nil
}

// censorThread replaces blocked words in everything a reader sees.
func (s *Store) censorThread(t *Thread) {
	w := s.cfg.BlockedWords
	if len(w) == 0 {
		return
	}
	t.Title, t.Body = Censor(t.Title, w), Censor(t.Body, w)
	for i := range t.Comments {
		t.Comments[i].Body = Censor(t.Comments[i].Body, w)
	}
	for i := range t.Answers {
		t.Answers[i].Body = Censor(t.Answers[i].Body, w)
		for j := range t.Answers[i].Comments {
			t.Answers[i].Comments[j].Body = Censor(t.Answers[i].Comments[j].Body, w)
		}
	}
}

// attachmentList returns l, or an empty list for nil.
func attachmentList(l []AttachmentInfo) []AttachmentInfo {
	if l == nil {
		return []AttachmentInfo{}
	}
	return l
}

// InboundSummary is one received message as `postern inbound list` shows
// it: no envelope, no address. MessageID is the client's Message-ID with
// whatever in it looks like an address replaced with "[address removed]"
// (the database keeps it as received, for the author's own threading,
// until the raw message is purged).
type InboundSummary struct {
	ID          int64      `json:"id"`
	MessageID   string     `json:"message_id"`
	Source      string     `json:"source"`
	Size        int        `json:"size"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	PostID      *int64     `json:"post_id"`
	ReceivedAt  time.Time  `json:"received_at"`
	ProcessedAt *time.Time `json:"processed_at"`
	// Evidence is what showed that the From address sent the message
	// (dkim, spf, dmarc, reply-token, trusted-network, none); the reason
	// says what it led to.
	Evidence string `json:"evidence,omitempty"`
	// PostState is the state of the post it became (visible, held,
	// queued, ...), "" when none.
	PostState string `json:"post_state,omitempty"`
}

// InboundFilter selects the messages ListInbound returns.
type InboundFilter int

const (
	// InboundAll is every message.
	InboundAll InboundFilter = iota
	// InboundFailed is the messages in state failed.
	InboundFailed
	// InboundHeld is the messages whose post is held, waiting for its
	// author's confirmation (a newcomer's, or a member's sent without
	// evidence, whether or not a confirmation request could be sent).
	InboundHeld
)

// ListInbound returns at most limit received messages that filter
// selects, newest first.
func (s *Store) ListInbound(ctx context.Context, filter InboundFilter, limit int) ([]InboundSummary, error) {
	return queryList(ctx, s, "list inbound", listInboundSQL, func(r pgx.CollectableRow) (InboundSummary, error) {
		var m InboundSummary
		err := r.Scan(&m.ID, &m.MessageID, &m.Source, &m.Size, &m.State, &m.Reason, &m.PostID, &m.ReceivedAt, &m.ProcessedAt, &m.Evidence, &m.PostState)
		m.MessageID = redactAllAddresses(m.MessageID)
		return m, err
	}, int(filter), limit)
}

// RetryInbound puts a failed or ignored message back to accepted and
// enqueues its processing again, with a fresh set of attempts, in one
// transaction.
func (s *Store) RetryInbound(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, retryInboundSQL, id)
		if err != nil {
			return fmt.Errorf("retry inbound %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no failed or ignored message with id %d (a message is retried only once it failed or was ignored): %w", id, ErrNotFound)
		}
		if _, err := s.jobs.InsertTx(ctx, tx, ProcessArgs{InboundID: id}, s.processOpts()); err != nil {
			return fmt.Errorf("enqueue retry: %w", err)
		}
		return nil
	})
}
