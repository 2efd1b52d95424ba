// Package imap reads the forum's mail from mailboxes over IMAP (go-imap
// v2's client), for a forum whose mail a provider receives: the
// mailboxes of POSTERN_IMAP_URL (package imapurl parses them).
//
// For each mailbox a Receiver connects (TLS, or STARTTLS; a password is
// sent in plain text only to a loopback address), selects the folder,
// fetches every message above the mailbox's cursor (UID FETCH
// BODY.PEEK[]) and hands them to the store in batches (threads.Store
// TakeIMAP: the messages and the cursor past them in one transaction).
// Only after that commit does it move them to the done folder (MOVE, or
// COPY, STORE \Deleted and UID EXPUNGE) or flag them \Seen. Then it waits
// for more: IDLE where the server offers it (ended and re-issued every
// IdleRefresh, well before the 29 minutes RFC 2177 allows, and so a
// keep-alive), else a poll every ?poll= interval. A lost connection is
// reopened with exponential backoff. Receiver.Ready (in /readyz, through
// threads.Store.AddReadyCheck) fails while a mailbox has had no working
// session for NotReadyAfter, logged once per outage. Check is `postern
// imap check`: it logs in and EXAMINEs, changing nothing.
//
// Contract: exactly once. A message is stored once whatever stops the
// receiver (a crash, a dropped connection, a UIDVALIDITY change: see
// threads/imapcursor.go); a crash between the commit and the move only
// leaves a stored message in the folder, moved on the next pass. A
// message with no recipient of the forum's domain, or over the size
// limit, is not stored: the cursor moves past it and it stays in the
// folder with the keyword $PosternFailed. Log lines name a mailbox by
// its server and folder (imapurl.Mailbox.Label), never its user,
// password or an address.
package imap
