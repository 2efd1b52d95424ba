// Package mailin receives mail: the SMTP and LMTP server (go-smtp) that
// checks each recipient against the forum's address scheme and durably
// hands each accepted message to its Intake: the intake port of package
// threads (threads/intake.go) in `postern serve`.
//
// Its subpackages hold the pure, table-tested steps that read a message
// once it is stored: parse (defensive MIME parsing), htmltext (HTML to
// readable text), trim (quoted-reply trimming), classify (automatic mail
// and bounces), auth (DKIM, SPF and DMARC results) and mbox (reading
// mailbox archives for the importer).
//
// Contract: the server answers 250 to DATA only after the intake's
// transaction has committed; when the database is unreachable or slow it
// answers 451 4.3.0 and keeps running. Replies and log lines never
// contain an address: a log line names a message by its connection id,
// inbound id and size, and a refused recipient by its reason (a revoked
// token also by the person's numeric id).
package mailin
