package templates

import (
	"strings"
	"testing"
)

// TestStopText: each stop says what it stopped, naming the follows it
// ended, and never says more.
func TestStopText(t *testing.T) {
	cases := []struct {
		s    Stop
		want string
	}{
		{Stop{Everything: true}, "You will receive no more emails from this forum."},
		{Stop{Question: true}, "You will receive no more emails about this question."},
		{Stop{Follow: true, Forum: true}, "You no longer follow this forum: you will receive no more emails about new questions."},
		{Stop{Follow: true, Categories: []string{"Sleep"}}, "You no longer follow the category Sleep: you will receive no more emails about its new questions."},
		{Stop{Follow: true, Forum: true, Categories: []string{"Sleep"}}, "You no longer follow this forum or the category Sleep: you will receive no more emails about new questions."},
		{Stop{Follow: true}, "You had already stopped following these new questions: nothing more to stop."},
	}
	for _, c := range cases {
		got := StopText(c.s)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%+v: %q, want it to start with %q", c.s, got, c.want)
		}
		if c.s.Follow != strings.Contains(got, "own questions and answers still come") {
			t.Errorf("%+v: %q: the note on mail about one's own posts belongs to follow stops only", c.s, got)
		}
	}
}
