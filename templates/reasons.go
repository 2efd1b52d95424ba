package templates

import (
	"fmt"
	"strings"
)

// Refusals: why a message was not posted, or a command not carried out,
// as its sender reads it in the "rejected" mail (lower case, no final
// stop: the mail frames the sentence). None names another person's
// address.
const (
	RefuseRevokedToken  = "the reply address you used has been revoked; reply to a newer notification"
	RefuseTargetGone    = "the post you replied to no longer exists"
	RefuseTargetQueued  = "the post you replied to is waiting for a moderator"
	RefuseEmptyQuestion = "your message had no subject and no text"
	RefuseEmptyReply    = "nothing was left of your reply after removing the quoted text; write your answer above the quoted message"
	RefuseClosed        = "the question is closed and takes no more answers or comments"

	RefuseSelectNotAnswer = "only an answer can be selected as the best answer: reply \"accept\" to the email of the answer you choose"
	RefuseSelectNotAsker  = "only the person who asked the question (or a moderator) can select its best answer"
	RefuseNoSelection     = "this question has no selected answer"
	RefuseSelectClosed    = "the question is closed"
	RefuseVoteComment     = "comments cannot be voted on; reply +1 to the email of a question or an answer"
	RefuseVoteOwn         = "you cannot vote on your own post"
	RefuseEditOthers      = "you can only edit your own posts: reply \"edit\" to the email of a post you wrote"
	RefuseNotModerator    = "only moderators can approve or reject posts"
	RefusePostGone        = "that post no longer exists"
	RefuseNotQueued       = "that post is not waiting for moderation"
)

// RefuseNoThread refuses a reply that names no discussion; ask is the
// address that asks a new question.
func RefuseNoThread(ask string) string {
	return "we could not tell which discussion your reply belongs to; reply to a notification email, or write to " + ask + " to ask a new question"
}

// RefuseUnknownCategory refuses mail to the category slug, which does not
// exist: askAddrs are the addresses of the categories there are (none:
// the forum has none, write to ask).
func RefuseUnknownCategory(slug, ask string, askAddrs []string) string {
	if len(askAddrs) == 0 {
		return fmt.Sprintf("there is no category called %q, and this forum has no categories: write to %s", slug, ask)
	}
	return fmt.Sprintf("there is no category called %q; the categories are: %s", slug, strings.Join(askAddrs, ", "))
}

// RefusePostLimit refuses a post over the hourly per-person limit of max
// questions (question set) or answers and comments.
func RefusePostLimit(question bool, max int) string {
	what := "answers and comments"
	if question {
		what = "questions"
	}
	return fmt.Sprintf("you have reached the limit of %d %s an hour under your name; please send it again later", max, what)
}

// ModeratorRejected is the reason told to the author of a post a
// moderator rejected, with the moderator's reason ("" for none).
func ModeratorRejected(reason string) string {
	note := "a moderator did not approve it"
	if reason != "" {
		note += ": " + reason
	}
	return note
}
