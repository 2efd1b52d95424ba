package pipeline

import (
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"reflect"
	"testing"
)

func TestScreen(t *testing.T) {
	ok := ScreenFacts{From: "sam@example.org", Domain: testDomain}
	with := func(f func(*ScreenFacts)) ScreenFacts { sf := ok; f(&sf); return sf }
	for _, tc := range []struct {
		name string
		in   ScreenFacts
		kind ActionKind
		text string
	}{
		{"human mail continues", ok, ActContinue, ""},
		{"purged", with(func(f *ScreenFacts) { f.Purged, f.ForPostmaster = true, true }), ActFail, "raw message no longer available (purged or undecryptable)"},
		{"postmaster before parsing", with(func(f *ScreenFacts) { f.ForPostmaster, f.ParseError = true, "bad" }), ActPostmaster, ""},
		{"unparseable", with(func(f *ScreenFacts) { f.ParseError = "no header" }), ActFail, "unparseable message: no header"},
		{"bounce before auto", with(func(f *ScreenFacts) { f.Bounce, f.AutoReason = true, "x" }), ActBounce, ""},
		{"bounce without From", with(func(f *ScreenFacts) { f.Bounce, f.From = true, "" }), ActBounce, ""},
		{"automatic", with(func(f *ScreenFacts) { f.AutoReason = "Auto-Submitted: auto-replied" }), ActIgnore, "automatic mail: Auto-Submitted: auto-replied"},
		{"no From", with(func(f *ScreenFacts) { f.From = "" }), ActIgnore, "no sender address in From"},
		{"malformed From", with(func(f *ScreenFacts) { f.MalformedFrom = true }), ActIgnore, "malformed From header: no trustworthy sender address"},
		{"loop", with(func(f *ScreenFacts) { f.From = "notifications@" + testDomain }), ActIgnore, "loop: From is one of the forum's own addresses"},
		{"subdomain is no loop", with(func(f *ScreenFacts) { f.From = "a@x." + testDomain }), ActContinue, ""},
	} {
		got := Screen(tc.in)
		if got.Kind != tc.kind || got.Text != tc.text {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, got.Kind, got.Text, tc.kind, tc.text)
		}
	}
}

// TestDecide covers every branch of routing a message from a human
// sender: each row changes the base facts and names the whole action.
func TestDecide(t *testing.T) {
	member := threads.Person{ID: 7, Epoch: 2, Confirmed: true}
	tok := &threads.TokenRef{Subject: 10, Person: 7, Epoch: 2, Present: true}
	oldTok := &threads.TokenRef{Subject: 10, Person: 7, Epoch: 1, Present: true}
	question := &threads.ParentRef{ID: 10, Kind: threads.KindQuestion, QuestionID: 10, State: "visible", QuestionState: "visible", AskerID: 3}
	answer := &threads.ParentRef{ID: 11, Kind: threads.KindAnswer, QuestionID: 10, ParentID: 10, State: "visible", QuestionState: "visible", AskerID: 3}
	comment := &threads.ParentRef{ID: 12, Kind: threads.KindComment, QuestionID: 10, ParentID: 11, State: "visible", QuestionState: "visible", AskerID: 3}
	orphan := &threads.ParentRef{ID: 13, Kind: threads.KindComment, QuestionID: 10, State: "visible", QuestionState: "visible"}
	queued := &threads.ParentRef{ID: 11, Kind: threads.KindAnswer, QuestionID: 10, ParentID: 10, State: "queued", QuestionState: "visible", AskerID: 3}
	closed := &threads.ParentRef{ID: 10, Kind: threads.KindQuestion, QuestionID: 10, State: "closed", QuestionState: "closed", AskerID: 3}
	files := []threads.KeptAttachment{{Filename: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}}

	base := Facts{Author: member, Subject: "Re: How do I sleep?", MessageID: "m1@x", Text: "Try tea.", Body: "Try tea.", Elided: "> old"}
	reply := func(f *Facts) { f.ThreadTarget = question }
	ask := func(f *Facts) { f.Rcpts.ask = true }
	post := func(kind threads.PostKind, parent, q int64) threads.NewPost {
		return threads.NewPost{Kind: kind, Author: member, Body: "Try tea.", Elided: "> old", ClientMsgID: "m1@x", ParentID: parent, QuestionID: q}
	}
	askPost := func(title string, cat int64, tags ...string) threads.NewPost {
		np := post(threads.KindQuestion, 0, 0)
		np.Title, np.CategoryID, np.Tags = title, cat, tags
		return np
	}
	act := func(np threads.NewPost) Action { return Action{Kind: ActPost, Post: np} }
	rej := func(code ReasonCode, q int64) Action {
		return Action{Kind: ActReject, Reason: Reason{Code: code}, QuestionID: q}
	}
	cmd := func(target *threads.ParentRef, c threads.Command) Action {
		return Action{Kind: ActCommand, Target: target, Cmd: c}
	}

	for _, tc := range []struct {
		name string
		set  []func(*Facts)
		want Action
	}{
		// Decided by the recipients alone, in this order.
		{"confirm+TOKEN", []func(*Facts){reply, func(f *Facts) { f.Rcpts.confirm = tok; f.Rcpts.subscribe = true }}, Action{Kind: ActConfirm, Token: tok}},
		{"subscribe@", []func(*Facts){func(f *Facts) { f.Rcpts.subscribe = true; f.Rcpts.unsubSlug = "x" }}, Action{Kind: ActSubscribe}},
		{"subscribe+SLUG", []func(*Facts){func(f *Facts) { f.Rcpts.subscribe, f.Rcpts.subSlug = true, "sleep" }}, Action{Kind: ActSubscribe, Slug: "sleep"}},
		{"unsubscribe+SLUG", []func(*Facts){func(f *Facts) { f.Rcpts.unsubSlug = "sleep"; f.Rcpts.unsubscribe = tok }}, Action{Kind: ActUnfollowCategory, Slug: "sleep"}},
		{"unsubscribe+TOKEN", []func(*Facts){func(f *Facts) { f.Rcpts.unsubscribe = tok; f.Rcpts.help = true }}, Action{Kind: ActUnsubscribeMail, Token: tok}},
		{"help@ alone", []func(*Facts){func(f *Facts) { f.Rcpts.help = true }}, Action{Kind: ActHelp}},
		{"help@ with ask@ asks", []func(*Facts){ask, func(f *Facts) { f.Rcpts.help = true; f.Subject = "Sleep" }}, act(askPost("Sleep", 0))},
		{"help@ with a reply token replies", []func(*Facts){func(f *Facts) { f.Rcpts.help, f.Rcpts.reply, f.TokenTarget = true, tok, question }}, act(post(threads.KindAnswer, 10, 10))},

		// A reply to a confirmation request, before any thread.
		{"reply to a confirmation request", []func(*Facts){reply, func(f *Facts) { f.ConfirmReply = tok }}, Action{Kind: ActConfirm, Token: tok}},

		// Reply token, then headers, then ask@.
		{"revoked token", []func(*Facts){reply, func(f *Facts) { f.Rcpts.reply = oldTok }}, rej(RejectRevokedToken, 0)},
		{"another person's old token is no revocation", []func(*Facts){func(f *Facts) {
			f.Rcpts.reply = &threads.TokenRef{Subject: 10, Person: 8, Epoch: 1, Present: true}
			f.TokenTarget = question
		}}, act(post(threads.KindAnswer, 10, 10))},
		{"token's post gone", []func(*Facts){reply, func(f *Facts) { f.Rcpts.reply = tok }}, rej(RejectTargetGone, 0)},
		{"token wins over headers", []func(*Facts){func(f *Facts) { f.Rcpts.reply, f.TokenTarget, f.ThreadTarget = tok, answer, question }}, act(post(threads.KindComment, 11, 10))},
		{"no thread, no ask@", nil, rej(RejectNoThread, 0)},
		{"notifications@ without thread", []func(*Facts){func(f *Facts) { f.Rcpts.notify = true }}, rej(RejectNoThread, 0)},
		{"headers win over ask@", []func(*Facts){reply, ask}, act(post(threads.KindAnswer, 10, 10))},

		// Commands and stops.
		{"unsubscribe subject to ask@", []func(*Facts){ask, func(f *Facts) { f.Subject = "Unsubscribe" }}, Action{Kind: ActUnsubscribe, All: true}},
		{"stop all subject to ask@", []func(*Facts){ask, func(f *Facts) { f.Subject = "stop all" }}, Action{Kind: ActUnsubscribe, All: true}},
		{"reply text unsubscribe", []func(*Facts){reply, func(f *Facts) { f.Text = "unsubscribe" }}, cmd(question, threads.Command{Kind: threads.CmdUnsubscribe})},
		{"reply subject stop all", []func(*Facts){reply, func(f *Facts) { f.Subject, f.Text = "Re: stop all", "" }}, cmd(question, threads.Command{Kind: threads.CmdUnsubscribeAll})},
		{"reply subject stop", []func(*Facts){reply, func(f *Facts) { f.Subject, f.Text = "Re: stop", "thanks" }}, cmd(question, threads.Command{Kind: threads.CmdUnsubscribe})},
		{"text command wins over subject", []func(*Facts){reply, func(f *Facts) { f.Subject, f.Text = "stop", "+1" }}, cmd(question, threads.Command{Kind: threads.CmdVoteUp})},
		{"accept", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text = answer, "Accept." }}, cmd(answer, threads.Command{Kind: threads.CmdAccept})},
		{"web: a text that reads as a command is an answer", []func(*Facts){reply, func(f *Facts) { f.FromWeb, f.Text, f.Body, f.Elided = true, "+1", "+1", "" }},
			act(threads.NewPost{Kind: threads.KindAnswer, Author: member, Body: "+1", ClientMsgID: "m1@x", ParentID: 10, QuestionID: 10})},
		{"web: a title that reads as unsubscribe is a question", []func(*Facts){ask, func(f *Facts) { f.FromWeb, f.Subject = true, "Unsubscribe" }}, act(askPost("Unsubscribe", 0))},
		{"edit", []func(*Facts){reply, func(f *Facts) { f.Text = "edit\nNew text" }}, cmd(question, threads.Command{Kind: threads.CmdEdit, Arg: "New text"})},
		{"queued target takes no reply", []func(*Facts){func(f *Facts) { f.ThreadTarget = queued }}, rej(RejectTargetQueued, 0)},
		{"queued target takes no vote", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text = queued, "+1" }}, rej(RejectTargetQueued, 0)},
		{"queued target: approve", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text = queued, "approve" }}, cmd(queued, threads.Command{Kind: threads.CmdApprove})},
		{"queued target: reject", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text = queued, "reject Spam" }}, cmd(queued, threads.Command{Kind: threads.CmdReject, Arg: "Spam"})},
		{"command on a closed question", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text = closed, "help" }}, cmd(closed, threads.Command{Kind: threads.CmdHelp})},

		// Replies.
		{"reply to a question answers", []func(*Facts){reply}, act(post(threads.KindAnswer, 10, 10))},
		{"a reply repeating the author's recent post is automatic", []func(*Facts){reply, func(f *Facts) { f.RepeatsOwnPost = true }},
			Action{Kind: ActIgnore, Text: templates.InboundRepeated}},
		{"a command repeating a post is still a command", []func(*Facts){reply, func(f *Facts) { f.RepeatsOwnPost, f.Text = true, "+1" }},
			cmd(question, threads.Command{Kind: threads.CmdVoteUp})},
		{"reply to an answer comments on it", []func(*Facts){func(f *Facts) { f.ThreadTarget = answer }}, act(post(threads.KindComment, 11, 10))},
		{"reply to a comment comments on its parent", []func(*Facts){func(f *Facts) { f.ThreadTarget = comment }}, act(post(threads.KindComment, 11, 10))},
		{"reply to a comment without parent", []func(*Facts){func(f *Facts) { f.ThreadTarget = orphan }}, act(post(threads.KindComment, 10, 10))},
		{"asker's reply comments on the question", []func(*Facts){reply, func(f *Facts) { f.Author.ID = 3 }}, func() Action {
			np := post(threads.KindComment, 10, 10)
			np.Author.ID = 3
			return act(np)
		}()},
		{"asker's reply to an answer", []func(*Facts){func(f *Facts) {
			f.ThreadTarget = answer
			f.Author.ID = 3
			f.Rcpts.reply = &threads.TokenRef{Subject: 11, Person: 3, Epoch: 2, Present: true}
			f.TokenTarget = answer
		}}, func() Action {
			np := post(threads.KindComment, 11, 10)
			np.Author.ID = 3
			return act(np)
		}()},
		{"empty reply", []func(*Facts){reply, func(f *Facts) { f.Text, f.Body = "", "" }}, rej(RejectEmptyReply, 10)},
		{"files alone are a reply", []func(*Facts){reply, func(f *Facts) { f.Text, f.Body, f.Attachments = "", "", files }}, func() Action {
			np := post(threads.KindAnswer, 10, 10)
			np.Body, np.Attachments = "", files
			return act(np)
		}()},
		{"dropped parts are a reply", []func(*Facts){reply, func(f *Facts) { f.Text, f.PartsDropped = "", true }}, act(post(threads.KindAnswer, 10, 10))},
		{"closed question", []func(*Facts){func(f *Facts) { f.ThreadTarget = closed }}, rej(RejectClosed, 10)},
		{"empty reply to a closed question", []func(*Facts){func(f *Facts) { f.ThreadTarget, f.Text, f.Body = closed, "", "" }}, rej(RejectEmptyReply, 10)},
		{"unconfirmed reply is held", []func(*Facts){reply, func(f *Facts) { f.Author.Confirmed = false }}, func() Action {
			np := post(threads.KindAnswer, 10, 10)
			np.Author.Confirmed, np.Held = false, true
			return act(np)
		}()},

		// New questions.
		{"question", []func(*Facts){ask}, act(askPost("How do I sleep?", 0))},
		{"question tags", []func(*Facts){ask, func(f *Facts) { f.Subject, f.Body = "Sleep #Tea", "Tags: night\nTry tea." }}, act(askPost("Sleep", 0, "tea", "night"))},
		{"[slug] of a category", []func(*Facts){ask, func(f *Facts) { f.Subject, f.SubjectCategory = "[sleep] Tea?", 4 }}, act(askPost("Tea?", 4))},
		{"[slug] of no category", []func(*Facts){ask, func(f *Facts) { f.Subject = "[sleep] Tea?" }}, act(askPost("[sleep] Tea?", 0))},
		{"ask+SLUG", []func(*Facts){ask, func(f *Facts) { f.Rcpts.category, f.RcptCategory, f.Subject = "sleep", 4, "[tea] Hot?" }}, act(askPost("Hot?", 4))},
		{"ask+SLUG of no category", []func(*Facts){ask, func(f *Facts) { f.Rcpts.category = "nap" }}, Action{Kind: ActReject, Reason: Reason{Code: RejectUnknownCategory, Slug: "nap"}}},
		{"no subject and no text", []func(*Facts){ask, func(f *Facts) { f.Subject, f.Text, f.Body = "Re:", "", "" }}, rej(RejectEmptyQuestion, 0)},
		{"no subject and no text to ask+SLUG", []func(*Facts){ask, func(f *Facts) { f.Subject, f.Text, f.Body, f.Rcpts.category = "", "", "", "nap" }}, rej(RejectEmptyQuestion, 0)},
		{"text without subject", []func(*Facts){ask, func(f *Facts) { f.Subject = "" }}, act(askPost("(no subject)", 0))},
		{"files without subject or text", []func(*Facts){ask, func(f *Facts) { f.Subject, f.Text, f.Body, f.Attachments = "", "", "", files }}, func() Action {
			np := askPost("(no subject)", 0)
			np.Body, np.Attachments = "", files
			return act(np)
		}()},
		{"unconfirmed question is held", []func(*Facts){ask, func(f *Facts) { f.Author.Confirmed = false }}, func() Action {
			np := askPost("How do I sleep?", 0)
			np.Author.Confirmed, np.Held = false, true
			return act(np)
		}()},
	} {
		f := base
		for _, set := range tc.set {
			set(&f)
		}
		if got := Decide(f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestProven: what shows that a message comes from its From address,
// rule by rule, and that a strict policy takes nothing but its own result.
func TestProven(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      EvidenceFacts
		want   string
		lookup bool
	}{
		{"policy satisfied", EvidenceFacts{Satisfied: true, Kind: "dkim", Strict: true, TrustedPeer: true}, "dkim", false},
		{"strict policy unsatisfied", EvidenceFacts{Strict: true, OwnEnvelope: true, OwnToken: true, TrustedPeer: true}, threads.EvidenceNone, false},
		{"own token, own envelope", EvidenceFacts{OwnEnvelope: true, OwnToken: true, NotificationReplied: true}, threads.EvidenceReplyToken, false},
		{"own token, other envelope", EvidenceFacts{OwnToken: true}, threads.EvidenceNone, false},
		{"notification replied, own envelope", EvidenceFacts{OwnEnvelope: true, NotificationReplied: true}, threads.EvidenceNotificationReply, true},
		{"notification replied, other envelope", EvidenceFacts{NotificationReplied: true}, threads.EvidenceNone, false},
		{"own envelope alone", EvidenceFacts{OwnEnvelope: true}, threads.EvidenceNone, true},
		{"trusted network", EvidenceFacts{TrustedPeer: true}, threads.EvidenceNetwork, false},
		{"nothing", EvidenceFacts{Kind: "none"}, threads.EvidenceNone, false},
	} {
		if got := Proven(tc.f); got != tc.want {
			t.Errorf("%s: Proven = %q, want %q", tc.name, got, tc.want)
		}
		if got := needsNotificationLookup(tc.f); got != tc.lookup {
			t.Errorf("%s: needsNotificationLookup = %v, want %v", tc.name, got, tc.lookup)
		}
	}
}
