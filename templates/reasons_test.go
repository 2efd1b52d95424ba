package templates

import "testing"

// TestReasonSentences: the sentences built from data read as they did
// when threads wrote them (mails and tests quote them).
func TestReasonSentences(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{RefuseNoThread("ask@forum.test"), "we could not tell which discussion your reply belongs to; reply to a notification email, or write to ask@forum.test to ask a new question"},
		{RefuseUnknownCategory("nap", "ask@f.test", nil), `there is no category called "nap", and this forum has no categories: write to ask@f.test`},
		{RefuseUnknownCategory("nap", "ask@f.test", []string{"ask+a@f.test", "ask+b@f.test"}), `there is no category called "nap"; the categories are: ask+a@f.test, ask+b@f.test`},
		{RefusePostLimit(true, 3), "you have reached the limit of 3 questions an hour under your name; please send it again later"},
		{RefusePostLimit(false, 20), "you have reached the limit of 20 answers and comments an hour under your name; please send it again later"},
		{ModeratorRejected(""), "a moderator did not approve it"},
		{ModeratorRejected("Spam"), "a moderator did not approve it: Spam"},
		{NoteNotify("answers", false), "You will no longer be emailed when your answers are selected or commented on."},
		{NoteNotify("comments", true), "You will be emailed when a comment is added after yours."},
		{NoteVote(1), "Your vote (+1) was recorded."},
		{NoteVote(-1), "Your vote (-1) was recorded."},
		{NoteApproved(4), "Post 4 was approved and published."},
		{NoteRejected(4), "Post 4 was rejected."},
		{NoteUnprovenStop(Stop{Question: true}, true, "subscribe@f.test", "postmaster@f.test"),
			"A message asked to stop your emails from another address. You will receive no more emails about this question. If it was not you, tell the forum's operators at postmaster@f.test."},
		{NoteUnprovenStop(Stop{Everything: true}, false, "subscribe@f.test", "postmaster@f.test"),
			"A message asked to stop your emails without evidence that you sent it. You will receive no more emails from this forum. If it was not you, write to subscribe@f.test to receive emails again (you then also receive the forum's new questions)."},
		{NoteUnfollowedCategory("sleep"), "You will receive no more new questions of the category sleep."},
		{NoteDroppedProgram("run.exe"), "[attachment run.exe was not kept: programs and scripts are not accepted]"},
		{NoteDroppedArchivedProgram("photos.zip", "setup.exe"), "[attachment photos.zip was not kept: it holds setup.exe, and programs and scripts are not accepted, in archives either]"},
		{NoteDroppedUnchecked("secret.zip"), "[attachment secret.zip was not kept: it is an archive that could not be checked for programs (unreadable, encrypted or nested too deeply)]"},
		{NoteDroppedTooLarge("a.iso", 10<<20), "[attachment a.iso was not kept: it is larger than 10 MiB]"},
		{NoteDroppedOverTotal("b.pdf", 25<<20), "[attachment b.pdf was not kept: the files of one message may not exceed 25 MiB]"},
		{NoteTextTooLarge(64<<10, 1000), "[the text of this message is longer than 64 KiB; the rest was not kept: it is larger than 1000 bytes]"},
		{NoteTextOverTotal(64<<10, 2048), "[the text of this message is longer than 64 KiB; the rest was not kept: the files of one message may not exceed 2 KiB]"},
		{NoteTextAttached(64<<10, "message.txt"), "[the text of this message is longer than 64 KiB: all of it is in the attached file message.txt]"},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
}
