package threads

// The queries of processing and of the forum model, by the file that
// runs them. Each runs with the placeholders its comment names; none is
// built from data.

const (
	// tx.go (InboundTx, MarkInbound):

	// sqlInboundSize is the size of an accepted inbound message (jobs enqueued
	// without it).
	sqlInboundSize = `SELECT size FROM inbound WHERE id = $1 AND state = 'accepted'`

	// sqlLockInbound loads and locks an inbound row: a second worker given the
	// same job waits here, then finds it no longer accepted.
	// A sealed value of $2 bytes or more comes back as NULL with its
	// length, to be read in slices (sqlSealedSlice).
	// A chunked message's chunk count comes last (NULL: not chunked).
	sqlLockInbound = `SELECT i.id, i.key_id, CASE WHEN octet_length(i.sealed) < $2 THEN i.sealed END, octet_length(i.sealed),
		i.dedup_key, i.chunks, i.rcpt, i.state, i.remote_ip, i.peer_ip, i.source, coalesce(w.person_id, 0)
		FROM inbound i LEFT JOIN web_member_posts w ON w.inbound_id = i.id WHERE i.id = $1 FOR UPDATE OF i`

	// sqlSealedSlice reads $3 bytes of an inbound row's sealed value from
	// offset $2 (1-based): PostgreSQL fetches only the TOAST chunks the
	// slice covers, since the sealed value does not compress.
	sqlSealedSlice = `SELECT substring(sealed FROM $2 FOR $3) FROM inbound WHERE id = $1`

	// sqlMarkInbound records what processing decided for an inbound row.
	sqlMarkInbound = `UPDATE inbound SET state = $2, reason = $3, post_id = NULLIF($4, 0), sender_id = NULLIF($5, 0), processed_at = now(),
			auth_dkim = $6, auth_dmarc = $7, auth_spf = $8, evidence = $9 WHERE id = $1`

	// lookups.go:

	// sqlRepeatsOwnPostBefore: person $1 posted an answer or comment
	// with body $2 in question $3 in the last 24 hours, before post $4.
	sqlRepeatsOwnPostBefore = `SELECT EXISTS (SELECT 1 FROM posts WHERE author_id = $1 AND kind <> 'question'
		AND question_id = $3 AND id < $4 AND created_at > now() - interval '24 hours' AND body = $2)`

	// sqlCategoryID is a category's id by its slug.
	sqlCategoryID = `SELECT id FROM categories WHERE slug = $1`

	// sqlLoadParentRef loads a post with its question's state and author: what
	// routing needs of a reply's target.
	sqlLoadParentRef = `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, p.author_id, q.state, q.author_id
		FROM posts p JOIN posts q ON q.id = coalesce(p.question_id, p.id) WHERE p.id = $1`

	// sqlLookupThread finds the posts of a message's thread candidates (forum,
	// notification and hashed client Message-IDs) that can take a reply.
	sqlLookupThread = `SELECT m.message_id, p.id, p.kind, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0), p.state, p.author_id, q.state, q.author_id
		FROM message_ids m JOIN posts p ON p.id = m.post_id JOIN posts q ON q.id = coalesce(p.question_id, p.id)
		WHERE m.message_id = ANY($1) AND p.state IN ('visible', 'closed', 'queued')`

	// sqlConfirmationReplied finds the confirmation request (of an address or
	// a follow) sent to a person under one of a reply's Message-IDs.
	sqlConfirmationReplied = `SELECT n.kind, coalesce(n.subscription_id, 0), coalesce(n.post_id, 0), p.token_epoch FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE n.message_id = ANY($1) AND n.person_id = $2 AND n.kind IN ('confirm', 'confirm_subscribe') LIMIT 1`

	// tx.go (NotificationReplied):

	// sqlNotificationReplied tells whether one of a reply's Message-IDs is a
	// notification sent to the person.
	sqlNotificationReplied = `SELECT EXISTS (SELECT 1 FROM message_ids WHERE message_id = ANY($1) AND direction = 'out' AND recipient_id = $2)`

	// people.go:

	// sqlPersonByAddressHash is a person's id by their address hash.
	sqlPersonByAddressHash = `SELECT id FROM people WHERE address_hash = $1`

	// sqlInsertBounce records a bounce, with the notification it answers when
	// that still exists.
	sqlInsertBounce = `INSERT INTO bounces (person_id, notification_id, status, hard, inbound_id)
		VALUES ($1, (SELECT id FROM notifications WHERE id = NULLIF($2, 0::bigint)), $3, $4, $5)`

	// sqlScoreBounce adds a bounce's score to a person, suppressing them at
	// the threshold ($3).
	sqlScoreBounce = `UPDATE people SET bounce_score = bounce_score + $2,
		suppressed_at = CASE WHEN bounce_score + $2 >= $3 THEN coalesce(suppressed_at, now()) ELSE suppressed_at END
		WHERE id = $1`

	// trust.go, trusttx.go:

	// sqlLockPerson locks a person's row so that concurrent messages from one
	// address count each other.
	sqlLockPerson = `SELECT 1 FROM people WHERE id = $1 FOR NO KEY UPDATE`

	// sqlCountNotificationsOfPerson counts a person's notifications of one
	// kind in a window ($3, an interval).
	sqlCountNotificationsOfPerson = `SELECT count(*) FROM notifications WHERE person_id = $1 AND kind = $2 AND created_at > now() - $3::interval`

	// sqlCountNotificationsOfIP counts the notifications of one kind caused by
	// mail from one client IP in a window ($3, an interval).
	sqlCountNotificationsOfIP = `SELECT count(*) FROM notifications n JOIN inbound i ON i.id = n.inbound_id
			WHERE i.remote_ip = $1 AND n.kind = $2 AND n.created_at > now() - $3::interval`

	// sqlRequestFollow records a follow (unconfirmed until its double opt-in),
	// or finds the active one of the same scope.
	sqlRequestFollow = `INSERT INTO subscriptions (person_id, scope, category_id) VALUES ($1, $2, NULLIF($3, 0))
		ON CONFLICT (person_id, scope, coalesce(category_id, 0), coalesce(question_id, 0)) WHERE ended_at IS NULL DO UPDATE SET scope = EXCLUDED.scope
		RETURNING id, confirmed_at IS NOT NULL`

	// sqlConfirmPerson marks a person confirmed (once: the first time is
	// kept), returning their epoch and whether they were confirmed before.
	sqlConfirmPerson = `UPDATE people SET confirmed_at = coalesce(confirmed_at, now()) WHERE id = $1 AND address_hash IS NOT NULL
		RETURNING token_epoch, (SELECT confirmed_at IS NOT NULL FROM people WHERE id = $1)`

	// sqlLockFollow loads and locks a person's follow to confirm it.
	sqlLockFollow = `SELECT confirmed_at IS NOT NULL, ended_at IS NOT NULL FROM subscriptions WHERE id = $1 AND person_id = $2 FOR UPDATE`

	// sqlConfirmFollow activates a follow.
	sqlConfirmFollow = `UPDATE subscriptions SET confirmed_at = now() WHERE id = $1`

	// sqlResubscribePerson clears a person's stop of every mail: they
	// confirmed a follow since.
	sqlResubscribePerson = `UPDATE people SET unsubscribed_at = NULL WHERE id = $1`

	// sqlFollowActive tells whether a person's follow is confirmed and not ended.
	sqlFollowActive = `SELECT confirmed_at IS NOT NULL AND ended_at IS NULL FROM subscriptions WHERE id = $1 AND person_id = $2`

	// sqlDisplayName is a person's display name.
	sqlDisplayName = `SELECT display_name FROM people WHERE id = $1`

	// sqlEndFollowsFor ends a person's follows that sent them a new question:
	// those confirmed by the time its notification was made (later follows are
	// kept), returning what each was.
	sqlEndFollowsFor = `UPDATE subscriptions f SET ended_at = now()
		FROM posts q LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.id = $2 AND f.person_id = $1 AND f.ended_at IS NULL AND f.confirmed_at IS NOT NULL
			AND (f.scope = 'all' OR (f.scope = 'category' AND f.category_id = q.category_id))
			AND f.confirmed_at <= coalesce((SELECT max(n.created_at) FROM notifications n
				WHERE n.person_id = $1 AND n.post_id = q.id AND n.kind = 'new_question'), q.created_at)
		RETURNING f.scope, coalesce(c.name, '')`

	// sqlUnsubscribePerson stops every mail to a person (the first stop's time
	// is kept).
	sqlUnsubscribePerson = `UPDATE people SET unsubscribed_at = coalesce(unsubscribed_at, now()) WHERE id = $1`

	// sqlEndFollowsOfPerson ends every active follow of a person.
	sqlEndFollowsOfPerson = `UPDATE subscriptions SET ended_at = now() WHERE person_id = $1 AND ended_at IS NULL`

	// sqlMuteQuestion mutes one question for a person.
	sqlMuteQuestion = `INSERT INTO mutes (person_id, question_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`

	// sqlUnfollowCategory ends a person's follow of one category (by slug).
	sqlUnfollowCategory = `UPDATE subscriptions SET ended_at = now() WHERE person_id = $1 AND scope = 'category' AND ended_at IS NULL
		AND category_id = (SELECT id FROM categories WHERE slug = $2)`

	// forum.go:

	// sqlSetCommandConfirmations sets whether a person gets one-line
	// confirmations of their commands.
	sqlSetCommandConfirmations = `UPDATE people SET command_confirmations = $2 WHERE id = $1`

	// sqlIsModerator tells whether a person is a moderator.
	sqlIsModerator = `SELECT moderator FROM people WHERE id = $1`

	// sqlLockQuestionForSelect loads a question (locked) with the author of
	// one of its answers, for selecting a best answer.
	sqlLockQuestionForSelect = `SELECT q.author_id, a.author_id, q.best_answer_id, q.state FROM posts q JOIN posts a ON a.id = $2
		WHERE q.id = $1 FOR UPDATE OF q`

	// sqlUnselectAnswer clears a question's best answer, setting its state.
	sqlUnselectAnswer = `UPDATE posts SET best_answer_id = NULL, state = $2 WHERE id = $1`

	// sqlSelectAnswer sets a question's best answer and state.
	sqlSelectAnswer = `UPDATE posts SET best_answer_id = $2, state = $3 WHERE id = $1`

	// sqlWantsSelected tells whether a person wants (and may get) mail about their
	// answer selected as best.
	sqlWantsSelected = `SELECT notify_my_answers AND suppressed_at IS NULL AND unsubscribed_at IS NULL AND confirmed_at IS NOT NULL FROM people WHERE id = $1`

	// sqlPostAuthor is a post's author.
	sqlPostAuthor = `SELECT author_id FROM posts WHERE id = $1`

	// sqlVote records a person's vote on a post, replacing an earlier one.
	sqlVote = `INSERT INTO votes (post_id, person_id, value) VALUES ($1, $2, $3)
		ON CONFLICT (post_id, person_id) DO UPDATE SET value = EXCLUDED.value, created_at = now()`

	// sqlCountVotes recounts a post's votes.
	sqlCountVotes = `UPDATE posts SET votes = (SELECT coalesce(sum(value), 0) FROM votes WHERE post_id = $1) WHERE id = $1`

	// sqlLockPostForEdit loads and locks a post's author and body, for an
	// edit.
	sqlLockPostForEdit = `SELECT author_id, body FROM posts WHERE id = $1 FOR UPDATE`

	// sqlKeepEdit keeps a post's previous body in its edit history.
	sqlKeepEdit = `INSERT INTO post_edits (post_id, body, edited_by) VALUES ($1, $2, $3)`

	// sqlEditPost replaces a post's body.
	sqlEditPost = `UPDATE posts SET body = $2, edited_at = now() WHERE id = $1`

	// sqlLockQueuedPost loads and locks a post waiting for a moderator.
	sqlLockQueuedPost = `SELECT kind, state, author_id, coalesce(question_id, 0), coalesce(parent_id, 0), coalesce(category_id, 0)
		FROM posts WHERE id = $1 FOR UPDATE`

	// sqlApprovePost publishes a queued post.
	sqlApprovePost = `UPDATE posts SET state = 'visible' WHERE id = $1`

	// sqlHidePost hides a rejected post.
	sqlHidePost = `UPDATE posts SET state = 'hidden' WHERE id = $1`

	// sqlModerators is the moderators who can receive mail.
	sqlModerators = `SELECT id FROM people WHERE moderator AND address_enc IS NOT NULL AND suppressed_at IS NULL`

	// sqlAddCategory creates a category or renames an existing slug.
	sqlAddCategory = `INSERT INTO categories (slug, name) VALUES ($1, $2)
		ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id`

	// sqlCategories is every category, by slug.
	sqlCategories = `SELECT id, slug, name FROM categories ORDER BY slug`

	// sqlCategorySlugs is every category slug, in order.
	sqlCategorySlugs = `SELECT slug FROM categories ORDER BY slug`

	// sqlSetQuestionState closes or reopens a question (optionally as a
	// duplicate).
	sqlSetQuestionState = `UPDATE posts SET state = $2, duplicate_of = NULLIF($3, 0) WHERE id = $1 AND kind = 'question' AND state IN ('visible', 'closed')`

	// sqlModerationQueue is the posts waiting for a moderator, oldest first, with
	// their question's title and author's name.
	sqlModerationQueue = `SELECT p.id, p.kind, coalesce(p.question_id, p.id), coalesce(q.title, p.title), a.display_name, p.body
		FROM posts p JOIN people a ON a.id = p.author_id LEFT JOIN posts q ON q.id = p.question_id
		WHERE p.state = 'queued' ORDER BY p.id`

	// sqlSetModerator makes a person (by address hash) a moderator, confirming
	// them, or not.
	sqlSetModerator = `UPDATE people SET moderator = $2, confirmed_at = CASE WHEN $2 THEN coalesce(confirmed_at, now()) ELSE confirmed_at END
		WHERE address_hash = $1`

	// post.go:

	// sqlNextPostID reserves a post id, so that its forum Message-ID can be
	// written with the row.
	sqlNextPostID = `SELECT nextval(pg_get_serial_sequence('posts', 'id'))`

	// sqlInsertPost inserts a post.
	sqlInsertPost = `INSERT INTO posts (id, kind, question_id, parent_id, author_id, title, body, elided, category_id, message_id, client_msgid, state, tags)
		VALUES ($1, $2, NULLIF($3, 0), NULLIF($4, 0), $5, $6, $7, $8, NULLIF($9, 0), $10, $11, $12, $13)`

	// sqlIndexForumMessageID indexes a post's forum Message-ID.
	sqlIndexForumMessageID = `INSERT INTO message_ids (message_id, post_id, direction) VALUES ($1, $2, 'out')`

	// sqlIndexClientMessageID indexes the keyed hash of the client Message-ID
	// a post came with (the first post that claims one keeps it).
	sqlIndexClientMessageID = `INSERT INTO message_ids (message_id, post_id, direction, recipient_id) VALUES ($1, $2, 'in', $3)
			ON CONFLICT (message_id) DO NOTHING`

	// sqlPublishHeld publishes a person's held posts (or one of them: $2),
	// returning what notifying them needs.
	sqlPublishHeld = `UPDATE posts SET state = 'visible', created_at = now()
		WHERE author_id = $1 AND state = 'held' AND ($2::bigint = 0 OR id = $2)
		RETURNING id, kind, coalesce(question_id, 0), coalesce(parent_id, 0), coalesce(category_id, 0)`

	// sqlQueuePost queues a post for a moderator.
	sqlQueuePost = `UPDATE posts SET state = 'queued' WHERE id = $1`

	// sqlInsertNotifications inserts one notification row per recipient from
	// arrays (one of a person, post and kind only), returning those inserted.
	sqlInsertNotifications = `INSERT INTO notifications (person_id, post_id, kind, message_id, inbound_id, subscription_id, note)
		SELECT u.person, NULLIF($1, 0::bigint), u.kind, u.mid, NULLIF(u.inbound, 0), NULLIF(u.sub, 0), u.note
		FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[]) AS u(person, kind, mid, inbound, sub, note)
		ON CONFLICT (person_id, post_id, kind) DO NOTHING
		RETURNING id, person_id, kind, message_id`

	// sqlIndexNotificationMessageIDs indexes the Message-IDs of notifications
	// about a post, with their recipients, so replies to them find the post.
	sqlIndexNotificationMessageIDs = `INSERT INTO message_ids (message_id, post_id, direction, recipient_id)
			SELECT u.mid, $1, 'out', u.person FROM unnest($2::text[], $3::bigint[]) AS u(mid, person)`

	// attachments.go:

	// sqlInsertAttachment stores one attachment of a post.
	sqlInsertAttachment = `INSERT INTO attachments (post_id, filename, content_type, size, data, content_id, inline)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`

	// sqlQuestionAttachments is the attachments of a question's posts (the
	// question's too), by post, in message order.
	sqlQuestionAttachments = `SELECT a.post_id, a.id, a.filename, a.content_type, a.size, a.inline
		FROM attachments a JOIN posts p ON p.id = a.post_id
		WHERE p.id = $1 OR p.question_id = $1 ORDER BY a.post_id, a.id`

	// sqlDownloadAttachment is an attachment with its data, if its post is
	// visible or closed.
	sqlDownloadAttachment = `SELECT a.id, a.filename, a.content_type, a.size, a.inline, a.data
		FROM attachments a JOIN posts p ON p.id = a.post_id
		WHERE a.id = $1 AND p.state IN ('visible', 'closed')`

	// rates.go:

	// sqlCountRecentPosts counts a person's published and queued posts of some
	// kinds ($2) in the last hour.
	sqlCountRecentPosts = `SELECT count(*) FROM posts WHERE author_id = $1 AND kind = ANY($2) AND state IN ('visible', 'closed', 'queued')
		AND created_at > now() - interval '1 hour'`

	// postmaster.go:

	// sqlLoadSealedInbound loads an inbound message's sealed bytes, or
	// its chunk count when it is chunked.
	sqlLoadSealedInbound = `SELECT key_id, sealed, dedup_key, chunks FROM inbound WHERE id = $1`

	// Composed queries: the fragments below are constants too.

	// sqlFailInbound marks an accepted inbound row failed with a reason.
	sqlFailInbound = `UPDATE inbound SET state = 'failed', reason = $2, processed_at = now() WHERE id = $1 AND state = 'accepted'`

	// sqlModerationCheck: whether a person is a moderator, and their
	// points (pointsSQL).
	sqlModerationCheck = `SELECT moderator, ` + pointsSQL + ` FROM people a WHERE a.id = $1`

	// sqlFollowersOfNewQuestion: the people whose confirmed, active
	// follow (of the forum, or of the question's category $3) covers new
	// question $2 of author $1.
	sqlFollowersOfNewQuestion = sqlFollowersSelect + ` ORDER BY p.id`

	// sqlFollowersAfter: the first $5 of those followers whose person id
	// is above $4 (a fan-out's cursor, FanoutArgs).
	sqlFollowersAfter = sqlFollowersSelect + ` AND p.id > $4 ORDER BY p.id LIMIT $5`

	sqlFollowersSelect = `SELECT DISTINCT p.id FROM subscriptions s JOIN people p ON p.id = s.person_id
		WHERE s.confirmed_at IS NOT NULL AND s.ended_at IS NULL AND (s.scope = 'all' OR (s.scope = 'category' AND s.category_id = NULLIF($3, 0))) AND p.id <> $1` + sqlEligible

	// sqlAskerOfAnswered: the asker of question $2, when they want news
	// of their questions and are not the answer's author $1.
	sqlAskerOfAnswered = `SELECT p.id FROM posts q JOIN people p ON p.id = q.author_id
		WHERE q.id = $2 AND p.id <> $1 AND p.notify_my_questions` + sqlConfirmedOnly + sqlEligible

	// sqlCommentRecipients: for a comment by $1 on parent $3 of question
	// $2, the parent's author if they want news of their own questions
	// (or answers), and earlier commenters on the parent if they want
	// news after their comments.
	sqlCommentRecipients = `SELECT DISTINCT ON (p.id) p.id FROM posts c JOIN people p ON p.id = c.author_id
		WHERE (c.id = $3 OR (c.parent_id = $3 AND c.kind = 'comment')) AND p.id <> $1
		AND CASE WHEN c.id = $3 THEN (CASE c.kind WHEN 'question' THEN p.notify_my_questions ELSE p.notify_my_answers END)
			ELSE p.notify_after_my_comments END` + sqlConfirmedOnly + sqlEligible + ` ORDER BY p.id`

	// sqlIntakeCountBySender and sqlIntakeCountByIP count the messages of
	// the last hour from one envelope sender's hash, or one client IP,
	// to ask@ ($3 true: $2 is the ask@ pattern) or to other addresses.
	sqlIntakeCountBySender = `SELECT count(*) FROM inbound WHERE mail_from_hash = $1 AND received_at > now() - interval '1 hour' AND ` + sqlIntakeMatch
	sqlIntakeCountByIP     = `SELECT count(*) FROM inbound WHERE remote_ip = $1 AND received_at > now() - interval '1 hour' AND ` + sqlIntakeMatch
)

// Fragments of the composed queries above.
const (
	// sqlEligible filters people (p) who may receive mail about
	// question $2.
	sqlEligible = ` AND p.suppressed_at IS NULL AND p.unsubscribed_at IS NULL AND p.address_enc IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.person_id = p.id AND m.question_id = $2)`

	// sqlConfirmedOnly: mail about someone's own posts goes only to
	// people who confirmed their address (people imported from an
	// archive never did: they asked for nothing). Followers confirmed
	// their follow instead.
	sqlConfirmedOnly = ` AND p.confirmed_at IS NOT NULL`

	// sqlIntakeMatch matches inbound rows to ask@ or not ($2, $3); mail
	// to the postmaster (postmaster@, abuse@, "Postmaster") counts for no
	// limit.
	sqlIntakeMatch = `(EXISTS (SELECT 1 FROM unnest(rcpt) x WHERE x ILIKE $2) = $3)
		AND NOT EXISTS (SELECT 1 FROM unnest(rcpt) x WHERE lower(x) IN ('postmaster', '<postmaster>') OR x ILIKE 'postmaster@%' OR x ILIKE 'abuse@%')`

	// pointsSQL computes the points of the person joined as a (people a)
	// from what they did, so points are never out of step with posts,
	// votes and selections.
	pointsSQL = `(SELECT 100
	+ 2 * (SELECT count(*) FROM posts pts_q WHERE pts_q.author_id = a.id AND pts_q.kind = 'question' AND pts_q.state IN ('visible', 'closed'))
	+ 4 * (SELECT count(*) FROM posts pts_a WHERE pts_a.author_id = a.id AND pts_a.kind = 'answer' AND pts_a.state IN ('visible', 'closed'))
	+ 3 * (SELECT count(*) FROM posts pts_sq JOIN posts pts_sa ON pts_sa.id = pts_sq.best_answer_id
		WHERE pts_sq.author_id = a.id AND pts_sa.author_id <> a.id)
	+ 30 * (SELECT count(*) FROM posts pts_bq JOIN posts pts_ba ON pts_ba.id = pts_bq.best_answer_id
		WHERE pts_ba.author_id = a.id AND pts_bq.author_id <> a.id)
	+ coalesce((SELECT sum(CASE WHEN pts_vp.kind = 'question' THEN pts_v.value ELSE 2 * pts_v.value END)
		FROM votes pts_v JOIN posts pts_vp ON pts_vp.id = pts_v.post_id WHERE pts_vp.author_id = a.id), 0))`
)

// sqlSetNotifyPreference sets one of a person's Question2Answer mail
// preferences ($2) by the name CmdNotify gives it.
var sqlSetNotifyPreference = map[string]string{
	"questions": `UPDATE people SET notify_my_questions = $2 WHERE id = $1`,
	"answers":   `UPDATE people SET notify_my_answers = $2 WHERE id = $1`,
	"comments":  `UPDATE people SET notify_after_my_comments = $2 WHERE id = $1`,
}

// sqlOldestAvailable is, per queue of received mail and notifications,
// how long its oldest job has been due without a worker taking it
// (river_job's index on state, queue, priority, scheduled_at serves it).
const sqlOldestAvailable = `SELECT queue, extract(epoch FROM now() - min(scheduled_at))::float8
	FROM river_job WHERE state = 'available' AND queue = ANY($1) GROUP BY queue`

// Instances and their orphaned jobs (instances.go).
const (
	sqlHeartbeat = `INSERT INTO instances (river_id) VALUES ($1)
		ON CONFLICT (river_id) DO UPDATE SET heartbeat_at = now()`
	sqlRetireInstance = `DELETE FROM instances WHERE river_id = $1`
	// A job's last attempt is the last element of attempted_by; River's
	// own rescuer takes the jobs of ids never registered (an hour).
	sqlRescueOrphans = `UPDATE river_job j SET
			state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::river_job_state ELSE 'available'::river_job_state END,
			finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
			scheduled_at = now()
		FROM instances i
		WHERE j.state = 'running' AND j.queue = ANY($2)
			AND i.river_id = j.attempted_by[cardinality(j.attempted_by)]
			AND i.heartbeat_at < now() - make_interval(secs => $1)`
	sqlForgetInstances = `DELETE FROM instances WHERE heartbeat_at < now() - interval '1 day'`
)
