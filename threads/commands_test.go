package threads

import (
	"reflect"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{"+1", Command{Kind: CmdVoteUp}},
		{"  -1 \n", Command{Kind: CmdVoteDown}},
		{"Accept", Command{Kind: CmdAccept}},
		{"best!", Command{Kind: CmdAccept}},
		{"unaccept", Command{Kind: CmdUnaccept}},
		{"Unsubscribe", Command{Kind: CmdUnsubscribe}},
		{"stop all", Command{Kind: CmdUnsubscribeAll}},
		{"approve", Command{Kind: CmdApprove}},
		{"reject Off topic: this is spam", Command{Kind: CmdReject, Arg: "Off topic: this is spam"}},
		{"help", Command{Kind: CmdHelp}},
		{"/frobnicate", Command{Kind: CmdUnknown, Arg: "/frobnicate"}},
		{"!accept", Command{Kind: CmdAccept}},
		{"confirmations on", Command{Kind: CmdConfirmationsOn}},
		{"Notify answers off", Command{Kind: CmdNotify, Arg: "answers", On: false}},
		{"notify questions on", Command{Kind: CmdNotify, Arg: "questions", On: true}},
		{"notify everything off", Command{Kind: CmdNone}},
		{"edit\nThe new text\nof my post.", Command{Kind: CmdEdit, Arg: "The new text\nof my post."}},
		{"edit", Command{Kind: CmdNone}},
		{"I agree.\n+1", Command{Kind: CmdNone}},
		{"+1 to what Bob said", Command{Kind: CmdNone}},
		{"Thanks!", Command{Kind: CmdNone}},
		{"best regards", Command{Kind: CmdNone}},
		{"", Command{Kind: CmdNone}},
	}
	for _, tc := range tests {
		if got := ParseCommand(tc.in); got != tc.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseTags(t *testing.T) {
	title, slug, tags, rest := ParseTags("[sleep] Waking at 4am #insomnia #Night", "Tags: anxiety, night, a b\n\nThe text.")
	if title != "Waking at 4am" || slug != "sleep" {
		t.Errorf("title %q slug %q", title, slug)
	}
	if want := []string{"insomnia", "night", "anxiety", "a", "b"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
	if rest != "The text." {
		t.Errorf("rest %q", rest)
	}
	_, _, tags, _ = ParseTags("#a #b #c #d #e #f #g", "")
	if len(tags) != 5 {
		t.Errorf("%d tags, want at most 5", len(tags))
	}
	title, slug, _, _ = ParseTags("[Not a slug!] hi", "body")
	if slug != "" || title != "[Not a slug!] hi" {
		t.Errorf("bad slug accepted: %q %q", slug, title)
	}
}

func TestCensor(t *testing.T) {
	got := Censor("Darn it, DARN the darnedest thing.", []string{"darn", " "})
	if want := "**** it, **** the darnedest thing."; got != want {
		t.Errorf("Censor = %q, want %q", got, want)
	}
	if got := Censor("unchanged", nil); got != "unchanged" {
		t.Errorf("Censor without words = %q", got)
	}
}

func TestUnsubscribeCommand(t *testing.T) {
	for in, want := range map[string]string{
		"unsubscribe": "thread", "Stop.": "thread", " STOP! ": "thread",
		"unsubscribe all": "all", "stop everything": "all",
		"stop now": "", "please unsubscribe": "", "": "", "unsubscribe all now": "",
	} {
		if got := UnsubscribeCommand(in); got != want {
			t.Errorf("UnsubscribeCommand(%q) = %q, want %q", in, got, want)
		}
	}
}
