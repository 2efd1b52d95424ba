package threads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// The steps of confirmations, follows and stops that processing takes
// through Tx; the pipeline decides between them and words the reasons.

// Notice is one mail processing sends to one person.
type Notice struct {
	Person int64
	Kind   mailkind.Kind
	// Post is the post (or question) it is about; 0: none.
	Post int64
	// Threaded: it answers the locked inbound message (In-Reply-To).
	Threaded bool
	// Note is its rendered text, for the kinds that carry one.
	Note string
	// Subscription is the follow a ConfirmSubscribe or Welcome is about.
	Subscription int64
}

// Notify enqueues n in t: its notifications row and its job.
func (t *Tx) Notify(ctx context.Context, n Notice) error {
	r := recipient{personID: n.Person, kind: n.Kind, note: n.Note, subscription: n.Subscription}
	if n.Threaded {
		r.inboundID = t.in.id
	}
	return t.s.enqueueNotifications(ctx, t.tx, n.Post, []recipient{r})
}

// RateLimited reports whether person (or, when ip is set, mail from ip)
// already caused max notifications of kind within window (a PostgreSQL
// interval, such as "24 hours"). Counting a person locks their row, so
// that concurrent messages count each other's notifications.
func (t *Tx) RateLimited(ctx context.Context, person int64, ip string, kind mailkind.Kind, max int, window string) (bool, error) {
	return rateLimited(ctx, t.tx, person, ip, kind, max, window)
}

// RequestFollow records person's follow of every new question (category
// 0) or of category, unconfirmed unless it is confirmed already, and
// returns its id and whether it is confirmed.
func (t *Tx) RequestFollow(ctx context.Context, person, category int64) (id int64, confirmed bool, err error) {
	scope := "all"
	if category != 0 {
		scope = "category"
	}
	if err := t.tx.QueryRow(ctx, sqlRequestFollow, person, scope, category).Scan(&id, &confirmed); err != nil {
		return 0, false, fmt.Errorf("subscribe: %w", err)
	}
	return id, confirmed, nil
}

// ConfirmPerson confirms author by tok, a confirmation token of theirs
// (see confirmPerson), and returns how many held posts it published. The
// welcome mail of a follow it activates answers the locked message; the
// inbound rows of the posts it publishes get reasons.
func (t *Tx) ConfirmPerson(ctx context.Context, author Person, tok *TokenRef, reasons ConfirmedReasons) (int, error) {
	return t.s.confirmPerson(ctx, t.tx, author, tok, t.in.id, reasons)
}

// ApplyStop carries out a stop for person (see applyStop) and returns
// what it stopped.
func (t *Tx) ApplyStop(ctx context.Context, person int64, p token.Purpose, subject int64) (Stop, error) {
	return t.s.applyStop(ctx, t.tx, person, p, subject)
}

// EndCategoryFollow ends person's follow of category slug (the row is
// kept with ended_at; pending new questions it caused are cancelled at
// send time); ended is false when they did not follow it.
func (t *Tx) EndCategoryFollow(ctx context.Context, person int64, slug string) (ended bool, err error) {
	tag, err := t.tx.Exec(ctx, sqlUnfollowCategory, person, slug)
	if err != nil {
		return false, fmt.Errorf("unfollow category: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// CategorySlugs lists the slugs of the categories, in order.
func (t *Tx) CategorySlugs(ctx context.Context) ([]string, error) {
	rows, err := t.tx.Query(ctx, sqlCategorySlugs)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return slugs, nil
}

// StoppedAll reports whether p has stopped all mail.
func (p Person) StoppedAll() bool { return p.stoppedAll }
