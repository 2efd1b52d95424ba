package threads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of this file: forgetting, exporting and redacting
// addresses. Every one takes the person's id or address hash, never an
// address.
const (
	lockPersonByHashSQL = `SELECT id FROM people WHERE address_hash = $1 FOR UPDATE`

	// eraseAddressSQL removes person $1's address (sealed copy and hash)
	// and revokes their tokens (a new epoch); with $2 their posts show
	// "anonymous" instead of their display name.
	eraseAddressSQL = `UPDATE people SET address_hash = NULL, address_enc = NULL, token_epoch = token_epoch + 1,
		display_name = CASE WHEN $2 THEN 'anonymous' ELSE display_name END WHERE id = $1`

	cancelPendingMailSQL = `UPDATE notifications SET state = 'cancelled', error = 'person was forgotten' WHERE person_id = $1 AND state = 'pending'`

	// purgeSentMailSQL drops the raw mail person $1 sent (whole or in
	// chunks) and what of its envelope identifies them, and counts the
	// rows; the rows stay, for the counts.
	purgeSentMailSQL = `WITH p AS (UPDATE inbound SET sealed = NULL, chunks = NULL, message_id = '', mail_from_hash = NULL, purged_at = now()
			WHERE sender_id = $1 AND (sealed IS NOT NULL OR chunks IS NOT NULL) RETURNING id),
		c AS (DELETE FROM inbound_chunks WHERE inbound_id IN (SELECT id FROM p))
		SELECT count(*) FROM p`

	deleteFollowsSQL  = `DELETE FROM subscriptions WHERE person_id = $1`
	deleteMutesSQL    = `DELETE FROM mutes WHERE person_id = $1`
	eraseClientIDsSQL = `UPDATE posts SET client_msgid = NULL WHERE author_id = $1`

	// deleteClientIDIndexSQL forgets the keyed hashes of the Message-IDs
	// of the mail person $1 sent (the index rows of their posts).
	deleteClientIDIndexSQL = `DELETE FROM message_ids WHERE direction = 'in' AND recipient_id = $1`

	countPostsSQL = `SELECT count(*) FROM posts WHERE author_id = $1`

	// exportPersonSQL: the points are computed (pointsSQL), as on pages.
	exportPersonSQL = `SELECT a.id, a.display_name, a.created_at, a.confirmed_at, a.suppressed_at, a.unsubscribed_at, a.bounce_score, ` +
		pointsSQL + ` FROM people a WHERE a.address_hash = $1`
	exportFollowsSQL = `SELECT s.scope, coalesce(c.name, ''), s.question_id, s.confirmed_at, s.ended_at FROM subscriptions s
		LEFT JOIN categories c ON c.id = s.category_id WHERE s.person_id = $1 ORDER BY s.id`
	exportMutesSQL         = `SELECT question_id FROM mutes WHERE person_id = $1 ORDER BY question_id`
	exportPostsSQL         = `SELECT id, kind, state, title, body, created_at FROM posts WHERE author_id = $1 ORDER BY id`
	exportNotificationsSQL = `SELECT state, count(*) FROM notifications WHERE person_id = $1 GROUP BY state`
	exportInboundSQL       = `SELECT id, message_id, source, size, state, reason, post_id, received_at, processed_at
		FROM inbound WHERE sender_id = $1 ORDER BY id`

	// knownAddressesSQL returns which of the address hashes $1 are
	// people's.
	knownAddressesSQL = `SELECT address_hash FROM people WHERE address_hash = ANY($1)`
)

// ErrUnknownAddress means no person has the given address.
var ErrUnknownAddress = errors.New("no person with that address")

// Forgotten is what ForgetPerson did.
type Forgotten struct {
	PersonID             int64 `json:"person_id"`
	CancelledMail        int   `json:"cancelled_notifications"`
	PurgedInbound        int   `json:"purged_inbound_messages"`
	RemovedSubscriptions int   `json:"removed_subscriptions"`
	Posts                int   `json:"posts_kept"`
}

// ForgetPerson erases an address: its sealed copy and its hash (so the
// address can no longer be looked up or mailed), the raw messages the
// person sent, their follows and mutes, and their pending notifications
// (cancelled). Their posts stay under their display name, or under
// "anonymous" when anonymous is set. Their tokens are revoked.
func (s *Store) ForgetPerson(ctx context.Context, addr string, anonymous bool) (Forgotten, error) {
	var f Forgotten
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, lockPersonByHashSQL, s.keys.AddressHash(addr)).Scan(&f.PersonID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUnknownAddress
		}
		if err != nil {
			return fmt.Errorf("find person: %w", err)
		}
		if _, err := tx.Exec(ctx, eraseAddressSQL, f.PersonID, anonymous); err != nil {
			return fmt.Errorf("erase address: %w", err)
		}
		tag, err := tx.Exec(ctx, cancelPendingMailSQL, f.PersonID)
		if err != nil {
			return fmt.Errorf("cancel notifications: %w", err)
		}
		f.CancelledMail = int(tag.RowsAffected())
		if err := tx.QueryRow(ctx, purgeSentMailSQL, f.PersonID).Scan(&f.PurgedInbound); err != nil {
			return fmt.Errorf("purge raw mail: %w", err)
		}
		tag, err = tx.Exec(ctx, deleteFollowsSQL, f.PersonID)
		if err != nil {
			return fmt.Errorf("remove follows: %w", err)
		}
		f.RemovedSubscriptions = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, deleteMutesSQL, f.PersonID); err != nil {
			return fmt.Errorf("remove mutes: %w", err)
		}
		if _, err := tx.Exec(ctx, eraseClientIDsSQL, f.PersonID); err != nil {
			return fmt.Errorf("erase client message-ids: %w", err)
		}
		if _, err := tx.Exec(ctx, deleteClientIDIndexSQL, f.PersonID); err != nil {
			return fmt.Errorf("erase client message-ids: %w", err)
		}
		return tx.QueryRow(ctx, countPostsSQL, f.PersonID).Scan(&f.Posts)
	})
	return f, err
}

// Export is everything Postern holds about one address, as `postern user
// export` prints it. The address itself is not repeated.
type Export struct {
	PersonID      int64            `json:"person_id"`
	DisplayName   string           `json:"display_name"`
	CreatedAt     time.Time        `json:"created_at"`
	ConfirmedAt   *time.Time       `json:"confirmed_at"`
	SuppressedAt  *time.Time       `json:"suppressed_at"`
	Unsubscribed  *time.Time       `json:"unsubscribed_at"`
	BounceScore   float64          `json:"bounce_score"`
	Points        int              `json:"points"`
	Follows       []ExportFollow   `json:"follows"`
	MutedThreads  []int64          `json:"muted_questions"`
	Posts         []ExportPost     `json:"posts"`
	Notifications map[string]int   `json:"notifications_by_state"`
	Inbound       []InboundSummary `json:"received_messages"`
	Stored        string           `json:"how_the_address_is_stored"`
}

// ExportFollow is one follow, current or ended.
type ExportFollow struct {
	Scope     string     `json:"scope"`
	Category  string     `json:"category,omitempty"`
	Question  *int64     `json:"question_id,omitempty"`
	Confirmed *time.Time `json:"confirmed_at"`
	Ended     *time.Time `json:"ended_at,omitempty"` // the person stopped it
}

// ExportPost is one post of the person.
type ExportPost struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	Title     string    `json:"title,omitempty"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// ExportPerson returns what Postern holds about addr.
func (s *Store) ExportPerson(ctx context.Context, addr string) (*Export, error) {
	e := &Export{Notifications: map[string]int{}, Follows: []ExportFollow{}, MutedThreads: []int64{}, Posts: []ExportPost{},
		Stored: "encrypted (AES-256-GCM) and as a keyed hash for lookup; never shown to anyone"}
	err := s.pool.QueryRow(ctx, exportPersonSQL, s.keys.AddressHash(addr)).
		Scan(&e.PersonID, &e.DisplayName, &e.CreatedAt, &e.ConfirmedAt, &e.SuppressedAt, &e.Unsubscribed, &e.BounceScore, &e.Points)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnknownAddress
	}
	if err != nil {
		return nil, fmt.Errorf("export person: %w", err)
	}
	rows, err := s.pool.Query(ctx, exportFollowsSQL, e.PersonID)
	if err != nil {
		return nil, fmt.Errorf("export follows: %w", err)
	}
	e.Follows, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExportFollow, error) {
		var f ExportFollow
		return f, r.Scan(&f.Scope, &f.Category, &f.Question, &f.Confirmed, &f.Ended)
	})
	if err != nil {
		return nil, fmt.Errorf("export follows: %w", err)
	}
	rows, err = s.pool.Query(ctx, exportMutesSQL, e.PersonID)
	if err != nil {
		return nil, fmt.Errorf("export mutes: %w", err)
	}
	if e.MutedThreads, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, fmt.Errorf("export mutes: %w", err)
	}
	rows, err = s.pool.Query(ctx, exportPostsSQL, e.PersonID)
	if err != nil {
		return nil, fmt.Errorf("export posts: %w", err)
	}
	e.Posts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExportPost, error) {
		var p ExportPost
		return p, r.Scan(&p.ID, &p.Kind, &p.State, &p.Title, &p.Body, &p.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("export posts: %w", err)
	}
	rows, err = s.pool.Query(ctx, exportNotificationsSQL, e.PersonID)
	if err != nil {
		return nil, fmt.Errorf("export notifications: %w", err)
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("export notifications: %w", err)
		}
		e.Notifications[st] = n
	}
	rows.Close()
	rows, err = s.pool.Query(ctx, exportInboundSQL, e.PersonID)
	if err != nil {
		return nil, fmt.Errorf("export inbound: %w", err)
	}
	e.Inbound, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboundSummary, error) {
		var m InboundSummary
		err := r.Scan(&m.ID, &m.MessageID, &m.Source, &m.Size, &m.State, &m.Reason, &m.PostID, &m.ReceivedAt, &m.ProcessedAt)
		m.MessageID = redactAllAddresses(m.MessageID)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("export inbound: %w", err)
	}
	return e, nil
}

// addressSpans returns the [start, end) byte spans of address-like
// strings in text (local@domain.tld), in order. It is a linear scan from
// each '@', much cheaper than a regular expression over long posts.
func addressSpans(text string) [][2]int {
	var spans [][2]int
	last := 0
	for i := strings.IndexByte(text, '@'); i >= 0; {
		at := last + i
		start := at
		for start > 0 && isLocalByte(text[start-1]) {
			start--
		}
		end := at + 1
		for end < len(text) && isDomainByte(text[end]) {
			end++
		}
		for end > at+1 && (text[end-1] == '.' || text[end-1] == '-') {
			end--
		}
		domain := text[at+1 : end]
		if start < at && strings.Contains(domain, ".") && domain[0] != '.' && domain[0] != '-' && (len(spans) == 0 || start >= spans[len(spans)-1][1]) {
			spans = append(spans, [2]int{start, end})
		}
		last = at + 1
		i = strings.IndexByte(text[last:], '@')
	}
	return spans
}

func isLocalByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_{|}~-", c) >= 0
}

func isDomainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// redactKnown replaces, in each text, the author's own address and the
// address of every person Postern knows (a quoted or forwarded
// notification carries its recipient's address) with "[address removed]".
// Other addresses, which people may write on purpose, are left alone.
func (s *Store) redactKnown(ctx context.Context, tx pgx.Tx, author string, texts ...*string) error {
	cands, hashes := s.addressCandidates(texts...)
	if len(cands) == 0 {
		return nil
	}
	known := map[string]bool{NormalizeAddress(author): true}
	rows, err := tx.Query(ctx, knownAddressesSQL, hashes)
	if err != nil {
		return fmt.Errorf("redact: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("redact: %w", err)
	}
	for _, h := range found {
		for i, c := range hashes {
			if bytes.Equal(c, h) {
				known[cands[i]] = true
			}
		}
	}
	redactAddresses(known, texts...)
	return nil
}

// addressCandidates returns the distinct normalised address-like strings
// in texts, with their address hashes: what redaction looks up.
func (s *Store) addressCandidates(texts ...*string) (cands []string, hashes [][]byte) {
	seen := map[string]bool{}
	for _, t := range texts {
		for _, sp := range addressSpans(*t) {
			n := NormalizeAddress((*t)[sp[0]:sp[1]])
			if !seen[n] {
				seen[n] = true
				cands = append(cands, n)
				hashes = append(hashes, s.keys.AddressHash(n))
			}
		}
	}
	return cands, hashes
}

// redactAllAddresses returns text with every address-like string (as
// addressSpans finds them) replaced with "[address removed]", known or
// not. Titles get it rather than redactKnown: a title is public, short,
// and shown where no reader chose to look (notification subjects, page
// titles, listings), so no address, a member's or a stranger's, is kept
// in one; a body keeps the addresses people write on purpose.
func redactAllAddresses(text string) string {
	spans := addressSpans(text)
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		b.WriteString(text[prev:sp[0]])
		b.WriteString("[address removed]")
		prev = sp[1]
	}
	b.WriteString(text[prev:])
	return b.String()
}

// redactAddresses replaces, in each text, every address whose normalised
// form is in known with "[address removed]".
func redactAddresses(known map[string]bool, texts ...*string) {
	for _, t := range texts {
		var b strings.Builder
		prev := 0
		for _, sp := range addressSpans(*t) {
			if known[NormalizeAddress((*t)[sp[0]:sp[1]])] {
				b.WriteString((*t)[prev:sp[0]])
				b.WriteString("[address removed]")
				prev = sp[1]
			}
		}
		if prev > 0 {
			b.WriteString((*t)[prev:])
			*t = b.String()
		}
	}
}
