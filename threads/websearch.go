package threads

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of the public search and the Atom feeds. As for the
// lists (webread.go), only visible and closed posts count: held, queued,
// hidden and deleted posts are never found or fed.
const (
	// webSearchSQL returns the shown questions matching the web search
	// query $1 (websearch_to_tsquery syntax: words, "a phrase", -not,
	// or), best first, at most $2 after skipping $3. A question matches
	// by its own title and body or by the body of any shown answer or
	// comment of it (every such post is on its page). Its rank is that of
	// its best matching post (ts_rank over posts.search, titles weighted
	// A above bodies B), then the sum over its matching posts, then the
	// newest first. The configuration, 'english', is the one
	// posts.search is built with (migration 00015): the forum's pages
	// are English, and stemming finds "sleeping" for "sleep". Each row is
	// a webListSQL row.
	webSearchSQL = `WITH query AS (SELECT websearch_to_tsquery('english', $1) AS q),
		hits AS (
			SELECT coalesce(p.question_id, p.id) AS qid, max(ts_rank(p.search, query.q)) AS best, sum(ts_rank(p.search, query.q)) AS total
			FROM posts p, query
			WHERE p.search @@ query.q AND p.state IN ('visible', 'closed')
			GROUP BY 1)
		SELECT q.id, q.title, a.display_name, ` + pointsSQL + `, coalesce(c.slug, ''), coalesce(c.name, ''), q.state, q.votes, q.tags,
			(SELECT count(*) FROM posts x WHERE x.question_id = q.id AND x.kind = 'answer' AND x.state IN ('visible', 'closed')),
			q.best_answer_id IS NOT NULL, q.created_at
		FROM hits h JOIN posts q ON q.id = h.qid JOIN people a ON a.id = q.author_id LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.kind = 'question' AND q.state IN ('visible', 'closed')
		ORDER BY h.best DESC, h.total DESC, q.id DESC LIMIT $2 OFFSET $3`

	// webFeedSQL returns the newest $2 shown questions of the category
	// with slug $1 ('' every category), newest first: id, title, body,
	// the asker's display name, the category's name ('' none), when it
	// was asked and when last edited (the asking when never).
	webFeedSQL = `SELECT q.id, q.title, q.body, a.display_name, coalesce(c.name, ''), q.created_at, coalesce(q.edited_at, q.created_at)
		FROM posts q JOIN people a ON a.id = q.author_id LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.kind = 'question' AND q.state IN ('visible', 'closed') AND ($1 = '' OR c.slug = $1)
		ORDER BY q.id DESC LIMIT $2`
)

// WebSearch returns at most limit of the shown questions that query
// finds (in websearch_to_tsquery syntax), best first, after skipping
// offset of them: see webSearchSQL for what matches and how they rank.
// A query of no searchable word (empty, or stop words only) finds
// nothing. Titles are censored as on their pages.
func (s *Store) WebSearch(ctx context.Context, query string, offset, limit int) ([]ListedQuestion, error) {
	return queryList(ctx, s, "web search", webSearchSQL, s.scanListed, query, limit, offset)
}

// scanListed reads a webListSQL row (or one of the same columns).
func (s *Store) scanListed(r pgx.CollectableRow) (ListedQuestion, error) {
	var q ListedQuestion
	err := r.Scan(&q.ID, &q.Title, &q.Author, &q.AuthorPoints, &q.CategorySlug, &q.Category, &q.State, &q.Votes, &q.Tags,
		&q.Answers, &q.HasBest, &q.CreatedAt)
	if q.Tags == nil {
		q.Tags = []string{}
	}
	if w := s.cfg.BlockedWords; len(w) > 0 {
		q.Title = Censor(q.Title, w)
	}
	return q, err
}

// FedQuestion is one question of an Atom feed. It carries the asker's
// display name only, never an address; title and body are censored as
// on its page.
type FedQuestion struct {
	ID       int64
	Title    string
	Body     string
	Author   string
	Category string // "" none
	// CreatedAt is when it was asked; UpdatedAt when it was last edited
	// (CreatedAt when never).
	CreatedAt, UpdatedAt time.Time
}

// WebFeed returns the newest limit shown questions of the category with
// slug categorySlug ("" every category), newest first.
func (s *Store) WebFeed(ctx context.Context, categorySlug string, limit int) ([]FedQuestion, error) {
	return queryList(ctx, s, "web feed", webFeedSQL, func(r pgx.CollectableRow) (FedQuestion, error) {
		var q FedQuestion
		err := r.Scan(&q.ID, &q.Title, &q.Body, &q.Author, &q.Category, &q.CreatedAt, &q.UpdatedAt)
		if w := s.cfg.BlockedWords; len(w) > 0 {
			q.Title, q.Body = Censor(q.Title, w), Censor(q.Body, w)
		}
		return q, err
	}, categorySlug, limit)
}
