package templates

import "fmt"

// Notice is a page of one title and one message (page/message.html.tmpl)
// that answers a web request: an error, or what a link did. Package web
// chooses the notice and the HTTP status; the sentences are here, so that
// every text a person reads is in this package. Every notice page ends
// with the privacy line, as every page does.
type Notice int

// The notices.
const (
	// NoticeNotFound: no page at this address (a route nothing serves, a
	// question not shown, an attachment of a post not shown).
	NoticeNotFound Notice = iota + 1
	// NoticeMethodNotAllowed: the address exists, not for this method.
	NoticeMethodNotAllowed
	// NoticeBadRequest: a form that could not be read.
	NoticeBadRequest
	// NoticeBadUnsubscribe: an unsubscribe link that does not verify.
	NoticeBadUnsubscribe
	// NoticeBadConfirm: a confirmation link that does not verify.
	NoticeBadConfirm
	// NoticeTryAgainUnsubscribe: an unsubscribe not recorded (database).
	NoticeTryAgainUnsubscribe
	// NoticeTryAgainConfirm: a confirmation not recorded (database).
	NoticeTryAgainConfirm
	// NoticeTryAgainFollow: a follow's state not read (database).
	NoticeTryAgainFollow
	// NoticeTryAgainRead: a page or file not read (database).
	NoticeTryAgainRead
	// NoticeInternalError: a page that could not be rendered.
	NoticeInternalError
	// NoticeConfirmed: an address confirmed, nothing was held.
	NoticeConfirmed
	// NoticeConfirmedPublished: an address confirmed and its held
	// message published.
	NoticeConfirmedPublished
	// NoticeFollowConfirmed: a follow started (a welcome mail follows).
	NoticeFollowConfirmed
	// NoticeFollowEnded: a follow's old confirmation link after the
	// follow was stopped: it does not start again.
	NoticeFollowEnded
	// NoticeBadSignIn: a sign-in link that does not verify, has expired
	// or was used.
	NoticeBadSignIn
	// NoticeSignedOut: the browser's session ended.
	NoticeSignedOut
	// NoticeSignedOutEverywhere: every session of the member ended.
	NoticeSignedOutEverywhere
	// NoticeSignInFirst: an action for signed-in members only.
	NoticeSignInFirst
	// NoticeTryAgainAction: a signed-in action not recorded (database).
	NoticeTryAgainAction
	// NoticeFormExpired: a signed-in action's form that had expired or
	// did not come from the forum's page.
	NoticeFormExpired
	// NoticeTooManyGuesses: a link from a network that tried too many
	// links that do not verify.
	NoticeTooManyGuesses
)

// noticeText is each notice's title and message.
var noticeText = map[Notice][2]string{
	NoticeNotFound:            {"Page not found", "There is no page here. The question may have been removed, or is not published yet."},
	NoticeMethodNotAllowed:    {"Not allowed", "This page cannot be used that way."},
	NoticeBadRequest:          {"Bad request", "The request could not be read."},
	NoticeBadUnsubscribe:      {"Link not valid", "This unsubscribe link is invalid or has expired. Reply \"unsubscribe\" to any notification instead."},
	NoticeBadConfirm:          {"Link not valid", "This confirmation link is invalid or has expired."},
	NoticeTryAgainUnsubscribe: {"Please try again", "We could not record your request just now. Please try again in a minute."},
	NoticeTryAgainConfirm:     {"Please try again", "We could not record your confirmation just now. Please try again in a minute."},
	NoticeTryAgainFollow:      {"Please try again", "We could not read your follow just now. Please try again in a minute."},
	NoticeTryAgainRead:        {"Please try again", "This page could not be loaded just now. Please try again in a minute."},
	NoticeInternalError:       {"Something went wrong", "This page could not be shown. Please try again later."},
	NoticeConfirmed:           {"Confirmed", "Your address is confirmed."},
	NoticeConfirmedPublished:  {"Confirmed", "Your address is confirmed and your message is published."},
	NoticeFollowConfirmed:     {"Confirmed", "Your follow is confirmed: new questions will arrive by email. A welcome email says what comes and how to stop it."},
	NoticeBadSignIn:           {"Link not valid", "This sign-in link is invalid, has expired or was used already: each link works once, for 30 minutes. Ask for a new one on the sign-in page."},
	NoticeSignedOut:           {"Signed out", "You are signed out in this browser."},
	NoticeSignedOutEverywhere: {"Signed out everywhere", "You are signed out in every browser. The links and reply addresses in the emails you were sent before now no longer work; the emails you are sent from now on carry new ones."},
	NoticeSignInFirst:         {"Please sign in", "Only signed-in members can do this. Sign in with the link we email you, or reply to a notification by email instead."},
	NoticeTryAgainAction:      {"Please try again", "We could not record this just now. Nothing was changed: please try again in a minute."},
	NoticeFormExpired:         {"Please try again", "This form had expired or did not come from this forum's page. Nothing was changed: please go back, reload the page and try again."},
	NoticeTooManyGuesses:      {"Too many invalid links", "Too many links that do not work were opened from your network in the last hour. Please try again later, or reply to the email instead."},
	NoticeFollowEnded:         {"Follow ended", "You stopped these emails after asking for them, so this old link does not start them again. To follow again, write to the forum's subscribe address again."},
}

// Notices returns every notice, in order.
func Notices() []Notice {
	out := make([]Notice, 0, len(noticeText))
	for n := NoticeNotFound; n <= NoticeTooManyGuesses; n++ {
		out = append(out, n)
	}
	return out
}

// NoticePage is the page of notice n.
func NoticePage(n Notice) MessagePage {
	t, ok := noticeText[n]
	if !ok {
		t = noticeText[NoticeInternalError]
	}
	return MessagePage{Title: t[0], Message: t[1]}
}

// StopForm is the page of an unsubscribe link's GET: it changes nothing
// and offers the buttons that post to action. The first button stops what
// the link names: the question, or (stopsFollows) the follows that sent a
// new question; a link naming everything (stopsAll, the welcome mail's)
// gets only the "everything" button.
func StopForm(action string, stopsFollows, stopsAll bool) MessagePage {
	p := MessagePage{Title: "Stop these emails?", FormAction: action, StopsFollows: stopsFollows, StopsAll: stopsAll,
		Message: "Choose whether to stop emails about this question only, or all emails from this forum."}
	switch {
	case stopsAll:
		p.Message = "Press the button to stop all emails from this forum: new questions, and answers and comments on your posts."
	case stopsFollows:
		p.Message = "Choose whether to stop the emails about new questions that you follow (this one came from them), or all emails from this forum."
	}
	return p
}

// Stopped is the page answering an unsubscribe: exactly what stopped.
func Stopped(st Stop) MessagePage { return MessagePage{Title: "Unsubscribed", Message: StopText(st)} }

// ConfirmForm is the page of a confirmation link's GET: it confirms
// nothing and offers the button that posts to action; follow says the
// link confirms a follow rather than an address.
func ConfirmForm(action string, follow bool) MessagePage {
	msg := "Press the button to confirm that you wrote to the forum. Your held message is then published."
	if follow {
		msg = "Press the button to confirm that you want to receive new questions by email."
	}
	return MessagePage{Title: "Confirm your address", Message: msg, ConfirmAction: action}
}

// HumanSize formats a byte count for people in decimal units, as file
// managers and mail clients show them ("1.5 MB" is 1,500,000 bytes,
// "12 KB", "300 bytes").
func HumanSize(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%d KB", n/1_000)
	}
	return fmt.Sprintf("%d bytes", n)
}
