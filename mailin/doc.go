// Package mailin receives mail: the SMTP and LMTP server (go-smtp) that
// checks each recipient against the forum's address scheme and durably
// hands each accepted message to the intake port (threads/intake.go).
//
// Its subpackages hold the pure, table-tested steps that follow intake:
// parse (defensive MIME parsing), htmltext (HTML to readable text), trim
// (quoted-reply trimming) and classify (automatic mail and bounces).
//
// Contract: the server answers 250 to DATA only after the intake's
// transaction has committed; when the database is unreachable or slow it
// answers 451 4.3.0 and keeps running. Replies never contain an address,
// and log lines name senders only by a short keyed hash.
package mailin
