package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of the admin commands' views (`postern inbound show`,
// `postern stats`, `postern export`): person ids and display names, never
// an address.
const (
	// sqlInboundDetail is received message $1 with its sender's person
	// id and display name and the post it became.
	sqlInboundDetail = `SELECT i.id, i.message_id, i.source, i.size, i.state, i.reason, i.post_id, coalesce(p.state, ''), coalesce(p.kind, ''),
			i.sender_id, coalesce(pe.display_name, ''), i.rcpt, i.remote_ip, i.auth_dkim, i.auth_spf, i.auth_dmarc, i.evidence,
			i.received_at, i.processed_at, i.purged_at, (i.sealed IS NOT NULL OR i.chunks IS NOT NULL),
			(SELECT count(*) FROM notifications n WHERE n.inbound_id = i.id)
		FROM inbound i LEFT JOIN posts p ON p.id = i.post_id LEFT JOIN people pe ON pe.id = i.sender_id
		WHERE i.id = $1`

	sqlStatsPosts  = `SELECT kind, state, count(*) FROM posts GROUP BY kind, state ORDER BY kind, state`
	sqlStatsPeople = `SELECT count(*), count(confirmed_at), count(*) FILTER (WHERE address_enc IS NULL) FROM people`
	// sqlStatsQueues: per queue, the unfinished jobs, the age of the
	// oldest of them and the wait of the oldest due one.
	sqlStatsQueues = `SELECT queue, count(*)::int, extract(epoch FROM now() - min(created_at))::float8,
			coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
		FROM river_job WHERE queue = ANY($1) AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending')
		GROUP BY queue ORDER BY queue`
	sqlStatsInboundHour = `SELECT state, count(*) FROM inbound WHERE received_at > now() - interval '1 hour' GROUP BY state ORDER BY state`
	sqlStatsNotifyHour  = `SELECT state, count(*) FROM notifications WHERE coalesce(sent_at, created_at) > now() - interval '1 hour'
		GROUP BY state ORDER BY state`

	// sqlExportPosts is every visible or closed post in thread order
	// (question, then its answers and comments by id: an imported
	// question moved under a later one has a smaller id), with its
	// question's title and its parent's forum Message-ID, after post $1
	// of question $2, a reply when $4 (keyset paging), $3 at a time.
	sqlExportPosts = `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), q.title, p.body, a.display_name,
			p.state, p.created_at, p.edited_at, p.message_id, coalesce(pp.message_id, '')
		FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id) JOIN people a ON a.id = p.author_id
			LEFT JOIN posts pp ON pp.id = coalesce(p.parent_id, p.question_id)
		WHERE p.state IN ('visible', 'closed') AND q.state IN ('visible', 'closed')
			AND (coalesce(p.question_id, p.id), p.kind <> 'question', p.id) > ($2, $4, $1)
		ORDER BY coalesce(p.question_id, p.id), p.kind <> 'question', p.id LIMIT $3`
)

// InboundDetail is one received message as `postern inbound show` shows
// it: what was received (its Message-ID with addresses removed, the
// forum addresses it was sent to with tokens masked, its size), what
// showed who sent it, its state and reason, the post it became and its
// sender by person id and display name; never the sender's address.
type InboundDetail struct {
	InboundSummary
	PostKind      string     `json:"post_kind,omitempty"`
	SenderID      *int64     `json:"sender_id"`
	SenderName    string     `json:"sender_name,omitempty"`
	Recipients    []string   `json:"recipients"`
	RemoteIP      string     `json:"remote_ip,omitempty"`
	DKIM          string     `json:"dkim,omitempty"`
	SPF           string     `json:"spf,omitempty"`
	DMARC         string     `json:"dmarc,omitempty"`
	PurgedAt      *time.Time `json:"purged_at"`
	RawKept       bool       `json:"raw_kept"`
	Notifications int        `json:"notifications"`
}

// InboundDetail returns received message id (ErrNotFound when there is
// none).
func (s *Store) InboundDetail(ctx context.Context, id int64) (*InboundDetail, error) {
	var d InboundDetail
	var rcpt []string
	err := s.pool.QueryRow(ctx, sqlInboundDetail, id).Scan(&d.ID, &d.MessageID, &d.Source, &d.Size, &d.State, &d.Reason, &d.PostID,
		&d.PostState, &d.PostKind, &d.SenderID, &d.SenderName, &rcpt, &d.RemoteIP, &d.DKIM, &d.SPF, &d.DMARC, &d.Evidence,
		&d.ReceivedAt, &d.ProcessedAt, &d.PurgedAt, &d.RawKept, &d.Notifications)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("inbound %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("inbound %d: %w", id, err)
	}
	d.MessageID = redactAllAddresses(d.MessageID)
	d.SenderName = redactAllAddresses(d.SenderName)
	d.Reason = redactAllAddresses(d.Reason)
	for _, r := range rcpt {
		d.Recipients = append(d.Recipients, maskToken(r))
	}
	if d.Recipients == nil {
		d.Recipients = []string{}
	}
	return &d, nil
}

// maskToken returns forum address addr with the token after its "+"
// (a reply, confirmation or unsubscribe token: a credential) replaced by
// "…": reply+…@forum.example.
func maskToken(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	kind, _, tagged := strings.Cut(local, "+")
	if !ok || !tagged {
		return addr
	}
	return kind + "+…@" + domain
}

// Stats is `postern stats`: the forum's size, its queues and the last
// hour's mail.
type Stats struct {
	// Posts counts posts by kind, then state.
	Posts map[string]map[string]int64 `json:"posts"`
	// People counts people: all, confirmed, forgotten (address erased).
	People struct {
		Total     int64 `json:"total"`
		Confirmed int64 `json:"confirmed"`
		Forgotten int64 `json:"forgotten"`
	} `json:"people"`
	// Queues are the process and notify queues (a queue with no
	// unfinished job is listed with zeros).
	Queues []QueueStats `json:"queues"`
	// LastHour counts received messages by state (accepted: not yet
	// processed) and notifications by state, of the last hour.
	LastHour struct {
		Received      map[string]int64 `json:"received"`
		Notifications map[string]int64 `json:"notifications"`
	} `json:"last_hour"`
}

// QueueStats is one queue of Stats.
type QueueStats struct {
	Queue string `json:"queue"`
	// Depth is its unfinished jobs (due, running, waiting for a retry).
	Depth int `json:"depth"`
	// OldestAgeSeconds is the age of the oldest unfinished job;
	// OldestDueSeconds how long the oldest due one has waited for a
	// worker.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	OldestDueSeconds float64 `json:"oldest_due_seconds"`
}

// Stats returns the forum's statistics.
func (s *Store) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{Posts: map[string]map[string]int64{}}
	st.LastHour.Received, st.LastHour.Notifications = map[string]int64{}, map[string]int64{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var kind, state string
		var n int64
		if err := forEachRow(ctx, tx, sqlStatsPosts, nil, []any{&kind, &state, &n}, func() error {
			if st.Posts[kind] == nil {
				st.Posts[kind] = map[string]int64{}
			}
			st.Posts[kind][state] = n
			return nil
		}); err != nil {
			return fmt.Errorf("posts: %w", err)
		}
		if err := tx.QueryRow(ctx, sqlStatsPeople).Scan(&st.People.Total, &st.People.Confirmed, &st.People.Forgotten); err != nil {
			return fmt.Errorf("people: %w", err)
		}
		if err := s.queueStats(ctx, tx, st); err != nil {
			return err
		}
		for sql, into := range map[string]map[string]int64{sqlStatsInboundHour: st.LastHour.Received, sqlStatsNotifyHour: st.LastHour.Notifications} {
			if err := forEachRow(ctx, tx, sql, nil, []any{&state, &n}, func() error {
				into[state] = n
				return nil
			}); err != nil {
				return fmt.Errorf("last hour: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// queueStats fills st.Queues.
func (s *Store) queueStats(ctx context.Context, tx pgx.Tx, st *Stats) error {
	found := map[string]QueueStats{}
	var q QueueStats
	if err := forEachRow(ctx, tx, sqlStatsQueues, []any{[]string{QueueProcess, QueueNotify}},
		[]any{&q.Queue, &q.Depth, &q.OldestAgeSeconds, &q.OldestDueSeconds}, func() error {
			found[q.Queue] = q
			return nil
		}); err != nil {
		return fmt.Errorf("queues: %w", err)
	}
	for _, name := range []string{QueueProcess, QueueNotify} {
		q := found[name]
		q.Queue = name
		st.Queues = append(st.Queues, q)
	}
	return nil
}

// forEachRow runs sql with args in tx and calls fn after scanning each
// row into scans.
func forEachRow(ctx context.Context, tx pgx.Tx, sql string, args []any, scans []any, fn func() error) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, scans, fn)
	return err
}

// ExportedPost is one post as `postern export` writes it: the author by
// display name only (addresses removed from it and from the title), the
// forum Message-IDs of the post and of its parent (no address in them).
type ExportedPost struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	QuestionID int64      `json:"question_id"`
	ParentID   int64      `json:"parent_id,omitempty"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	Author     string     `json:"author"`
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	EditedAt   *time.Time `json:"edited_at,omitempty"`
	MessageID  string     `json:"message_id"`
	// InReplyTo is the parent's forum Message-ID (the question's for an
	// answer), "" for a question.
	InReplyTo string `json:"in_reply_to,omitempty"`
}

// exportPage is how many posts ExportPosts reads per query.
const exportPage = 500

// ExportPosts calls fn with every visible or closed post of a visible or
// closed question, question by question (in id order), each question
// before its answers and comments (in id order). It reads exportPage
// posts at a time, so memory does not grow with the forum; an error of
// fn ends it and is returned.
func (s *Store) ExportPosts(ctx context.Context, fn func(ExportedPost) error) error {
	var lastQ, lastID int64
	lastReply := false
	for {
		rows, err := s.pool.Query(ctx, sqlExportPosts, lastID, lastQ, exportPage, lastReply)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExportedPost, error) {
			var p ExportedPost
			err := r.Scan(&p.ID, &p.Kind, &p.QuestionID, &p.ParentID, &p.Title, &p.Body, &p.Author, &p.State,
				&p.CreatedAt, &p.EditedAt, &p.MessageID, &p.InReplyTo)
			p.Title, p.Author = redactAllAddresses(p.Title), redactAllAddresses(p.Author)
			p.CreatedAt = p.CreatedAt.UTC()
			return p, err
		})
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for _, p := range page {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		last := page[len(page)-1]
		lastQ, lastID, lastReply = last.QuestionID, last.ID, last.Kind != string(KindQuestion)
	}
}

// CountExportPosts is the number of posts ExportPosts would write, for a
// progress bar.
func (s *Store) CountExportPosts(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, sqlCountExportPosts).Scan(&n); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	return n, nil
}

const sqlCountExportPosts = `SELECT count(*) FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id)
	WHERE p.state IN ('visible', 'closed') AND q.state IN ('visible', 'closed')`
