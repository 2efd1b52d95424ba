package templates

import "strings"

// The signed-in side of the web pages: the sign-in form, a member's
// settings, the edit form, and the member's actions on a question page
// (votes, the best answer, edit links). The rules behind them are the
// forum's (threads), the same as by email.

// SignInPage is the data of page/signin.html.tmpl: the form asking for
// the address to mail a sign-in link to.
type SignInPage struct {
	Action, Token, Address string
	Errors                 []string
	MaxAddress             int
}

// SignInSentPage is the page after a sign-in request. It says the same
// whether or not the address is a member's: the page never tells who is
// a member. subscribe is the forum's subscribe address.
func SignInSentPage(subscribe string) MessagePage {
	return MessagePage{Title: "Check your email",
		Message: "If this address belongs to a member of the forum who receives its emails, a sign-in link is on its way to it. " +
			"The link works once, for 30 minutes.\n\n" +
			"If no email arrives within a few minutes, look in your spam folder. Addresses that have stopped all emails from the forum are sent nothing: " +
			"write to " + subscribe + " to receive emails again (you then also receive the forum's new questions)."}
}

// SignInLinkPage is the page of a mailed sign-in link: a button (a GET
// never signs in: mail scanners open links).
func SignInLinkPage(action string) MessagePage {
	return MessagePage{Title: "Sign in", Message: "Press the button to sign in in this browser.", ConfirmAction: action, ConfirmLabel: "Sign in"}
}

// Sign-in form problems.
const (
	SignInNeedAddress = "Please give the email address you use with the forum."
	SignInLimited     = "Too many sign-in requests from your network in the last hour. Please try again later."
	SignInTryAgain    = "We could not send a sign-in link just now. Please try again in a minute."
)

// SettingsPage is the data of page/settings.html.tmpl: a signed-in
// member's notification settings and the sign-out buttons.
type SettingsPage struct {
	Name, Action, Token             string
	SignOutAction, EverywhereAction string
	MyQuestions, MyAnswers          bool
	AfterMyComments, Confirmations  bool
	// Saved says the settings were just saved.
	Saved bool
}

// EditPage is the data of page/edit.html.tmpl: a member's own post in a
// form.
type EditPage struct {
	Action, Token, Body string
	// Back is the post's place on its question's page; Title the
	// question's title.
	Back, Title string
	Errors      []string
	MaxBody     int
}

// Edit problems.
const (
	EditEmpty = "Please write your text: an edit cannot leave a post empty."
)

// VoteView is a post's vote count and, for a signed-in member who may
// vote on it, the action of the vote form (Action "" shows the count
// only).
type VoteView struct {
	Count         int
	Action, Token string
}

// RefusedPage is the page of a signed-in action the forum refused, with
// the reason its email command's refusal gives (a sentence's end, as
// mails word it).
func RefusedPage(reason string) MessagePage {
	if reason != "" {
		r := []rune(reason)
		reason = strings.ToUpper(string(r[0])) + string(r[1:]) + "."
	}
	return MessagePage{Title: "Not done", Message: reason}
}
