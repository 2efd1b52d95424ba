package threads

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
)

// Points, as Question2Answer's defaults: every member starts with 100.
const (
	PointsBase           = 100
	PointsPostQuestion   = 2
	PointsPostAnswer     = 4
	PointsSelectAnswer   = 3  // the asker, for selecting someone else's answer
	PointsAnswerSelected = 30 // the answerer
	PointsQuestionVote   = 1  // per vote up (or down: minus) on your question
	PointsAnswerVote     = 2  // per vote up (or down: minus) on your answer
)

// pointsSQL computes the points of the person joined as a (people a)
// from what they did, so points are never out of step with posts, votes
// and selections.
const pointsSQL = `(SELECT 100
	+ 2 * (SELECT count(*) FROM posts pts_q WHERE pts_q.author_id = a.id AND pts_q.kind = 'question' AND pts_q.state IN ('visible', 'closed'))
	+ 4 * (SELECT count(*) FROM posts pts_a WHERE pts_a.author_id = a.id AND pts_a.kind = 'answer' AND pts_a.state IN ('visible', 'closed'))
	+ 3 * (SELECT count(*) FROM posts pts_sq JOIN posts pts_sa ON pts_sa.id = pts_sq.best_answer_id
		WHERE pts_sq.author_id = a.id AND pts_sa.author_id <> a.id)
	+ 30 * (SELECT count(*) FROM posts pts_bq JOIN posts pts_ba ON pts_ba.id = pts_bq.best_answer_id
		WHERE pts_ba.author_id = a.id AND pts_bq.author_id <> a.id)
	+ coalesce((SELECT sum(CASE WHEN pts_vp.kind = 'question' THEN pts_v.value ELSE 2 * pts_v.value END)
		FROM votes pts_v JOIN posts pts_vp ON pts_vp.id = pts_v.post_id WHERE pts_vp.author_id = a.id), 0))`

// runCommand carries out cmd, sent by author as a reply about target.
func (s *Store) runCommand(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, target *ParentRef, cmd Command) (outcome, error) {
	if cmd.Kind == CmdUnsubscribe || cmd.Kind == CmdUnsubscribeAll {
		// Anyone may stop mail; it confirms only to confirmed people.
		return s.unsubscribeByReply(ctx, tx, author, target.QuestionID, cmd.Kind == CmdUnsubscribeAll)
	}
	if !author.Confirmed {
		// Commands act at once; an unconfirmed address could be forged.
		if author.unproven {
			return ignored("command without evidence that the member sent it (see Who can post as whom)"), nil
		}
		return ignored("command from an unconfirmed address"), nil
	}
	var note string
	var err error
	var out outcome
	switch cmd.Kind {
	case CmdUnsubscribe, CmdUnsubscribeAll:
		return s.unsubscribeByReply(ctx, tx, author, target.QuestionID, cmd.Kind == CmdUnsubscribeAll)
	case CmdHelp, CmdUnknown:
		return s.sendHelp(ctx, tx, in, author)
	case CmdNotify:
		col := map[string]string{"questions": "notify_my_questions", "answers": "notify_my_answers", "comments": "notify_after_my_comments"}[cmd.Arg]
		on := cmd.On
		if _, err := tx.Exec(ctx, `UPDATE people SET `+col+` = $2 WHERE id = $1`, author.ID, on); err != nil {
			return outcome{}, fmt.Errorf("set preference: %w", err)
		}
		what := map[string]string{"questions": "when your questions are answered or commented on",
			"answers": "when your answers are selected or commented on", "comments": "when a comment is added after yours"}[cmd.Arg]
		note = "You will no longer be emailed " + what + "."
		if on {
			note = "You will be emailed " + what + "."
		}
	case CmdConfirmationsOn, CmdConfirmationsOff:
		on := cmd.Kind == CmdConfirmationsOn
		if _, err := tx.Exec(ctx, `UPDATE people SET command_confirmations = $2 WHERE id = $1`, author.ID, on); err != nil {
			return outcome{}, fmt.Errorf("set confirmations: %w", err)
		}
		note = "Command confirmations are off."
		if on {
			note = "Command confirmations are on: each command you send is confirmed in one line."
			author.commandConfirm = true
		}
	case CmdAccept, CmdUnaccept:
		note, err = s.selectAnswer(ctx, tx, author, target, cmd.Kind == CmdAccept)
	case CmdVoteUp, CmdVoteDown:
		note, err = s.vote(ctx, tx, author, target, cmd.Kind == CmdVoteUp)
	case CmdEdit:
		note, err = s.edit(ctx, tx, author, target, cmd.Arg)
	case CmdApprove, CmdReject:
		note, err = s.moderate(ctx, tx, author, target.ID, cmd.Kind == CmdApprove, cmd.Arg)
	default:
		return outcome{}, fmt.Errorf("unhandled command %d", cmd.Kind)
	}
	var refused *refusal
	if errors.As(err, &refused) {
		return s.reject(ctx, tx, in, author, target.QuestionID, refused.reason)
	}
	if err != nil {
		return outcome{}, err
	}
	out = outcome{state: StateProcessed, reason: "command: " + note}
	if author.commandConfirm || cmd.Kind == CmdConfirmationsOn {
		err := s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.Command, inboundID: in.id, note: note}})
		if err != nil {
			return outcome{}, err
		}
	}
	return out, nil
}

// refusal is a command that cannot be carried out, with the reason told
// to the sender.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func refuse(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// isModerator reports whether person is a moderator.
func isModerator(ctx context.Context, tx pgx.Tx, person int64) (bool, error) {
	var mod bool
	if err := tx.QueryRow(ctx, `SELECT moderator FROM people WHERE id = $1`, person).Scan(&mod); err != nil {
		return false, fmt.Errorf("load moderator flag: %w", err)
	}
	return mod, nil
}

// selectAnswer marks target (an answer) as the best answer of its
// question, or undoes it. Only the asker or a moderator may.
func (s *Store) selectAnswer(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, accept bool) (string, error) {
	if target.Kind != KindAnswer {
		return "", refuse("only an answer can be selected as the best answer: reply \"accept\" to the email of the answer you choose")
	}
	var asker, answerer int64
	var best *int64
	var state string
	err := tx.QueryRow(ctx, `SELECT q.author_id, a.author_id, q.best_answer_id, q.state FROM posts q JOIN posts a ON a.id = $2
		WHERE q.id = $1 FOR UPDATE OF q`, target.QuestionID, target.ID).Scan(&asker, &answerer, &best, &state)
	if err != nil {
		return "", fmt.Errorf("load question: %w", err)
	}
	if asker != author.ID {
		mod, err := isModerator(ctx, tx, author.ID)
		if err != nil {
			return "", err
		}
		if !mod {
			return "", refuse("only the person who asked the question (or a moderator) can select its best answer")
		}
	}
	if !accept {
		if best == nil {
			return "", refuse("this question has no selected answer")
		}
		newState := state
		if s.cfg.CloseOnSelect && state == "closed" {
			newState = "visible"
		}
		if _, err := tx.Exec(ctx, `UPDATE posts SET best_answer_id = NULL, state = $2 WHERE id = $1`, target.QuestionID, newState); err != nil {
			return "", fmt.Errorf("unselect: %w", err)
		}
		return "The best answer selection was removed.", nil
	}
	if state == "closed" && !(best != nil && s.cfg.CloseOnSelect) {
		return "", refuse("the question is closed")
	}
	newState := state
	if s.cfg.CloseOnSelect {
		newState = "closed"
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET best_answer_id = $2, state = $3 WHERE id = $1`, target.QuestionID, target.ID, newState); err != nil {
		return "", fmt.Errorf("select: %w", err)
	}
	var wants bool
	if err := tx.QueryRow(ctx, `SELECT notify_my_answers AND suppressed_at IS NULL AND unsubscribed_at IS NULL AND confirmed_at IS NOT NULL FROM people WHERE id = $1`, answerer).Scan(&wants); err != nil {
		return "", fmt.Errorf("load answerer: %w", err)
	}
	if answerer != author.ID && wants {
		if err := s.enqueueNotifications(ctx, tx, target.ID, []recipient{{personID: answerer, kind: mailkind.Selected}}); err != nil {
			return "", err
		}
	}
	return "The answer was selected as the best answer.", nil
}

// vote records author's vote (+1 or -1) on target, replacing an earlier
// one. Comments take no votes; nobody votes on their own post. No
// notification is sent, as in Question2Answer.
func (s *Store) vote(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, up bool) (string, error) {
	if target.Kind == KindComment {
		return "", refuse("comments cannot be voted on; reply +1 to the email of a question or an answer")
	}
	var owner int64
	if err := tx.QueryRow(ctx, `SELECT author_id FROM posts WHERE id = $1`, target.ID).Scan(&owner); err != nil {
		return "", fmt.Errorf("load post: %w", err)
	}
	if owner == author.ID {
		return "", refuse("you cannot vote on your own post")
	}
	v := -1
	if up {
		v = 1
	}
	if _, err := tx.Exec(ctx, `INSERT INTO votes (post_id, person_id, value) VALUES ($1, $2, $3)
		ON CONFLICT (post_id, person_id) DO UPDATE SET value = EXCLUDED.value, created_at = now()`, target.ID, author.ID, v); err != nil {
		return "", fmt.Errorf("vote: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET votes = (SELECT coalesce(sum(value), 0) FROM votes WHERE post_id = $1) WHERE id = $1`, target.ID); err != nil {
		return "", fmt.Errorf("count votes: %w", err)
	}
	return fmt.Sprintf("Your vote (%+d) was recorded.", v), nil
}

// edit replaces the body of author's own post target, keeping the old
// text in post_edits.
func (s *Store) edit(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, body string) (string, error) {
	var owner int64
	var old string
	if err := tx.QueryRow(ctx, `SELECT author_id, body FROM posts WHERE id = $1 FOR UPDATE`, target.ID).Scan(&owner, &old); err != nil {
		return "", fmt.Errorf("load post: %w", err)
	}
	if owner != author.ID {
		return "", refuse("you can only edit your own posts: reply \"edit\" to the email of a post you wrote")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO post_edits (post_id, body, edited_by) VALUES ($1, $2, $3)`, target.ID, old, author.ID); err != nil {
		return "", fmt.Errorf("keep edit history: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET body = $2, edited_at = now() WHERE id = $1`, target.ID, body); err != nil {
		return "", fmt.Errorf("edit: %w", err)
	}
	return "Your post was edited.", nil
}

// moderate approves or rejects queued post id; only moderators may.
func (s *Store) moderate(ctx context.Context, tx pgx.Tx, author Person, id int64, approve bool, reason string) (string, error) {
	mod, err := isModerator(ctx, tx, author.ID)
	if err != nil {
		return "", err
	}
	if !mod {
		return "", refuse("only moderators can approve or reject posts")
	}
	return s.decideQueued(ctx, tx, id, approve, reason)
}

// decideQueued publishes (with its notifications, sent only now) or
// rejects a post waiting for moderation.
func (s *Store) decideQueued(ctx context.Context, tx pgx.Tx, id int64, approve bool, reason string) (string, error) {
	var np newPost
	var kind, state string
	var author int64
	err := tx.QueryRow(ctx, `SELECT kind, state, author_id, coalesce(question_id, 0), coalesce(parent_id, 0), coalesce(category_id, 0)
		FROM posts WHERE id = $1 FOR UPDATE`, id).Scan(&kind, &state, &author, &np.questionID, &np.parentID, &np.categoryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", refuse("that post no longer exists")
	}
	if err != nil {
		return "", fmt.Errorf("load queued post: %w", err)
	}
	if state != "queued" {
		return "", refuse("that post is not waiting for moderation")
	}
	np.kind, np.author = PostKind(kind), Person{ID: author}
	if approve {
		if _, err := tx.Exec(ctx, `UPDATE posts SET state = 'visible' WHERE id = $1`, id); err != nil {
			return "", fmt.Errorf("approve: %w", err)
		}
		if err := s.notifyPost(ctx, tx, id, np); err != nil {
			return "", err
		}
		return fmt.Sprintf("Post %d was approved and published.", id), nil
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET state = 'hidden' WHERE id = $1`, id); err != nil {
		return "", fmt.Errorf("reject: %w", err)
	}
	note := "a moderator did not approve it"
	if reason != "" {
		note += ": " + reason
	}
	qid := np.questionID
	if np.kind == KindQuestion {
		qid = 0
	}
	if err := s.enqueueNotifications(ctx, tx, qid, []recipient{{personID: author, kind: mailkind.Rejected, note: note}}); err != nil {
		return "", err
	}
	return fmt.Sprintf("Post %d was rejected.", id), nil
}

// queueForModeration tells every moderator about queued post id.
func (s *Store) queueForModeration(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, err := tx.Query(ctx, `SELECT id FROM people WHERE moderator AND address_enc IS NOT NULL AND suppressed_at IS NULL`)
	if err != nil {
		return fmt.Errorf("moderators: %w", err)
	}
	mods, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("moderators: %w", err)
	}
	recips := make([]recipient, len(mods))
	for i, m := range mods {
		recips[i] = recipient{personID: m, kind: mailkind.Moderate}
	}
	return s.enqueueNotifications(ctx, tx, id, recips)
}

// needsModeration reports whether a post by author is queued for a
// moderator: when ModeratePointsBelow is set and author (not a moderator)
// has fewer points.
func (s *Store) needsModeration(ctx context.Context, tx pgx.Tx, author Person) (bool, error) {
	if s.cfg.ModeratePointsBelow <= 0 {
		return false, nil
	}
	var mod bool
	var points int
	if err := tx.QueryRow(ctx, `SELECT moderator, `+pointsSQL+` FROM people a WHERE a.id = $1`, author.ID).Scan(&mod, &points); err != nil {
		return false, fmt.Errorf("moderation check: %w", err)
	}
	return !mod && points < s.cfg.ModeratePointsBelow, nil
}

// sendHelp sends the guide to every address and command.
func (s *Store) sendHelp(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person) (outcome, error) {
	if !author.Confirmed || author.Suppressed {
		return ignored("help request from an unconfirmed address"), nil
	}
	limited, err := rateLimited(ctx, tx, author.ID, "", mailkind.Help, RejectionsPerDay, "24 hours")
	if err != nil || limited {
		return ignored("help request: daily limit reached"), err
	}
	if err := s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.Help, inboundID: in.id}}); err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: "help sent"}, nil
}

// Censor replaces each blocked word (whole words, any case) in text with
// asterisks of the same length.
func Censor(text string, words []string) string {
	if len(words) == 0 {
		return text
	}
	quoted := make([]string, 0, len(words))
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			quoted = append(quoted, regexp.QuoteMeta(w))
		}
	}
	if len(quoted) == 0 {
		return text
	}
	re := regexp.MustCompile(`(?i)\b(` + strings.Join(quoted, "|") + `)\b`)
	return re.ReplaceAllStringFunc(text, func(m string) string { return strings.Repeat("*", len([]rune(m))) })
}

// Category is a forum category.
type Category struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// AddCategory creates a category (or renames an existing slug).
func (s *Store) AddCategory(ctx context.Context, slug, name string) (Category, error) {
	slug = strings.ToLower(strings.TrimSpace(slug))
	if !validSlug(slug) {
		return Category{}, fmt.Errorf("category slug %q: use 1-40 of a-z, 0-9, '-' and '_'", slug)
	}
	if strings.TrimSpace(name) == "" {
		return Category{}, errors.New("category name is empty")
	}
	c := Category{Slug: slug, Name: strings.TrimSpace(name)}
	err := s.pool.QueryRow(ctx, `INSERT INTO categories (slug, name) VALUES ($1, $2)
		ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id`, c.Slug, c.Name).Scan(&c.ID)
	if err != nil {
		return Category{}, fmt.Errorf("add category: %w", err)
	}
	return c, nil
}

// Categories lists the categories by slug.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, slug, name FROM categories ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Category])
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return list, nil
}

// unknownCategory builds the explanation for a category that does not
// exist, listing the valid ones.
func (s *Store) unknownCategory(ctx context.Context, tx pgx.Tx, slug string) (string, error) {
	rows, err := tx.Query(ctx, `SELECT slug FROM categories ORDER BY slug`)
	if err != nil {
		return "", fmt.Errorf("list categories: %w", err)
	}
	slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list categories: %w", err)
	}
	if len(slugs) == 0 {
		return fmt.Sprintf("there is no category called %q, and this forum has no categories: write to %s", slug, s.addrs.Ask()), nil
	}
	addrs := make([]string, len(slugs))
	for i, sl := range slugs {
		addrs[i] = s.cfg.LocalParts.Ask + "+" + sl + "@" + s.cfg.Domain
	}
	return fmt.Sprintf("there is no category called %q; the categories are: %s", slug, strings.Join(addrs, ", ")), nil
}

// SetQuestionState closes (optionally as a duplicate of another question)
// or reopens question id.
func (s *Store) SetQuestionState(ctx context.Context, id int64, closed bool, duplicateOf int64) error {
	state := "visible"
	if closed {
		state = "closed"
	}
	tag, err := s.pool.Exec(ctx, `UPDATE posts SET state = $2, duplicate_of = NULLIF($3, 0) WHERE id = $1 AND kind = 'question' AND state IN ('visible', 'closed')`,
		id, state, duplicateOf)
	if err != nil {
		return fmt.Errorf("set question state: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("question %d: %w", id, ErrNotFound)
	}
	return nil
}

// QueuedPost is a post waiting for a moderator.
type QueuedPost struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	Question int64  `json:"question_id"`
	Title    string `json:"title"`
	Author   string `json:"author"`
	Body     string `json:"body"`
}

// ModerationQueue lists posts waiting for a moderator, oldest first.
func (s *Store) ModerationQueue(ctx context.Context) ([]QueuedPost, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(q.title, p.title), a.display_name, p.body
		FROM posts p JOIN people a ON a.id = p.author_id LEFT JOIN posts q ON q.id = p.question_id
		WHERE p.state = 'queued' ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QueuedPost])
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", err)
	}
	if list == nil {
		list = []QueuedPost{}
	}
	return list, nil
}

// DecideQueued approves or rejects a queued post from the command line.
func (s *Store) DecideQueued(ctx context.Context, id int64, approve bool, reason string) (string, error) {
	var note string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		note, err = s.decideQueued(ctx, tx, id, approve, reason)
		return err
	})
	return note, err
}

// SetModerator makes the person with addr a moderator (or not).
func (s *Store) SetModerator(ctx context.Context, addr string, on bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE people SET moderator = $2, confirmed_at = CASE WHEN $2 THEN coalesce(confirmed_at, now()) ELSE confirmed_at END
		WHERE address_hash = $1`, s.keys.AddressHash(addr), on)
	if err != nil {
		return fmt.Errorf("set moderator: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUnknownAddress
	}
	return nil
}
