package threads

import (
	"reflect"
	"testing"
)

func TestPlacement(t *testing.T) {
	tests := []struct {
		target           ParentRef
		kind             PostKind
		parent, question int64
	}{
		{ParentRef{ID: 1, Kind: KindQuestion, QuestionID: 1}, KindAnswer, 1, 1},
		{ParentRef{ID: 2, Kind: KindAnswer, QuestionID: 1, ParentID: 1}, KindComment, 2, 1},
		{ParentRef{ID: 3, Kind: KindComment, QuestionID: 1, ParentID: 2}, KindComment, 2, 1},
		{ParentRef{ID: 4, Kind: KindComment, QuestionID: 1, ParentID: 1}, KindComment, 1, 1},
	}
	for _, tc := range tests {
		k, p, q := Placement(tc.target)
		if k != tc.kind || p != tc.parent || q != tc.question {
			t.Errorf("Placement(%+v) = %s,%d,%d; want %s,%d,%d", tc.target, k, p, q, tc.kind, tc.parent, tc.question)
		}
	}
}

func TestCandidateIDs(t *testing.T) {
	got := CandidateIDs([]string{"<c@x>"}, []string{"a@x", "<b@x>", "c@x"})
	want := []string{"c@x", "b@x", "a@x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestQuestionTitle(t *testing.T) {
	for in, want := range map[string]string{
		"Re: Fwd: How do I sleep?":   "How do I sleep?",
		"  AW:  Hilfe  bei   Angst ": "Hilfe bei Angst",
		"":                           "(no subject)",
		"Re[2]: tired":               "tired",
		"Question about RE: things":  "Question about RE: things",
	} {
		if got := QuestionTitle(in); got != want {
			t.Errorf("QuestionTitle(%q) = %q want %q", in, got, want)
		}
	}
}

func TestCleanMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"<abc@host>":             "abc@host",
		"  <abc@host> (comment)": "abc@host",
		"abc@host":               "abc@host",
		"":                       "",
	} {
		if got := CleanMessageID(in); got != want {
			t.Errorf("CleanMessageID(%q)=%q want %q", in, got, want)
		}
	}
}
