package mailkind

// Stopped is what a stop (an unsubscribe) ended: the store returns it
// (threads.Stop), and the Unsubscribed mail and the page answering the stop
// say exactly that (templates.StopText). At most one of Everything,
// Question and Follow is set.
type Stopped struct {
	// Everything: every email of the forum stopped, every follow ended.
	Everything bool
	// Question: one question muted.
	Question bool
	// Follow: the stop of a new-question mail's follows. Forum and
	// Categories say which follows it ended (none: they had ended).
	Follow     bool
	Forum      bool
	Categories []string // names of the category follows it ended
}
