package pipeline

import (
	"testing"

	"github.com/postern/postern/threads"
)

// TestEveryRefusalHasText: each refusal code the store returns has its own
// sentence, and no two codes share one.
func TestEveryRefusalHasText(t *testing.T) {
	seen := map[string]threads.RefusalCode{}
	for c := threads.RefusedSelectNotAnswer; c <= threads.RefusedNotQueued; c++ {
		text, ok := refusalTexts[c]
		if !ok || text == "" {
			t.Errorf("refusal %d has no sentence", c)
			continue
		}
		if other, dup := seen[text]; dup {
			t.Errorf("refusals %d and %d share the sentence %q", other, c, text)
		}
		seen[text] = c
		if RefusalText(c) != text {
			t.Errorf("RefusalText(%d) = %q, want %q", c, RefusalText(c), text)
		}
	}
}
