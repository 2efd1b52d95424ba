package threads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of the public web pages' lists (home, unanswered,
// category and tag pages) and of a question page's revalidation. Only
// visible and closed questions are listed, and only visible and closed
// answers count: held, queued, hidden and deleted posts are never shown.
const (
	// webListSQL returns questions newest first: $1 a category slug (''
	// any), $2 a tag ('' any), $3 only those without a shown answer, $4
	// the limit, $5 the offset. Each row carries the author's points
	// (pointsSQL, author joined as a).
	webListSQL = `SELECT q.id, q.title, a.display_name, ` + pointsSQL + `, coalesce(c.slug, ''), coalesce(c.name, ''), q.state, q.votes, q.tags,
			(SELECT count(*) FROM posts x WHERE x.question_id = q.id AND x.kind = 'answer' AND x.state IN ('visible', 'closed')),
			q.best_answer_id IS NOT NULL, q.created_at
		FROM posts q JOIN people a ON a.id = q.author_id LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.kind = 'question' AND q.state IN ('visible', 'closed')
			AND ($1 = '' OR c.slug = $1)
			AND ($2 = '' OR q.tags @> ARRAY[$2]::text[])
			AND (NOT $3 OR NOT EXISTS (SELECT 1 FROM posts y WHERE y.question_id = q.id AND y.kind = 'answer' AND y.state IN ('visible', 'closed')))
		ORDER BY q.id DESC LIMIT $4 OFFSET $5`

	// webCategoriesSQL returns every category, by name.
	webCategoriesSQL = `SELECT slug, name FROM categories ORDER BY name, slug`

	// webCategorySQL returns the name of the category with slug $1.
	webCategorySQL = `SELECT name FROM categories WHERE slug = $1`

	// webQuestionInfoSQL returns, for shown question $1, its category's
	// slug, the title of the shown question it duplicates ('' none), the
	// last time anything shown on its page changed (a post of it created
	// or edited, a vote on one) and its forum Message-ID.
	webQuestionInfoSQL = `SELECT coalesce(c.slug, ''),
			coalesce((SELECT d.title FROM posts d WHERE d.id = q.duplicate_of AND d.kind = 'question' AND d.state IN ('visible', 'closed')), ''),
			greatest(q.created_at, q.edited_at,
				(SELECT max(greatest(p.created_at, p.edited_at)) FROM posts p WHERE p.question_id = q.id),
				(SELECT max(v.created_at) FROM votes v JOIN posts vp ON vp.id = v.post_id WHERE vp.id = q.id OR vp.question_id = q.id)),
			q.message_id
		FROM posts q LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.id = $1 AND q.kind = 'question' AND q.state IN ('visible', 'closed')`
)

// ListedQuestion is one question of a web list. It carries display names
// only, never an address; the title is censored as on its page.
type ListedQuestion struct {
	ID           int64
	Title        string
	Author       string
	AuthorPoints int
	// CategorySlug and Category are "" when the question has none.
	CategorySlug, Category string
	State                  string
	Votes                  int
	// Tags are the question's tags (never nil).
	Tags []string
	// Answers counts its shown answers.
	Answers int
	// HasBest says an answer is selected as best.
	HasBest   bool
	CreatedAt time.Time
}

// QuestionFilter selects the questions of a web list; the zero value is
// every shown question.
type QuestionFilter struct {
	// CategorySlug keeps the questions of one category ("" any).
	CategorySlug string
	// Tag keeps the questions with this tag ("" any).
	Tag string
	// Unanswered keeps the questions without a shown answer.
	Unanswered bool
}

// WebQuestions returns at most limit questions that f selects, newest
// first, after skipping offset of them.
func (s *Store) WebQuestions(ctx context.Context, f QuestionFilter, offset, limit int) ([]ListedQuestion, error) {
	return queryList(ctx, s, "web questions", webListSQL, s.scanListed, f.CategorySlug, f.Tag, f.Unanswered, limit, offset)
}

// CategoryRef is a category as the pages link it.
type CategoryRef struct {
	Slug, Name string
}

// WebCategories returns every category, by name (empty, never nil, when
// there is none).
func (s *Store) WebCategories(ctx context.Context) ([]CategoryRef, error) {
	return queryList(ctx, s, "web categories", webCategoriesSQL, func(r pgx.CollectableRow) (CategoryRef, error) {
		var c CategoryRef
		err := r.Scan(&c.Slug, &c.Name)
		return c, err
	})
}

// WebCategory returns the name of the category with slug; ErrNotFound
// when there is none.
func (s *Store) WebCategory(ctx context.Context, slug string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, webCategorySQL, slug).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("category: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("category: %w", err)
	}
	return name, nil
}

// QuestionInfo is what a question page needs beside its Thread.
type QuestionInfo struct {
	// CategorySlug is the slug of its category ("" none).
	CategorySlug string
	// DuplicateTitle is the title of the shown question it was closed as
	// a duplicate of ("" none, or not shown).
	DuplicateTitle string
	// Modified is the last time a post of the page was created or
	// edited, or a vote on one cast. A post hidden later does not move
	// it: the page's ETag (a hash of the page) covers that.
	Modified time.Time
	// MessageID is its forum Message-ID (no brackets): what a web answer
	// names in In-Reply-To, as a reply to its mail would.
	MessageID string
}

// WebQuestionInfo returns the QuestionInfo of shown question id;
// ErrNotFound when it is not shown.
func (s *Store) WebQuestionInfo(ctx context.Context, id int64) (QuestionInfo, error) {
	var qi QuestionInfo
	err := s.pool.QueryRow(ctx, webQuestionInfoSQL, id).Scan(&qi.CategorySlug, &qi.DuplicateTitle, &qi.Modified, &qi.MessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		return qi, fmt.Errorf("question %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return qi, fmt.Errorf("question %d info: %w", id, err)
	}
	if w := s.cfg.BlockedWords; len(w) > 0 {
		qi.DuplicateTitle = Censor(qi.DuplicateTitle, w)
	}
	return qi, nil
}
