package templates

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// The web forms: the answer form under a question and the ask form. What
// a form may hold is written here once, for both the form's maxlength
// attributes and the server's checks (package web).
const (
	// MaxFormTitle is the longest question title, in characters.
	MaxFormTitle = 200
	// MaxFormBody is the longest text of a question or an answer, in
	// characters.
	MaxFormBody = 20000
	// MaxFormName is the longest display name (threads keeps 80).
	MaxFormName = 80
	// MaxFormTags is the longest tags field, in characters (threads keeps
	// at most 5 tags).
	MaxFormTags = 100
	// MaxFormAddress is the longest address (RFC 5321's path limit).
	MaxFormAddress = 254
)

// PostForm is a web form's data: its action and anti-forgery token, what
// the person typed (kept when the form is shown again with errors), and
// the errors, each a sentence naming the field.
type PostForm struct {
	Action, Token string
	// Ask says this is the ask form (title, category, tags) rather than
	// the answer form.
	Ask bool
	// Guests says a post without an address is published (as a guest);
	// otherwise the address is required.
	Guests bool
	// SignedIn says a member is signed in (as Member, a display name):
	// the form posts as them, with no name or address fields.
	SignedIn bool
	Member   string

	Title, Body, Name, Address, Tags, Category string
	// Notify is the "Email me" box; a fresh form has it ticked.
	Notify bool
	// Categories are the ask form's choices.
	Categories []CategoryLink
	Errors     []string
}

// FormLimits is the data the form template takes its limits from.
type FormLimits struct{ Title, Body, Name, Tags, Address int }

// Limits returns the form limits.
func (PostForm) Limits() FormLimits {
	return FormLimits{MaxFormTitle, MaxFormBody, MaxFormName, MaxFormTags, MaxFormAddress}
}

// AskPage is the data of page/ask.html.tmpl.
type AskPage struct {
	Form PostForm
}

// FormProblem names what is wrong with a submitted form.
type FormProblem int

// The problems of a submitted form.
const (
	FormTooLong FormProblem = iota + 1
	FormMissingBody
	FormMissingTitle
	FormNeedAddress
	FormBadAddress
	FormUnknownCategory
	FormClosed
	FormExpired
	FormRateLimited
	FormTryAgain
)

// FormError is the sentence for problem p with field (a field's label,
// for FormTooLong; "" otherwise) and max (FormTooLong's limit).
func FormError(p FormProblem, field string, max int) string {
	switch p {
	case FormTooLong:
		return fmt.Sprintf("%s is too long: at most %d characters.", field, max)
	case FormMissingBody:
		return "Please write your text."
	case FormMissingTitle:
		return "Please give your question a title."
	case FormNeedAddress:
		return "Please give your email address: posts are published once you confirm it by email."
	case FormBadAddress:
		return "That email address does not look right: please check it."
	case FormUnknownCategory:
		return "Please choose one of the categories listed."
	case FormClosed:
		return "This question is closed: it takes no new answers."
	case FormExpired:
		return "This form had expired or did not come from this forum's page. Nothing was posted: please send it again."
	case FormRateLimited:
		return "Too many posts from your network in the last hour. Nothing was posted: please try again later."
	case FormTryAgain:
		return "Your post could not be saved just now. Nothing was posted: please try again in a minute."
	}
	return "The form could not be read."
}

// TooLong reports whether s has more than max characters.
func TooLong(s string, max int) bool { return utf8.RuneCountInString(s) > max }

// WebPostedPage is the page after a web post with an address: nothing is
// public until its owner confirms by email.
// heldFor is how long it waits for that.
func WebPostedPage(question bool, heldFor time.Duration) MessagePage {
	what := "answer"
	if question {
		what = "question"
	}
	return MessagePage{Title: "Check your email",
		Message: "Thank you. We have sent a confirmation link to the address you gave. Your " + what +
			" is published when you open it or reply to that email; until then nothing is shown and nothing else is sent to that address.\n\n" +
			"If no email arrives within a few minutes, look in your spam folder. An unconfirmed post is discarded after " + roughDuration(heldFor) + "."}
}

// WebPostedMemberPage is the page after a signed-in member's web post:
// it is published under their name (the session shows it is theirs).
func WebPostedMemberPage(question bool, page string) MessagePage {
	what := "answer"
	if question {
		what = "question"
	}
	return MessagePage{Title: "Thank you", Message: "Your " + what + " is posted under your name: it appears on the forum's pages within a few seconds. " +
		"News of it reaches you by email, as your settings say. If it cannot be published (a limit, or a moderator's review first), we tell you by email.",
		LinkURL: page, LinkText: "Back to the question"}
}

// GuestPostedPage is the page after a guest's web post: published (or
// waiting for a moderator), with a link back to page.
func GuestPostedPage(question, queued bool, page string) MessagePage {
	what := "answer"
	if question {
		what = "question"
	}
	msg := "Your " + what + " is published as a guest's: it appears on the forum's pages within a few seconds. Without an address, no email reaches you about it; come back to this page to read the replies."
	if queued {
		msg = "Your " + what + " waits for a moderator: it is published once one approves it. Without an address, no email reaches you about it."
	}
	return MessagePage{Title: "Thank you", Message: msg, LinkURL: page, LinkText: "Back"}
}

// roughDuration says d in whole days, or hours under two days.
func roughDuration(d time.Duration) string {
	if h := int(d.Hours()); h < 48 {
		if h <= 1 {
			return "an hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
	return fmt.Sprintf("%d days", int(d.Hours())/24)
}
