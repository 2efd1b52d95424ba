package threads

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Guest posts (Config.WebGuests): a web form post without an address,
// published at once under the name given (or none). Its contract:
//
//   - A guest has no address, so nothing is ever sent to them (the
//     recipient queries take only people with an address) and nothing
//     they post is evidence of anyone: each post gets its own person row,
//     without address, never a member's.
//   - The forum's rules are those of mail: a closed or not shown question
//     takes no answer, moderation (ModeratePointsBelow) applies, and the
//     per-network hourly limits of Rates (QuestionsPerIP, RepliesPerIP)
//     count the network's guest posts.
//   - The same form sent twice (the same Dedup) posts once.

// GuestPost is a guest's post from the web form.
type GuestPost struct {
	// Question is the question answered (0: Title asks a new one, in
	// category Slug, "" none, tagged Tags).
	Question          int64
	Name, Title, Body string
	Slug              string
	Tags              []string
	Client            string // the client's network (as clientKey makes it)
	Dedup             []byte // the form's hash: its cookie and content
}

// Errors of PostAsGuest.
var (
	ErrGuestsOff     = errors.New("guest posts are off")
	ErrGuestLimited  = errors.New("too many guest posts from this network")
	ErrGuestClosed   = errors.New("the question takes no answers")
	ErrGuestCategory = errors.New("unknown category")
)

// PostAsGuest publishes g (see the contract above). It returns the post
// and whether it waits for a moderator; a repeated form returns the post
// it made first.
func (s *Store) PostAsGuest(ctx context.Context, g GuestPost) (post int64, queued bool, err error) {
	if !s.cfg.WebGuests {
		return 0, false, ErrGuestsOff
	}
	g.Name = cleanDisplayName(g.Name) // never an address
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, sqlGuestPostOfForm, g.Dedup).Scan(&post, &queued)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		np, err := s.guestPlacement(ctx, tx, g)
		if err != nil {
			return err
		}
		limited, err := s.guestLimited(ctx, tx, g)
		if err != nil {
			return err
		}
		if limited {
			return ErrGuestLimited
		}
		if err := tx.QueryRow(ctx, sqlInsertGuest, g.Name).Scan(&np.Author.ID); err != nil {
			return fmt.Errorf("insert guest: %w", err)
		}
		np.Author.DisplayName, np.Author.Confirmed = g.Name, true
		if np.Queued, err = s.needsModeration(ctx, tx, np.Author); err != nil {
			return err
		}
		if post, err = s.insertPost(ctx, tx, np); err != nil {
			return err
		}
		queued = np.Queued
		if _, err := tx.Exec(ctx, sqlRecordGuestPost, post, g.Client, g.Dedup); err != nil {
			return fmt.Errorf("record guest post: %w", err)
		}
		return nil
	})
	return post, queued, err
}

// guestPlacement is g as a new post: an answer to a shown, open
// question, or a question in a known category (or none).
func (s *Store) guestPlacement(ctx context.Context, tx pgx.Tx, g GuestPost) (NewPost, error) {
	np := NewPost{Kind: KindQuestion, Title: g.Title, Body: g.Body, Tags: g.Tags}
	if g.Question == 0 {
		if g.Slug == "" {
			return np, nil
		}
		err := tx.QueryRow(ctx, sqlCategoryID, g.Slug).Scan(&np.CategoryID)
		if errors.Is(err, pgx.ErrNoRows) {
			return np, ErrGuestCategory
		}
		return np, err
	}
	var state string
	err := tx.QueryRow(ctx, sqlGuestQuestionState, g.Question).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return np, ErrNotFound
	}
	if err != nil {
		return np, fmt.Errorf("load question: %w", err)
	}
	if state != "visible" {
		return np, ErrGuestClosed
	}
	np.Kind, np.ParentID, np.QuestionID = Placement(ParentRef{ID: g.Question, Kind: KindQuestion, QuestionID: g.Question})
	np.Title, np.Tags = "", nil
	return np, nil
}

// guestLimited reports whether g's network posted the hourly maximum of
// guest posts of g's kind (Rates per IP; off with the limits).
func (s *Store) guestLimited(ctx context.Context, tx pgx.Tx, g GuestPost) (bool, error) {
	r := s.cfg.Rates
	if r.Off {
		return false, nil
	}
	max, question := r.RepliesPerIP, g.Question == 0
	if question {
		max = r.QuestionsPerIP
	}
	var n int
	if err := tx.QueryRow(ctx, sqlCountGuestPosts, g.Client, question).Scan(&n); err != nil {
		return false, fmt.Errorf("guest limit: %w", err)
	}
	return n >= max, nil
}

// GuestDedup is the dedup hash of a guest's form: the browser's form
// cookie and every field, so that a reload or double click posts once.
func GuestDedup(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return h.Sum(nil)
}

// The queries of guest posts.
const (
	sqlGuestPostOfForm    = `SELECT g.post_id, p.state = 'queued' FROM web_guest_posts g JOIN posts p ON p.id = g.post_id WHERE g.dedup = $1`
	sqlGuestQuestionState = `SELECT state FROM posts WHERE id = $1 AND kind = 'question' AND state IN ('visible', 'closed')`
	sqlInsertGuest        = `INSERT INTO people (display_name, confirmed_at, notify_my_questions, notify_my_answers, notify_after_my_comments)
		VALUES ($1, now(), false, false, false) RETURNING id`
	sqlRecordGuestPost = `INSERT INTO web_guest_posts (post_id, client, dedup) VALUES ($1, $2, $3)`
	sqlCountGuestPosts = `SELECT count(*) FROM web_guest_posts g JOIN posts p ON p.id = g.post_id
		WHERE g.client = $1 AND g.created_at > now() - interval '1 hour' AND (p.kind = 'question') = $2`
)
