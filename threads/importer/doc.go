// Package importer imports a mailing-list archive into the forum: every
// message of an mbox (read by mailin/mbox) becomes a post of the
// threads.Store it is given, threaded as JWZ's algorithm does (see
// docs/ARCHITECTURE.md, "Importing an archive").
//
// What it reads: the mailbox, as a stream, and of the database the
// categories, the Message-ID index, the people (by address hash) and its
// own bookkeeping tables (import_pending, import_subjects,
// import_subject_joined, import_addresses).
//
// What it writes: messages are parsed, trimmed and redacted in parallel by
// the functions live mail goes through, then committed in mailbox order,
// one transaction per batch (Options.BatchSize messages, fewer once they
// reach 8 MiB of mail): the batch's new people (unconfirmed, addresses sealed), its posts,
// their message_ids rows, attachments and bookkeeping rows, all or nothing.
// After the last batch, posts whose nearer parent was imported after them
// move under it, and addresses of senders met only later are redacted
// (each in transactions of its own). Nobody is notified and no job is
// queued; posts are visible and dated by their Date header.
//
// Re-import: a message whose Message-ID is already indexed (imported or
// received live) is counted as a duplicate and not stored again, so an
// interrupted import is finished by running it again, and a later archive
// file threads into the earlier one's threads. A batch colliding with a
// Message-ID stored meanwhile by live mail is tried again.
//
// Privacy: addresses are stored only sealed and hashed (threads.Keys),
// client Message-IDs only sealed and keyed-hashed, as for live mail; known
// people's addresses are redacted from the texts; no address is logged or
// put in an error.
package importer
