package templates

// PostmasterForward is the text of the forward of a message received for
// postmaster@ or abuse@ to the operators' address: the message itself is
// attached unchanged; this says what it is.
type PostmasterForward struct {
	Domain    string // the forum's mail domain
	InboundID string // the inbound row the message is, for `postern inbound list`
}

// FromName is the display name of the forward's From field.
func (PostmasterForward) FromName() string { return "Postern postmaster mail" }

// Subject is the forward's subject.
func (f PostmasterForward) Subject() string {
	return "Mail for the postmaster of " + f.Domain + " (inbound " + f.InboundID + ")"
}

// Note is the forward's text part, lines ending in CRLF.
func (f PostmasterForward) Note() string {
	return "A message to the postmaster or abuse address of " + f.Domain + " arrived (inbound " + f.InboundID + ",\r\n" +
		"see `postern inbound list`). It is attached as received. It was not posted\r\n" +
		"and its sender got no automatic reply.\r\n"
}
