package trim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/threads/threadstest"
)

// attrEndCases are lines on both sides of attrEndRe's edges.
var attrEndCases = []string{
	"On Mon, 2 Jan 2006 at 15:04, Person <person0001@example.org> wrote:",
	"Le lun. 2 janv. 2006 à 15:04, Personne <p@example.fr> a écrit :",
	"Am 02.01.2006 um 15:04 schrieb Jemand <j@example.de>：",
	"W dniu 2006-01-02 Ktoś napisał(a):", "NAPISAŁA:", "Kto napisał\n:",
	"WROTE:", "wroTe --", "wrote-", "wrote---", "wrote ----", "wrote  --", "x wrote -- -",
	"wrote" + strings.Repeat("x", 80) + ":", "wrote" + strings.Repeat("x", 81) + ":",
	"wrote" + strings.Repeat("é", 80) + ":", "wrote" + strings.Repeat("é", 81) + ":",
	"écrit" + strings.Repeat("x", 79) + ":", "a ÉCRIT :", "ſchrieb:", "writeſ:", "Kirjoitti:",
	"山田さんは書きました:", "写道", "寫道：", "书写道::", "書きました-", ":", "", "wrote", "έΓΡΑΨΕ:",
	"Just a normal line of text that goes on and on without ending in a colon",
	"wrote:\n:", "\xffwrote:", "wrote\xff:", "wrote:\xff",
	"Ana <a@b.example> ezt írta (időpont: 2006. jan. 2., H, 15:04):", "이(가) 쓴 글:", "쓴 글", "のメール：", "Ana a scris :",
	"2006. 1. 2. 오후 3:04, Ana 작성:", "כתב/ה:", "كتب Ana:", "W dniu 2.01.2006 o 15:04, Ana pisze:", "PISZE:", "pisze",
}

func TestAttrEndMatchesRegexp(t *testing.T) {
	lines := append([]string(nil), attrEndCases...)
	// Every line of the corpus, and each joined with the next (as
	// attributions are joined), where it is present.
	dirs := []string{filepath.Join("testdata", "replies")}
	for _, suite := range []string{"email-reply-parser", "discourse-emails", "talon"} {
		dirs = append(dirs, threadstest.CorpusDir(t, suite))
	}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			ls := strings.Split(string(b), "\n")
			for i, l := range ls {
				lines = append(lines, strings.TrimRight(l, "\r"))
				if i+1 < len(ls) {
					lines = append(lines, strings.TrimSpace(l)+" "+strings.TrimSpace(ls[i+1]))
				}
			}
			return nil
		})
	}
	matched := 0
	for _, l := range lines {
		// Both are false for a line that ends in none of the runes any
		// alternative of attrEndRe ends with (the regexp is slow, above
		// all under -race: the corpus has many thousand lines).
		if last, _ := utf8.DecodeLastRuneInString(l); !strings.ContainsRune(":：-道た", last) {
			if attrEnd(l) {
				t.Errorf("attrEnd(%q) = true", l)
			}
			continue
		}
		want := attrEndRe.MatchString(l)
		if got := attrEnd(l); got != want {
			t.Errorf("attrEnd(%q) = %v, attrEndRe says %v", l, got, want)
		}
		if want {
			matched++
		}
	}
	if matched < 10 {
		t.Errorf("only %d of %d lines end like attributions: the comparison proves little", matched, len(lines))
	}
}

func FuzzAttrEnd(f *testing.F) {
	for _, c := range attrEndCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := attrEnd(s), attrEndRe.MatchString(s); got != want {
			t.Fatalf("attrEnd(%q) = %v, attrEndRe says %v", s, got, want)
		}
	})
}

func BenchmarkAttrEnd(b *testing.B) {
	line := "On Mon, 2 Jan 2006 at 15:04, Person <person0001@example.org> wrote:"
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			attrEndRe.MatchString(line)
		}
	})
	b.Run("attrEnd", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			attrEnd(line)
		}
	})
}
