package templates

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/threads/mailkind"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the rendered mails")

// goldenData is the data each mail kind is rendered with for its golden
// file: sample(kind) with the fields the kind's own mail reads.
func goldenData(kind mailkind.Kind) MailData {
	d := sample(kind)
	d.Files = []FileLink{{Name: "sleep <log>.pdf", Size: "12 KB", URL: "https://forum.example.org/a/7"}}
	switch kind {
	case mailkind.Confirm, mailkind.ConfirmSubscribe, mailkind.Unsubscribed, mailkind.Rejected, mailkind.Welcome:
		d.Files = nil
		d.QuestionTitle = "<i>title</i>"
		d.ActionURL = "https://forum.example.org/confirm/TOK"
		d.Reason = "the question is closed"
		d.UnsubscribeAddress, d.UnsubscribeCategoryAddress = "unsubscribe@forum.example.org", "unsubscribe+veg@forum.example.org"
		if kind == mailkind.Unsubscribed {
			d.Reason = "You will receive no more emails about <i>title</i>."
		}
	case mailkind.SignIn:
		d.Files = nil
		d.ActionURL = "https://forum.example.org/signin/TOK"
	case mailkind.Command:
		d.Reason = "Your vote on \"Why do my tomatoes split?\" is counted."
	case mailkind.Moderate:
		d.PostKind = "answer"
	case mailkind.Help:
		d.Forum = ForumAddresses{
			Ask: "ask@forum.example.org", AskCategory: "ask+CATEGORY@forum.example.org",
			Subscribe: "subscribe@forum.example.org", SubscribeCategory: "subscribe+CATEGORY@forum.example.org",
			Unsubscribe: "unsubscribe@forum.example.org", UnsubscribeCategory: "unsubscribe+CATEGORY@forum.example.org",
			Help: "help@forum.example.org",
		}
	}
	return d
}

// wildcards replace what differs from one rendering to the next in a real
// mail (dates, post ids in links, tokens) so that a golden file holds the
// words and layout only. Each is applied to the rendered mail and the
// golden file alike.
var wildcards = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}( \d{2}:\d{2}(:\d{2})?)?( UTC| [+-]\d{4})?`), "{{DATE}}"},
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?)?`), "{{DATE}}"},
	{regexp.MustCompile(`(/(?:q|a|m)/)\d+`), "${1}{{ID}}"},
	{regexp.MustCompile(`(/(?:u|confirm|unsubscribe|signin)/)[A-Za-z0-9_-]+`), "${1}{{TOKEN}}"},
	{regexp.MustCompile(`\b((?:reply|confirm|bounce|moderate)\+)[a-z0-9.]+@`), "${1}{{TOKEN}}@"},
}

func wildcard(s string) string {
	for _, w := range wildcards {
		s = w.re.ReplaceAllString(s, w.with)
	}
	return s
}

// renderGolden is one mail as its golden file holds it.
func renderGolden(t *testing.T, s *Set, kind mailkind.Kind) string {
	t.Helper()
	subject, text, html, err := s.Mail(kind, goldenData(kind))
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return wildcard("Subject: " + subject + "\n==== text/plain\n" + text + "==== text/html\n" + html)
}

// TestGoldenMail compares every mail kind, rendered, with its golden file
// in testdata/golden (dates, ids and tokens wildcarded); `go test
// ./templates -update` rewrites the files after a deliberate change, to
// be read in the diff before committing.
func TestGoldenMail(t *testing.T) {
	t.Parallel()
	s := mustNew(t)
	kinds := s.MailKinds()
	for _, kind := range kinds {
		got := renderGolden(t, s, kind)
		path := filepath.Join("testdata", "golden", string(kind)+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go test ./templates -update to write it)", kind, err)
			continue
		}
		if want := wildcard(string(b)); got != want {
			t.Errorf("%s: rendered mail differs from %s (-update rewrites it):\n%s", kind, path, lineDiff(want, got))
		}
	}
	// No golden file without its kind: a removed kind takes its file along.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	if len(files) != len(kinds) && !*update {
		t.Errorf("%d golden files for %d mail kinds", len(files), len(kinds))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 8; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
