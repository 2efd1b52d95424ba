package pipeline

import (
	"strings"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/htmltext"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/mailin/trim"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// The reading of one inbound message before anyone is looked up: what
// Screen is given (screenMessage), who it is addressed to (recipients),
// the sender's own text (ExtractBody).

// screenMessage fills the ScreenFacts read from parsed message m, sent by
// envelope sender mailFrom to rcpts.
func screenMessage(sf *ScreenFacts, m *parse.Message, mailFrom string, rcpts rcptSet) {
	verdict := classify.Classify(m, mailFrom, sf.Domain)
	sf.Bounce = verdict.Kind == classify.Bounce || rcpts.bounce != nil
	if verdict.Kind == classify.Auto {
		sf.AutoReason = verdict.Reason
	}
	if m.HasFrom && strings.Contains(m.From.Addr, "@") {
		sf.From = threads.NormalizeAddress(m.From.Addr)
		sf.MalformedFrom = malformedFrom(m)
	}
}

// rcptSet is the forum recipients of one message, by kind.
type rcptSet struct {
	confirm     *threads.TokenRef
	ask         bool
	category    string
	notify      bool
	subscribe   bool
	subSlug     string // subscribe+SLUG: one category
	unsubSlug   string // unsubscribe+SLUG: stop following one category
	help        bool
	reply       *threads.TokenRef
	bounce      *threads.TokenRef
	unsubscribe *threads.TokenRef
}

// recipients sorts rcpt, the envelope recipients, by the forum address
// each is (addrs.Parse); others are left out.
func recipients(addrs *threads.Addresses, rcpt []string) rcptSet {
	var rs rcptSet
	for _, a := range rcpt {
		r, err := addrs.Parse(a)
		if err != nil {
			continue
		}
		ref := &threads.TokenRef{Purpose: r.Token.Purpose, Subject: r.Token.Subject, Person: r.Token.Person, Epoch: r.Token.Epoch, Present: r.Detail != ""}
		switch r.Kind {
		case threads.RcptAsk:
			rs.ask, rs.category = true, r.Detail
		case threads.RcptNotify:
			rs.notify = true
		case threads.RcptSubscribe:
			rs.subscribe, rs.subSlug = true, r.Detail
		case threads.RcptHelp:
			rs.help = true
		case threads.RcptModerate:
			rs.notify = true
		case threads.RcptReply:
			if rs.reply == nil {
				rs.reply = ref
			}
		case threads.RcptBounce:
			rs.bounce = ref
		case threads.RcptUnsubscribe:
			rs.unsubscribe = ref
			if r.Token.Purpose == 0 && r.Detail != "" {
				ref.Present, rs.unsubSlug = false, r.Detail
			}
		case threads.RcptConfirm:
			rs.confirm = ref
		}
	}
	return rs
}

// trimOptions are the trimming options for replies: Postern's own reply
// marker starts the quoted part. (Sent, the plain text of notifications
// sent to this person in the thread, is left empty: the quote rules and
// the marker cover the clients seen so far.)
var trimOptions = trim.Options{Markers: []string{templates.ReplyMarker}}

// ExtractBody returns the person's own text of m and the trimmed-away rest:
// the text/plain part when there is one, otherwise the HTML part with its
// quote containers removed and converted to text. Text from Postern's
// reply marker on is trimmed away.
func ExtractBody(m *parse.Message) (body, elided string) {
	if strings.TrimSpace(m.Text) != "" {
		r := trim.Text(m.Text, trimOptions)
		return r.Text, r.Elided
	}
	if strings.TrimSpace(m.HTML) == "" {
		return "", ""
	}
	kept, removed := trim.HTML(m.HTML)
	r := trim.Text(htmltext.Convert(kept), trimOptions)
	el := r.Elided
	if removed != "" {
		if el != "" {
			el += "\n\n"
		}
		el += htmltext.Convert(removed)
	}
	return r.Text, el
}

// MalformedFrom reports whether m's From header is one live mail drops
// (see malformedFrom); the archive importer drops such mail too.
func MalformedFrom(m *parse.Message) bool { return malformedFrom(m) }

// malformedFrom reports a From header whose address could only be
// recovered heuristically and whose display name holds characters no
// client puts there unquoted ("Name [NOTE] <addr>"): such mail is dropped,
// as its sender cannot be trusted. A display name with an unquoted comma or
// apostrophe ("'Doe, John' via List <addr>") is common and accepted.
func malformedFrom(m *parse.Message) bool {
	raw := m.Header.Get("From")
	lt := strings.LastIndexByte(raw, '<')
	if lt < 0 {
		return false
	}
	name := raw[:lt]
	if strings.Count(name, `"`) >= 2 {
		return false
	}
	return strings.ContainsAny(name, "[]<>;:\\")
}
