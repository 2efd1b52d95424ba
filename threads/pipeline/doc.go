// Package pipeline processes inbound mail: it reads one accepted message
// (mailin/parse, classify, trim, htmltext, auth, attach), decides what it
// becomes with pure functions (Screen, Proven, Decide), renders every
// sentence it records or sends (templates), and applies the decision
// through the store's transaction API (threads.Tx): a post, a command, a
// stop, a bounce count, or an ignored or failed row with a reason. It
// imports threads; threads imports nothing of it.
//
// The River worker for postern.process (ProcessWorker) runs Process for
// one message. A job that keeps failing is retried with River's backoff;
// its last failure marks the message failed, except while the database
// is unreachable (then the job is snoozed).
//
// The walk of one message, forward through the files: worker.go
// (ProcessWorker.Work) → process.go (ProcessInbound: memory budget,
// threads.Store.InboundTx locks and opens the row) → message.go (parse,
// recipients, screen facts) → decide.go (Screen) → postmaster.go or
// bounce.go, or evidence.go (authenticate, Proven) → facts.go (loadFacts,
// attachments.go) → decide.go (Decide) → apply.go (commands.go for a
// command, trust.go for confirmations and follows, stops.go for stops)
// → threads.Tx.MarkInbound.
package pipeline
