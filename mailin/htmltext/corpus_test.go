package htmltext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/mailin/parse"
)

// corpusHTML returns the HTML body of one discourse fixture found under
// ../shared/corpus relative to the repository root; when the suite or the
// fixture is absent the test is skipped, or fails under CI
// (corpus.Missing).
func corpusHTML(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(corpus.Dir(t, "discourse-emails"), name)
	raw, err := os.ReadFile(path)
	if err != nil {
		corpus.Missing(t, "shared corpus fixture %s not present", path)
	}
	m, err := parse.Parse(raw, parse.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return m.HTML
}

func TestConvertCorpus(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"word_html_reply.eml", []string{"This is the body of the email.", "- a bullet\n- another bullet", "1. a first step\n2. a second step"}},
		{"html_reply.eml", []string{"This is a HTML reply ;)"}},
		{"gmail_html_reply.eml", []string{"This is a GMAIL reply ;)"}},
		{"exchange_html_body.eml", []string{"This is the body of the email."}},
		{"html_paragraphs.eml", []string{"Awesome!\n\nPleasure to have you here!"}},
		{"text_and_html_reply.eml", []string{"This is the html part."}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			h := corpusHTML(t, c.file)
			if h == "" {
				t.Fatal("fixture has no HTML body")
			}
			got := Convert(h)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "<") && strings.Contains(got, "</") {
				t.Errorf("markup leaked:\n%s", got)
			}
		})
	}
}
