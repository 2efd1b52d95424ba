package mbox

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
)

// escapeRe matches the lines an mboxrd writer escapes.
var escapeRe = regexp.MustCompile(`(?m)^(>*From )`)

// TestCorpusRoundTrip writes every corpus message into one mboxrd mailbox,
// as a mail client would (a From_ line, the message with its "From " lines
// escaped, a blank line), and reads them back unchanged, by byte.
func TestCorpusRoundTrip(t *testing.T) {
	var files []string
	for _, suite := range []string{"discourse-emails", "email-reply-parser", "talon"} {
		dir := corpus.Dir(t, suite)
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".md") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var box bytes.Buffer
	var want [][]byte
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			raw = append(raw, '\n') // writers end every message with a line end
		}
		want = append(want, raw)
		if i%2 == 1 {
			box.WriteString("From sender@example.org Sat Jan 01 00:00:00 +0000 2011\r\n")
		} else {
			box.WriteString("From sender@example.org Mon Jan  2 15:04:05 2006\n")
		}
		box.Write(escapeRe.ReplaceAll(raw, []byte(">$1")))
		box.WriteString("\n")
	}
	r := NewReader(bytes.NewReader(box.Bytes()), Options{})
	for i := 0; ; i++ {
		m, err := r.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("read %d messages, wrote %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("more messages than written: %q", m.Raw[:min(len(m.Raw), 80)])
		}
		if !bytes.Equal(m.Raw, want[i]) {
			t.Fatalf("%s changed on the way through the mailbox", files[i])
		}
	}
}
