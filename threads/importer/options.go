package importer

import "runtime"

// Options configures Mbox. The zero value takes the defaults.
type Options struct {
	// Category is the slug of the category imported questions go into;
	// "" leaves them where their subject's "[slug]" puts them, as for
	// mail to ask@ (nowhere, usually). The category must exist.
	Category string
	// BatchSize is the most messages committed in one transaction.
	// Default 1000.
	BatchSize int
	// Workers is the number of messages parsed at once. Default
	// GOMAXPROCS.
	Workers int
	// CacheSize bounds the Message-IDs (and, separately, the people)
	// remembered between batches, which saves looking them up again.
	// Default 32768.
	CacheSize int
	// Progress, when set, is called after each committed batch, on the
	// goroutine that called Mbox, with the counts so far; its argument
	// (and the Skipped map in it) must not be kept.
	Progress func(Stats)
}

// Stats counts what an import did.
type Stats struct {
	// Read is the number of messages read from the mailbox, whatever
	// became of them.
	Read int64
	// Imported is the number of posts created: Questions + Answers +
	// Comments.
	Imported, Questions, Answers, Comments int64
	// Reparented is the number of questions that became replies at the
	// end, their parent having come later in the mailbox (or in a later
	// import). Threads = Questions - Reparented.
	Reparented int64
	// Moved is the number of replies placed under a nearer parent at the
	// end, that parent having come later.
	Moved int64
	// Redacted is the number of posts in which, at the end, addresses of
	// senders met only later in the mailbox were removed.
	Redacted int64
	// Duplicates is the number of messages already imported (their
	// Message-ID is indexed) or repeated in the mailbox.
	Duplicates int64
	// Skipped counts the messages not imported, by reason.
	Skipped map[string]int64
	// People is the number of people created (unconfirmed).
	People int64
	// Bytes is how far into the mailbox the committed messages reach.
	Bytes int64
	// Garbage is the number of bytes before the first From_ line.
	Garbage int64
}

// Threads is the number of questions the import leaves.
func (st Stats) Threads() int64 { return st.Questions - st.Reparented }

// SkippedTotal is the number of messages skipped, for any reason.
func (st Stats) SkippedTotal() int64 {
	var n int64
	for _, c := range st.Skipped {
		n += c
	}
	return n
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 32768
	}
	return o
}

// Reasons an imported message is skipped (the keys of Stats.Skipped).
const (
	skipOversize    = "larger than the message size limit"
	skipUnparseable = "unparseable message"
	skipBounce      = "delivery report (bounce)"
	skipAutoReply   = "automatic reply (Auto-Submitted)"
	skipNoFrom      = "no sender address in From"
	skipMalformed   = "malformed From header"
	skipOwnDomain   = "From is one of the forum's own addresses"
	skipEmptyQ      = "no subject and no text"
	skipEmptyReply  = "empty reply once the quote is removed (its replies thread under its parent)"
	skipClosed      = "reply to a closed question"
	skipQueued      = "reply to a post waiting for a moderator"
)

// batchBytes bounds the mailbox bytes of one batch; three batches' worth
// may be read ahead of the commits.
const batchBytes = 8 << 20
