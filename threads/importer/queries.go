package importer

import "github.com/jackc/pgx/v5"

// The importer's statements. Client Message-IDs are indexed by keyed hash,
// forum ones in clear: lookups pass both forms, as live threading does.
// Only visible, closed and queued posts are thread targets.
const (
	categoriesSQL = `SELECT slug, id FROM categories`

	// asyncCommitSQL: a batch lost in a crash is imported again by the
	// next run, so its commit need not wait for the disk (the database
	// stays consistent either way).
	asyncCommitSQL = `SET LOCAL synchronous_commit = off`

	dedupSQL = `SELECT message_id FROM message_ids WHERE message_id = ANY($1)`

	// refsSQL returns, for each indexed key, the post and its question:
	// what placing a reply under it needs.
	refsSQL = `SELECT m.message_id, p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, q.state, q.author_id
		FROM message_ids m JOIN posts p ON p.id = m.post_id JOIN posts q ON q.id = coalesce(p.question_id, p.id)
		WHERE m.message_id = ANY($1) AND p.state IN ('visible', 'closed', 'queued')`

	// pendingSQL returns, for each missing parent's key, the oldest
	// imported question waiting for it (a sibling joins it).
	pendingSQL = `SELECT DISTINCT ON (i.message_id) i.message_id, p.id, p.state, p.author_id
		FROM import_pending i JOIN posts p ON p.id = i.post_id
		WHERE i.message_id = ANY($1) AND p.kind = 'question' AND p.state IN ('visible', 'closed', 'queued')
		ORDER BY i.message_id, p.id`

	// subjectsSQL returns the latest imported question of each base
	// subject digest.
	subjectsSQL = `SELECT s.subject_hash, p.id, p.state, p.author_id
		FROM import_subjects s JOIN posts p ON p.id = s.question_id
		WHERE s.subject_hash = ANY($1) AND p.kind = 'question' AND p.state IN ('visible', 'closed', 'queued')`

	knownSQL = `SELECT address_hash FROM people WHERE address_hash = ANY($1)`

	// peopleSQL creates the people not yet known, unconfirmed, with
	// "Member N" for those without a display name, and returns every
	// person asked for (created: true when this statement made them). A
	// person created by a concurrent transaction after its snapshot is
	// in neither part: peopleByHashSQL reads them afterwards.
	peopleSQL = `WITH input AS (
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::int[], $4::text[]) AS u(hash, enc, key_id, name)),
		created AS (
			INSERT INTO people (id, display_name, address_hash, address_enc, key_id)
			SELECT n.id, CASE WHEN n.name = '' THEN 'Member ' || n.id ELSE n.name END, n.hash, n.enc, n.key_id
			FROM (SELECT nextval(pg_get_serial_sequence('people', 'id')) AS id, i.* FROM input i) n
			ON CONFLICT (address_hash) DO NOTHING
			RETURNING id, address_hash)
		SELECT id, address_hash, true FROM created
		UNION ALL
		SELECT p.id, p.address_hash, false FROM people p JOIN input i ON p.address_hash = i.hash`

	peopleByHashSQL = `SELECT id, address_hash FROM people WHERE address_hash = ANY($1)`

	// reserveIDsSQL reserves $1 post ids, in order, for the COPY.
	reserveIDsSQL = `SELECT nextval(pg_get_serial_sequence('posts', 'id')) FROM generate_series(1, $1)`

	// indexSubjectsSQL makes each question the latest of its base
	// subject.
	indexSubjectsSQL = `INSERT INTO import_subjects (subject_hash, question_id)
		SELECT * FROM unnest($1::bytea[], $2::bigint[])
		ON CONFLICT (subject_hash) DO UPDATE SET question_id = EXCLUDED.question_id`
)

// The statements of the end of an import (reparent and redactLate).
const (
	// waitingSQL returns, in post order from after $1, up to $2 posts
	// waiting for a nearer parent that is now indexed, each with the
	// nearest such parent (lowest rank).
	waitingSQL = `SELECT DISTINCT ON (i.post_id) i.post_id, m.post_id
		FROM import_pending i JOIN message_ids m ON m.message_id = i.message_id
		JOIN posts t ON t.id = m.post_id AND t.state IN ('visible', 'closed', 'queued')
		WHERE i.post_id > $1 ORDER BY i.post_id, i.rank LIMIT $2`

	// moveTargetSQL loads the post to move under, with its question.
	moveTargetSQL = `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, q.state, q.author_id
		FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id) WHERE p.id = $1`

	movedPostSQL = `SELECT kind, author_id, coalesce(parent_id, 0), coalesce(question_id, 0) FROM posts WHERE id = $1`

	resolvePendingSQL = `DELETE FROM import_pending WHERE post_id = $1`

	// subjectJoinedSQL returns the direct replies of question $1 that
	// joined it by subject alone.
	subjectJoinedSQL = `SELECT p.id, p.author_id FROM posts p JOIN import_subject_joined j ON j.post_id = p.id
		WHERE p.question_id = $1 AND p.parent_id = $1`

	// moveJoinedSQL makes post $1 a reply of kind $2 to question $3.
	moveJoinedSQL = `UPDATE posts SET kind = $2, question_id = $3, parent_id = $3 WHERE id = $1`

	moveCommentsSQL = `UPDATE posts SET question_id = $2 WHERE parent_id = $1 AND kind = 'comment'`

	// moveThreadSQL makes every reply in question $1 a comment in
	// question $2 under post $3.
	moveThreadSQL = `UPDATE posts SET kind = 'comment', question_id = $2, parent_id = $3 WHERE question_id = $1`

	// moveAnswerCommentsSQL moves the comments on answer $1 under post $3
	// of question $2.
	moveAnswerCommentsSQL = `UPDATE posts SET kind = 'comment', question_id = $2, parent_id = $3 WHERE parent_id = $1 AND kind = 'comment'`

	// movePostSQL places post $1 as a reply (kind $2) in question $3
	// under post $4; what only a question has is cleared.
	movePostSQL = `UPDATE posts SET kind = $2, question_id = $3, parent_id = $4, title = '', category_id = NULL, tags = '{}'
		WHERE id = $1`

	moveSubjectSQL = `UPDATE import_subjects SET question_id = $2 WHERE question_id = $1`

	// lateAddressesSQL returns the posts of ids $1..$2 that hold an
	// address noted unknown which is now a person's.
	lateAddressesSQL = `SELECT DISTINCT a.post_id FROM import_addresses a JOIN people p ON p.address_hash = a.address_hash
		WHERE a.post_id BETWEEN $1 AND $2 ORDER BY 1`

	postTextSQL   = `SELECT body, elided FROM posts WHERE id = $1`
	redactPostSQL = `UPDATE posts SET body = $2, elided = $3 WHERE id = $1`

	forgetAddressesSQL = `DELETE FROM import_addresses WHERE post_id BETWEEN $1 AND $2`
)

// copyTarget is a table a batch COPYs rows into, with its columns in the
// order of the rows' values.
type copyTarget struct {
	table pgx.Identifier
	cols  []string
}

// The tables a batch writes with COPY.
var (
	copyPosts = copyTarget{pgx.Identifier{"posts"}, []string{"id", "kind", "question_id", "parent_id", "author_id",
		"title", "body", "elided", "category_id", "message_id", "client_msgid", "state", "tags", "created_at"}}
	copyMessageIDs  = copyTarget{pgx.Identifier{"message_ids"}, []string{"message_id", "post_id", "direction", "recipient_id"}}
	copyAttachments = copyTarget{pgx.Identifier{"attachments"}, []string{"post_id", "filename", "content_type", "size", "data", "content_id", "inline"}}
	// copyPending: post_id waits for the parent keyed message_id, rank
	// its place among the post's references (0 nearest).
	copyPending = copyTarget{pgx.Identifier{"import_pending"}, []string{"message_id", "post_id", "rank"}}
	// copyAddresses: post_id holds the address hashed address_hash, not
	// a person's when it was stored.
	copyAddresses = copyTarget{pgx.Identifier{"import_addresses"}, []string{"address_hash", "post_id"}}
	// copyJoined: post_id joined its question by subject alone.
	copyJoined = copyTarget{pgx.Identifier{"import_subject_joined"}, []string{"post_id"}}
)
