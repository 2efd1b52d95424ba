package threads

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/templates"
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

// runCommand carries out cmd, sent by author as a reply about target.
func (s *Store) runCommand(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, target *ParentRef, cmd Command) (outcome, error) {
	if cmd.Kind == CmdUnsubscribe || cmd.Kind == CmdUnsubscribeAll {
		// Anyone may stop mail; it confirms only to confirmed people.
		return s.unsubscribeByReply(ctx, tx, author, target.QuestionID, cmd.Kind == CmdUnsubscribeAll)
	}
	if !author.Confirmed {
		// Commands act at once; an unconfirmed address could be forged.
		if author.unproven {
			return ignored(templates.InboundCommandNoProof), nil
		}
		return ignored(templates.InboundCommandUnconfirmed), nil
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
		if _, err := tx.Exec(ctx, sqlSetNotifyPreference[cmd.Arg], author.ID, cmd.On); err != nil {
			return outcome{}, fmt.Errorf("set preference: %w", err)
		}
		note = templates.NoteNotify(cmd.Arg, cmd.On)
	case CmdConfirmationsOn, CmdConfirmationsOff:
		on := cmd.Kind == CmdConfirmationsOn
		if _, err := tx.Exec(ctx, sqlSetCommandConfirmations, author.ID, on); err != nil {
			return outcome{}, fmt.Errorf("set confirmations: %w", err)
		}
		note = templates.NoteConfirmationsOff
		if on {
			note = templates.NoteConfirmationsOn
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
	out = outcome{state: StateProcessed, reason: templates.InboundCommand(note)}
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

// refuse refuses a command with reason (a templates.Refuse* sentence).
func refuse(reason string) error { return &refusal{reason} }

// isModerator reports whether person is a moderator.
func isModerator(ctx context.Context, tx pgx.Tx, person int64) (bool, error) {
	var mod bool
	if err := tx.QueryRow(ctx, sqlIsModerator, person).Scan(&mod); err != nil {
		return false, fmt.Errorf("load moderator flag: %w", err)
	}
	return mod, nil
}

// selectAnswer marks target (an answer) as the best answer of its
// question, or undoes it. Only the asker or a moderator may.
func (s *Store) selectAnswer(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, accept bool) (string, error) {
	if target.Kind != KindAnswer {
		return "", refuse(templates.RefuseSelectNotAnswer)
	}
	var asker, answerer int64
	var best *int64
	var state string
	err := tx.QueryRow(ctx, sqlLockQuestionForSelect, target.QuestionID, target.ID).Scan(&asker, &answerer, &best, &state)
	if err != nil {
		return "", fmt.Errorf("load question: %w", err)
	}
	if asker != author.ID {
		mod, err := isModerator(ctx, tx, author.ID)
		if err != nil {
			return "", err
		}
		if !mod {
			return "", refuse(templates.RefuseSelectNotAsker)
		}
	}
	if !accept {
		if best == nil {
			return "", refuse(templates.RefuseNoSelection)
		}
		newState := state
		if s.cfg.CloseOnSelect && state == "closed" {
			newState = "visible"
		}
		if _, err := tx.Exec(ctx, sqlUnselectAnswer, target.QuestionID, newState); err != nil {
			return "", fmt.Errorf("unselect: %w", err)
		}
		return templates.NoteUnselected, nil
	}
	if state == "closed" && !(best != nil && s.cfg.CloseOnSelect) {
		return "", refuse(templates.RefuseSelectClosed)
	}
	newState := state
	if s.cfg.CloseOnSelect {
		newState = "closed"
	}
	if _, err := tx.Exec(ctx, sqlSelectAnswer, target.QuestionID, target.ID, newState); err != nil {
		return "", fmt.Errorf("select: %w", err)
	}
	var wants bool
	if err := tx.QueryRow(ctx, sqlWantsSelected, answerer).Scan(&wants); err != nil {
		return "", fmt.Errorf("load answerer: %w", err)
	}
	if answerer != author.ID && wants {
		if err := s.enqueueNotifications(ctx, tx, target.ID, []recipient{{personID: answerer, kind: mailkind.Selected}}); err != nil {
			return "", err
		}
	}
	return templates.NoteSelected, nil
}

// vote records author's vote (+1 or -1) on target, replacing an earlier
// one. Comments take no votes; nobody votes on their own post. No
// notification is sent, as in Question2Answer.
func (s *Store) vote(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, up bool) (string, error) {
	if target.Kind == KindComment {
		return "", refuse(templates.RefuseVoteComment)
	}
	var owner int64
	if err := tx.QueryRow(ctx, sqlPostAuthor, target.ID).Scan(&owner); err != nil {
		return "", fmt.Errorf("load post: %w", err)
	}
	if owner == author.ID {
		return "", refuse(templates.RefuseVoteOwn)
	}
	v := -1
	if up {
		v = 1
	}
	if _, err := tx.Exec(ctx, sqlVote, target.ID, author.ID, v); err != nil {
		return "", fmt.Errorf("vote: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlCountVotes, target.ID); err != nil {
		return "", fmt.Errorf("count votes: %w", err)
	}
	return templates.NoteVote(v), nil
}

// edit replaces the body of author's own post target, keeping the old
// text in post_edits.
func (s *Store) edit(ctx context.Context, tx pgx.Tx, author Person, target *ParentRef, body string) (string, error) {
	var owner int64
	var old string
	if err := tx.QueryRow(ctx, sqlLockPostForEdit, target.ID).Scan(&owner, &old); err != nil {
		return "", fmt.Errorf("load post: %w", err)
	}
	if owner != author.ID {
		return "", refuse(templates.RefuseEditOthers)
	}
	if _, err := tx.Exec(ctx, sqlKeepEdit, target.ID, old, author.ID); err != nil {
		return "", fmt.Errorf("keep edit history: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlEditPost, target.ID, body); err != nil {
		return "", fmt.Errorf("edit: %w", err)
	}
	return templates.NoteEdited, nil
}

// moderate approves or rejects queued post id; only moderators may.
func (s *Store) moderate(ctx context.Context, tx pgx.Tx, author Person, id int64, approve bool, reason string) (string, error) {
	mod, err := isModerator(ctx, tx, author.ID)
	if err != nil {
		return "", err
	}
	if !mod {
		return "", refuse(templates.RefuseNotModerator)
	}
	return s.decideQueued(ctx, tx, id, approve, reason)
}

// decideQueued publishes (with its notifications, sent only now) or
// rejects a post waiting for moderation.
func (s *Store) decideQueued(ctx context.Context, tx pgx.Tx, id int64, approve bool, reason string) (string, error) {
	var np newPost
	var kind, state string
	var author int64
	err := tx.QueryRow(ctx, sqlLockQueuedPost, id).Scan(&kind, &state, &author, &np.questionID, &np.parentID, &np.categoryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", refuse(templates.RefusePostGone)
	}
	if err != nil {
		return "", fmt.Errorf("load queued post: %w", err)
	}
	if state != "queued" {
		return "", refuse(templates.RefuseNotQueued)
	}
	np.kind, np.author = PostKind(kind), Person{ID: author}
	if approve {
		if _, err := tx.Exec(ctx, sqlApprovePost, id); err != nil {
			return "", fmt.Errorf("approve: %w", err)
		}
		if err := s.notifyPost(ctx, tx, id, np); err != nil {
			return "", err
		}
		return templates.NoteApproved(id), nil
	}
	if _, err := tx.Exec(ctx, sqlHidePost, id); err != nil {
		return "", fmt.Errorf("reject: %w", err)
	}
	note := templates.ModeratorRejected(reason)
	qid := np.questionID
	if np.kind == KindQuestion {
		qid = 0
	}
	if err := s.enqueueNotifications(ctx, tx, qid, []recipient{{personID: author, kind: mailkind.Rejected, note: note}}); err != nil {
		return "", err
	}
	return templates.NoteRejected(id), nil
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

// sendHelp sends the guide to every address and command.
func (s *Store) sendHelp(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person) (outcome, error) {
	if !author.Confirmed || author.Suppressed {
		return ignored(templates.InboundHelpUnconfirmed), nil
	}
	limited, err := rateLimited(ctx, tx, author.ID, "", mailkind.Help, RejectionsPerDay, "24 hours")
	if err != nil || limited {
		return ignored(templates.InboundHelpLimit), err
	}
	if err := s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.Help, inboundID: in.id}}); err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: templates.InboundHelpSent}, nil
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

// unknownCategory builds the explanation for a category that does not
// exist, listing the valid ones.
func (s *Store) unknownCategory(ctx context.Context, tx pgx.Tx, slug string) (string, error) {
	rows, err := tx.Query(ctx, sqlCategorySlugs)
	if err != nil {
		return "", fmt.Errorf("list categories: %w", err)
	}
	slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list categories: %w", err)
	}
	addrs := make([]string, len(slugs))
	for i, sl := range slugs {
		addrs[i] = s.cfg.LocalParts.Ask + "+" + sl + "@" + s.cfg.Domain
	}
	return templates.RefuseUnknownCategory(slug, s.addrs.Ask(), addrs), nil
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
	tag, err := s.pool.Exec(ctx, sqlSetModerator, s.keys.AddressHash(addr), on)
	if err != nil {
		return fmt.Errorf("set moderator: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUnknownAddress
	}
	return nil
}
