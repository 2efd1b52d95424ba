package pipeline

import (
	"github.com/postern/postern/threads"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/mailin/parse"
)

// TestPostContentCutsLongText: a text over threads.MaxPostTextBytes is cut on a
// character boundary (at a line break when there is one) and kept whole
// as message.txt when the attachment limits allow, else said to be cut.
func TestPostContentCutsLongText(t *testing.T) {
	long := strings.Repeat("é", threads.MaxPostTextBytes) // 2 bytes each, no line break
	lines := strings.Repeat("a line of text\n", 2*threads.MaxPostTextBytes/15)
	for _, c := range []struct {
		name, body      string
		maxFile, maxAll int
		kept            bool
		note            string
	}{
		{"runes", long, 1 << 20, 1 << 20, true, "all of it is in the attached file message.txt]"},
		{"lines", lines, 1 << 20, 1 << 20, true, "longer than 64 KiB: all of it"},
		{"too large", long, 64 << 10, 1 << 20, false, "the rest was not kept: it is larger than 64 KiB]"},
		{"post full", long, 1 << 20, 100 << 10, false, "the files of one message may not exceed 100 KiB]"},
		{"short", "short text", 1 << 20, 1 << 20, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _, atts := postContent(&parse.Message{}, c.body, "", c.maxFile, c.maxAll)
			if !utf8.ValidString(body) || len(body) > threads.MaxPostTextBytes+200 {
				t.Errorf("body of %d bytes, valid UTF-8 %v", len(body), utf8.ValidString(body))
			}
			if c.note == "" && body != c.body || c.note != "" && !strings.HasSuffix(strings.TrimSpace(body), "]") || !strings.Contains(body, c.note) {
				t.Errorf("body ends %q, want the note %q", body[max(0, len(body)-120):], c.note)
			}
			if c.name == "lines" && !strings.Contains(body, "a line of text\n\n[the text") {
				t.Errorf("not cut at a line break: %q", body[len(body)-150:])
			}
			if got := len(atts) == 1 && atts[0].Filename == "message.txt" && string(atts[0].Data) == c.body; got != c.kept {
				t.Errorf("message.txt kept whole: %v, want %v (%d attachments)", got, c.kept, len(atts))
			}
		})
	}
}
