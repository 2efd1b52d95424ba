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

// Refusal is a command the store cannot carry out, and why: the
// pipeline renders the sentence its sender reads.
type Refusal struct{ Code RefusalCode }

// RefusalCode names why a command was refused.
type RefusalCode int

// Refusals of a command.
const (
	RefusedSelectNotAnswer RefusalCode = iota + 1 // only an answer can be selected
	RefusedSelectNotAsker                         // only the asker or a moderator selects
	RefusedNoSelection                            // no answer is selected
	RefusedSelectClosed                           // the question is closed
	RefusedVoteComment                            // comments take no votes
	RefusedVoteOwn                                // nobody votes on their own post
	RefusedEditOthers                             // only one's own posts can be edited
	RefusedNotModerator                           // only moderators approve or reject
	RefusedPostGone                               // the post no longer exists
	RefusedNotQueued                              // the post is not waiting for moderation
)

func (r *Refusal) Error() string { return fmt.Sprintf("command refused (%d)", r.Code) }

func refuse(c RefusalCode) error { return &Refusal{c} }

// isModerator reports whether person is a moderator.
func isModerator(ctx context.Context, tx pgx.Tx, person int64) (bool, error) {
	var mod bool
	if err := tx.QueryRow(ctx, sqlIsModerator, person).Scan(&mod); err != nil {
		return false, fmt.Errorf("load moderator flag: %w", err)
	}
	return mod, nil
}

// SelectAnswer marks target (an answer) as the best answer of its
// question, or undoes it. Only the asker or a moderator may: otherwise,
// and when there is nothing to do, it returns a *Refusal.
func (t *Tx) SelectAnswer(ctx context.Context, author Person, target *ParentRef, accept bool) error {
	if target.Kind != KindAnswer {
		return refuse(RefusedSelectNotAnswer)
	}
	var asker, answerer int64
	var best *int64
	var state string
	err := t.tx.QueryRow(ctx, sqlLockQuestionForSelect, target.QuestionID, target.ID).Scan(&asker, &answerer, &best, &state)
	if err != nil {
		return fmt.Errorf("load question: %w", err)
	}
	if asker != author.ID {
		mod, err := isModerator(ctx, t.tx, author.ID)
		if err != nil {
			return err
		}
		if !mod {
			return refuse(RefusedSelectNotAsker)
		}
	}
	if !accept {
		if best == nil {
			return refuse(RefusedNoSelection)
		}
		newState := state
		if t.s.cfg.CloseOnSelect && state == "closed" {
			newState = "visible"
		}
		if _, err := t.tx.Exec(ctx, sqlUnselectAnswer, target.QuestionID, newState); err != nil {
			return fmt.Errorf("unselect: %w", err)
		}
		return nil
	}
	if state == "closed" && !(best != nil && t.s.cfg.CloseOnSelect) {
		return refuse(RefusedSelectClosed)
	}
	newState := state
	if t.s.cfg.CloseOnSelect {
		newState = "closed"
	}
	if _, err := t.tx.Exec(ctx, sqlSelectAnswer, target.QuestionID, target.ID, newState); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	var wants bool
	if err := t.tx.QueryRow(ctx, sqlWantsSelected, answerer).Scan(&wants); err != nil {
		return fmt.Errorf("load answerer: %w", err)
	}
	if answerer != author.ID && wants {
		if err := t.s.enqueueNotifications(ctx, t.tx, target.ID, []recipient{{personID: answerer, kind: mailkind.Selected}}); err != nil {
			return err
		}
	}
	return nil
}

// Vote records author's vote (+1 or -1) on target, replacing an earlier
// one. Comments take no votes; nobody votes on their own post. No
// notification is sent, as in Question2Answer. It returns the vote, or a *Refusal.
func (t *Tx) Vote(ctx context.Context, author Person, target *ParentRef, up bool) (int, error) {
	if target.Kind == KindComment {
		return 0, refuse(RefusedVoteComment)
	}
	var owner int64
	if err := t.tx.QueryRow(ctx, sqlPostAuthor, target.ID).Scan(&owner); err != nil {
		return 0, fmt.Errorf("load post: %w", err)
	}
	if owner == author.ID {
		return 0, refuse(RefusedVoteOwn)
	}
	v := -1
	if up {
		v = 1
	}
	if _, err := t.tx.Exec(ctx, sqlVote, target.ID, author.ID, v); err != nil {
		return 0, fmt.Errorf("vote: %w", err)
	}
	if _, err := t.tx.Exec(ctx, sqlCountVotes, target.ID); err != nil {
		return 0, fmt.Errorf("count votes: %w", err)
	}
	return v, nil
}

// Edit replaces the body of author's own post target, keeping the old
// text in post_edits; anyone else's is a *Refusal.
func (t *Tx) Edit(ctx context.Context, author Person, target *ParentRef, body string) error {
	var owner int64
	var old string
	if err := t.tx.QueryRow(ctx, sqlLockPostForEdit, target.ID).Scan(&owner, &old); err != nil {
		return fmt.Errorf("load post: %w", err)
	}
	if owner != author.ID {
		return refuse(RefusedEditOthers)
	}
	if _, err := t.tx.Exec(ctx, sqlKeepEdit, target.ID, old, author.ID); err != nil {
		return fmt.Errorf("keep edit history: %w", err)
	}
	if _, err := t.tx.Exec(ctx, sqlEditPost, target.ID, body); err != nil {
		return fmt.Errorf("edit: %w", err)
	}
	return nil
}

// Moderate approves or rejects queued post id (see decideQueued); only
// moderators may (else a *Refusal).
func (t *Tx) Moderate(ctx context.Context, author Person, id int64, approve bool, rejectNote string) error {
	mod, err := isModerator(ctx, t.tx, author.ID)
	if err != nil {
		return err
	}
	if !mod {
		return refuse(RefusedNotModerator)
	}
	return t.s.decideQueued(ctx, t.tx, id, approve, rejectNote)
}

// decideQueued publishes (with its notifications, sent only now) or
// rejects a post waiting for moderation, telling its author rejectNote
// (rendered by the caller). A post gone or not queued is a *Refusal.
func (s *Store) decideQueued(ctx context.Context, tx pgx.Tx, id int64, approve bool, rejectNote string) error {
	var np NewPost
	var kind, state string
	var author int64
	err := tx.QueryRow(ctx, sqlLockQueuedPost, id).Scan(&kind, &state, &author, &np.QuestionID, &np.ParentID, &np.CategoryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return refuse(RefusedPostGone)
	}
	if err != nil {
		return fmt.Errorf("load queued post: %w", err)
	}
	if state != "queued" {
		return refuse(RefusedNotQueued)
	}
	np.Kind, np.Author = PostKind(kind), Person{ID: author}
	if approve {
		if _, err := tx.Exec(ctx, sqlApprovePost, id); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if err := s.notifyPost(ctx, tx, id, np); err != nil {
			return err
		}
		return nil
	}
	if _, err := tx.Exec(ctx, sqlHidePost, id); err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	qid := np.QuestionID
	if np.Kind == KindQuestion {
		qid = 0
	}
	if err := s.enqueueNotifications(ctx, tx, qid, []recipient{{personID: author, kind: mailkind.Rejected, note: rejectNote}}); err != nil {
		return err
	}
	return nil
}

// queueForModeration tells every moderator about queued post id.
func (s *Store) queueForModeration(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, err := tx.Query(ctx, sqlModerators)
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
	if err := tx.QueryRow(ctx, sqlModerationCheck, author.ID).Scan(&mod, &points); err != nil {
		return false, fmt.Errorf("moderation check: %w", err)
	}
	return !mod && points < s.cfg.ModeratePointsBelow, nil
}

// SendHelp sends author the guide to every address and command, unless
// they were sent RejectionsPerDay explanations and guides in 24 hours;
// sent reports whether it was. The caller checks that author is confirmed
// and not suppressed.
func (t *Tx) SendHelp(ctx context.Context, author Person) (sent bool, err error) {
	limited, err := rateLimited(ctx, t.tx, author.ID, "", mailkind.Help, RejectionsPerDay, "24 hours")
	if err != nil || limited {
		return false, err
	}
	return true, t.s.enqueueNotifications(ctx, t.tx, 0, []recipient{{personID: author.ID, kind: mailkind.Help, inboundID: t.in.id}})
}

// NotifyCommand sends author the one-line confirmation note of a command.
func (t *Tx) NotifyCommand(ctx context.Context, author Person, note string) error {
	return t.s.enqueueNotifications(ctx, t.tx, 0, []recipient{{personID: author.ID, kind: mailkind.Command, inboundID: t.in.id, note: note}})
}

// SetNotifyPreference sets person's notification preference pref (a
// Command.Arg of CmdNotify) on or off.
func (t *Tx) SetNotifyPreference(ctx context.Context, person int64, pref string, on bool) error {
	q, ok := sqlSetNotifyPreference[pref]
	if !ok {
		return fmt.Errorf("unknown preference %q", pref)
	}
	if _, err := t.tx.Exec(ctx, q, person, on); err != nil {
		return fmt.Errorf("set preference: %w", err)
	}
	return nil
}

// SetCommandConfirmations sets whether person is sent a one-line
// confirmation of each command.
func (t *Tx) SetCommandConfirmations(ctx context.Context, person int64, on bool) error {
	if _, err := t.tx.Exec(ctx, sqlSetCommandConfirmations, person, on); err != nil {
		return fmt.Errorf("set confirmations: %w", err)
	}
	return nil
}

// WantsCommandConfirmations reports whether p asked for a one-line
// confirmation of each command.
func (p Person) WantsCommandConfirmations() bool { return p.commandConfirm }

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
	err := s.pool.QueryRow(ctx, sqlAddCategory, c.Slug, c.Name).Scan(&c.ID)
	if err != nil {
		return Category{}, fmt.Errorf("add category: %w", err)
	}
	return c, nil
}

// Categories lists the categories by slug.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	rows, err := s.pool.Query(ctx, sqlCategories)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Category])
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return list, nil
}

// SetQuestionState closes (optionally as a duplicate of another question)
// or reopens question id.
func (s *Store) SetQuestionState(ctx context.Context, id int64, closed bool, duplicateOf int64) error {
	state := "visible"
	if closed {
		state = "closed"
	}
	tag, err := s.pool.Exec(ctx, sqlSetQuestionState,
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
	rows, err := s.pool.Query(ctx, sqlModerationQueue)
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

// DecideQueued approves or rejects a queued post from the command line,
// telling a rejected post's author rejectNote (rendered by the caller).
func (s *Store) DecideQueued(ctx context.Context, id int64, approve bool, rejectNote string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return s.decideQueued(ctx, tx, id, approve, rejectNote)
	})
}

// SetModerator makes the person with addr a moderator (or not).
func (s *Store) SetModerator(ctx context.Context, addr string, on bool) error {
	tag, err := s.pool.Exec(ctx, sqlSetModerator, s.keys.AddressHash(addr), on)
	if err != nil {
		return fmt.Errorf("set moderator: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUnknownAddress
	}
	return nil
}
