package trim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/internal/corpus"
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

// corpusLines returns attrEndCases, every line of our own corpus and of
// the shared corpus (where present), and each line joined with the next
// (as attributions are joined).
func corpusLines(t *testing.T) []string {
	t.Helper()
	lines := append([]string(nil), attrEndCases...)
	dirs := []string{filepath.Join("testdata", "replies")}
	for _, suite := range []string{"email-reply-parser", "discourse-emails", "talon"} {
		dirs = append(dirs, corpus.Dir(t, suite))
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
	return lines
}

// headerByRegexp is headerField's definition: headerRe on the trimmed
// line, for lines of at most 1000 bytes whose first colon comes within
// 48 bytes.
func headerByRegexp(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if c := strings.IndexAny(t, ":："); len(s) > 1000 || c < 0 || c > 48 {
		return "", false
	}
	m := headerRe.FindStringSubmatch(t)
	if m == nil {
		return "", false
	}
	return strings.ToLower(m[1]), true
}

// TestMatchersMatchRegexps checks that headerField, attrStart and verbless, which
// replace regular expressions for speed, agree with them on every corpus
// line (quote prefix and bidirectional marks removed, as newDoc does).
func TestMatchersMatchRegexps(t *testing.T) {
	headers, verbs := 0, 0
	for _, l := range corpusLines(t) {
		c := strings.TrimSpace(stripBidi(l[quotePrefixLen(l):]))
		f, ok := headerField(c)
		if wf, wok := headerByRegexp(c); ok != wok || f != wf {
			t.Errorf("headerField(%q) = %q, %v; headerRe says %q, %v", c, f, ok, wf, wok)
		}
		if ok {
			headers++
		}
		if got, want := attrStart(c, attrStartIdx), attrStartRe.MatchString(c); got != want {
			t.Errorf("attrStart(%q) = %v, attrStartRe says %v", c, got, want)
		}
		if got, want := attrStart(c, attrBreakIdx), attrBreakRe.MatchString(c); got != want {
			t.Errorf("attrStart(%q, break) = %v, attrBreakRe says %v", c, got, want)
		}
		if got, want := verbless(c), verblessRe.MatchString(c); got != want {
			t.Errorf("verbless(%q) = %v, verblessRe says %v", c, got, want)
		} else if got {
			verbs++
		}
	}
	if headers < 50 || verbs < 5 {
		t.Errorf("only %d header lines and %d verbless attributions: the comparison proves little", headers, verbs)
	}
}

func TestAttrEndMatchesRegexp(t *testing.T) {
	lines := corpusLines(t)
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
	f.Add("*Von:* Ana <a@b.example>")
	f.Add("пн, 2 янв. 2006 г. в 15:04, Ana <a@b.example>:")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := attrEnd(s), attrEndRe.MatchString(s); got != want {
			t.Fatalf("attrEnd(%q) = %v, attrEndRe says %v", s, got, want)
		}
		if got, want := attrStart(s, attrStartIdx), attrStartRe.MatchString(s); got != want {
			t.Fatalf("attrStart(%q) = %v, attrStartRe says %v", s, got, want)
		}
		if got, want := attrStart(s, attrBreakIdx), attrBreakRe.MatchString(s); got != want {
			t.Fatalf("attrStart(%q, break) = %v, attrBreakRe says %v", s, got, want)
		}
		if got, want := verbless(s), verblessRe.MatchString(s); got != want {
			t.Fatalf("verbless(%q) = %v, verblessRe says %v", s, got, want)
		}
		f, ok := headerField(s)
		if wf, wok := headerByRegexp(s); ok != wok || f != wf {
			t.Fatalf("headerField(%q) = %q, %v; headerRe says %q, %v", s, f, ok, wf, wok)
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
