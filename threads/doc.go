// Package threads is the forum model and its PostgreSQL store: questions,
// answers, comments, votes, people, subscriptions, the schema migrations,
// the durable intake of raw mail (the intake port, intake.go and
// groupcommit.go; the IMAP cursor, imapcursor.go), the notifications to send (dispatch.go) and privacy.
// It reads no mail and renders no sentence: it imports neither mailin/*
// nor templates.
//
// Processing (threads/pipeline) drives the store through Tx (tx.go,
// txactions.go, lookups.go, trusttx.go): InboundTx locks one inbound message in a
// transaction; each Tx method is one step of the pipeline's decision
// (look up the thread, insert the post with its Message-ID rows,
// notification rows and "notify" jobs, run a command, count a bounce),
// and MarkInbound records the outcome in the same transaction. Reasons
// and notes are passed in rendered; the store returns data and codes
// (Refusal, Stop) for the pipeline to word.
//
// Privacy: addresses are stored only sealed (AES-GCM, see Keys) and looked
// up by a keyed hash; nothing in this package logs an address.
package threads
