package smtp

// SizeRefusedSession is an add-on interface for Session (a Postern
// patch): a session that implements it is told when MAIL FROM declares
// a SIZE over Server.MaxMessageBytes, just before the server answers
// 552 5.3.4 without calling Mail, so that it can log and count the
// refusal.
type SizeRefusedSession interface {
	Session

	// SizeRefused is called with the declared size and the limit.
	SizeRefused(declared, limit int64)
}
