// Package pipeline processes inbound mail: the River worker for
// postern.process (ProcessWorker) takes one accepted message and has the
// store turn it into a post, a command, a stop, a bounce count, or an
// ignored or failed row with a reason. A job that keeps failing is retried
// with River's backoff; its last failure marks the message failed, except
// while the database is unreachable (then the job is snoozed).
//
// The walk of one message: worker.go (ProcessWorker.Work) →
// threads.Store.ProcessInbound, which screens it (threads/decide.go
// Screen), finds the sender and the evidence, loads the facts
// (threads/facts.go), decides (threads/decide.go Decide, a pure function)
// and applies the action (threads/apply.go).
package pipeline
