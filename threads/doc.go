// Package threads decides and stores: the forum model (questions, answers,
// comments, votes, people, subscriptions) and its PostgreSQL store, the
// schema migrations, the durable intake of raw mail, and the processing
// that turns a stored message into a post and its notification jobs.
//
// The flow of one message (see docs/ARCHITECTURE.md):
//
//	Accept:  one transaction inserts the raw message and its "process" job;
//	         the SMTP server answers 250 only after it commits.
//	Process: the River worker (threads/pipeline) has ProcessInbound
//	         read the message (message.go), Screen it, load the facts
//	         (facts.go), Decide (decide.go, pure) and apply the action
//	         (apply.go): one transaction inserts the post, its
//	         Message-ID index rows, its notification rows and their
//	         "notify" jobs, and marks the inbound row processed.
//
// Privacy: addresses are stored only sealed (AES-GCM, see Keys) and looked
// up by a keyed hash; nothing in this package logs an address.
package threads
