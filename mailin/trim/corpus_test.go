package trim

import (
	"io"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"

	"github.com/postern/postern/internal/corpus"
)

// The corpus lives outside the repository, read-only, in
// ../shared/corpus (relative to the repository root). See the MANIFEST.md
// files there for where each suite comes from and how it compares.

// corpusDir returns the shared corpus directory (../shared/corpus beside
// the repository root); when its email-reply-parser suite is absent the
// test is skipped, or fails under CI (corpus.Missing). It remains for trim_test.go, which joins suite paths itself;
// the tests here call corpus.Dir directly.
func corpusDir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(corpus.Dir(t, "email-reply-parser"))
}

// readFile reads a fixture or fails the test.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(b)
}

// addrRe finds things that look like email addresses, so that test output
// never prints one.
var addrRe = regexp.MustCompile(`[^\s<>"'(\[]+@[^\s<>"')\]]+`)

// redact hides email addresses in s for test output.
func redact(s string) string { return addrRe.ReplaceAllString(s, "<addr>") }

// normalizeExpect prepares both sides of a comparison: the manifests compare
// strings.TrimSpace of both sides; Text also removes trailing blanks from
// each line and turns CRLF into LF, so the same is done to the expectation.
func normalizeExpect(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(ls, "\n"))
}

// collapse joins all white-space runs into single spaces; used for elided
// text, which upstream re-joins wrapped attribution lines.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

type corpusCase struct {
	name, input, want string
}

type corpusSuite struct {
	name  string
	cases []corpusCase
	// known lists fixtures expected to mismatch, each with a one-line reason.
	known map[string]string
	// elided compares Result.Elided (white space collapsed) instead of Text.
	elided bool
}

// run trims every case, logs a summary line and fails for any mismatch that
// is not a known failure. Known failures that now pass are reported too, so
// the list stays honest.
func (s corpusSuite) run(t *testing.T) {
	t.Helper()
	names := map[string]bool{}
	match := 0
	for _, c := range s.cases {
		names[c.name] = true
		r := Text(c.input, Options{})
		var got, want string
		if s.elided {
			got, want = collapse(r.Elided), collapse(c.want)
		} else {
			got, want = normalizeExpect(r.Text), normalizeExpect(c.want)
		}
		reason, known := s.known[c.name]
		if got == want {
			match++
			if known {
				t.Errorf("%s/%s: listed as a known failure (%s) but now matches; remove it from the list", s.name, c.name, reason)
			}
			continue
		}
		if known {
			continue
		}
		t.Errorf("%s/%s: mismatch\n--- got ---\n%s\n--- want ---\n%s", s.name, c.name, redact(got), redact(want))
	}
	for n := range s.known {
		if !names[n] {
			t.Errorf("%s: known-failure entry %q names no fixture", s.name, n)
		}
	}
	t.Logf("trim corpus %s: %d/%d match", s.name, match, len(s.cases))
}

// pairs loads inputs from inDir and expectations with the same file name
// from wantDir. When allowMissing is set, an input without an expectation
// expects its own (whole) body.
func pairs(t *testing.T, inDir, wantDir string, allowMissing bool) []corpusCase {
	t.Helper()
	ents, err := os.ReadDir(inDir)
	if err != nil {
		t.Fatalf("list fixtures: %v", err)
	}
	var out []corpusCase
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		in := readFile(t, filepath.Join(inDir, e.Name()))
		wantPath := filepath.Join(wantDir, e.Name())
		if _, err := os.Stat(wantPath); err != nil {
			if !allowMissing {
				t.Fatalf("no expectation for %s", e.Name())
			}
			out = append(out, corpusCase{name: e.Name(), input: in, want: in})
			continue
		}
		out = append(out, corpusCase{name: e.Name(), input: in, want: readFile(t, wantPath)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ertKnown are the email_reply_trimmer / dimiro1 fixtures whose expectation
// we do not meet, with the reason (see docs/CORPUS.md).
var ertKnown = map[string]string{
	// Issue 10 item 15: a reply that only quotes is empty (processing
	// answers "nothing was left of your reply"), never a post of the quote.
	"quote_only.txt": "upstream keeps a quote-only body; a reply that only quotes says nothing, so we leave no text",
}

// TestCorpusOwn runs Postern's own corpus (testdata/replies, described in
// its MANIFEST.md): attribution lines, copied header blocks and forward
// lines as the major clients write them in many languages, and the
// shapes of issue 10 item 15. It has no known failures.
func TestCorpusOwn(t *testing.T) {
	dir := filepath.Join("testdata", "replies")
	cases := pairs(t, filepath.Join(dir, "in"), filepath.Join(dir, "want"), false)
	if len(cases) < 200 {
		t.Fatalf("only %d cases in %s", len(cases), dir)
	}
	corpusSuite{name: "own", cases: cases, known: map[string]string{}}.run(t)
}

func TestCorpusDimiro1(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t, "email-reply-parser"), "dimiro1-reply")
	corpusSuite{
		name:  "dimiro1-reply",
		cases: pairs(t, filepath.Join(dir, "input"), filepath.Join(dir, "expected"), false),
		known: ertKnown,
	}.run(t)
}

func TestCorpusEmailReplyTrimmer(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t, "email-reply-parser"), "discourse-email_reply_trimmer")
	cases := pairs(t, filepath.Join(dir, "emails"), filepath.Join(dir, "trimmed"), false)
	corpusSuite{name: "discourse-email_reply_trimmer", cases: cases, known: ertKnown}.run(t)

	// bullet_list_reply.txt has no stored expectation; the manifest says
	// upstream presumably keeps the whole body, which is what we expect.
	later := pairs(t, filepath.Join(dir, "later-additions", "emails"), filepath.Join(dir, "later-additions", "trimmed"), true)
	corpusSuite{name: "discourse-email_reply_trimmer/later-additions", cases: later, known: map[string]string{}}.run(t)
}

// elidedKnown lists elided expectations we do not meet. Upstream rewrites
// the elided text (it re-joins wrapped attributions, which collapse()
// tolerates, but also rewrites quote prefixes and moves text between the
// kept and elided parts); each entry says how ours differs.
var elidedKnown = map[string]string{
	// We never rewrite input lines; upstream normalises quote prefixes.
	"embedded_email_1.txt": "upstream rewrites the Supercite prefix \"Richard>\" to \">\" in the elided text",
	"embedded_email_4.txt": "upstream rewrites the \"| \" quote prefixes to \"> \" in the elided text",
	"embedded_email_7.txt": "upstream rewrites the \"C>\" quote prefixes to \">\" in the elided text",
	// The other side of ertKnown's quote_only.txt: the quote is elided.
	"quote_only.txt": "upstream elides nothing from a quote-only body; we elide the whole quote",
}

func TestCorpusEmailReplyTrimmerElided(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t, "email-reply-parser"), "discourse-email_reply_trimmer")
	corpusSuite{
		name:   "discourse-email_reply_trimmer/elided",
		cases:  pairs(t, filepath.Join(dir, "emails"), filepath.Join(dir, "elided"), false),
		known:  elidedKnown,
		elided: true,
	}.run(t)
}

// githubExpect is the visible text the github/email_reply_parser tests
// assert (or, where marked derived in the manifest, what follows from the
// fragment flags). lines > 0 means "the first lines lines of the fixture".
var githubExpect = []struct {
	name  string
	want  string
	lines int
}{
	{name: "correct_sig.txt", want: "this is an email with a correct -- signature."},
	{name: "email_1_1.txt", want: "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API."},
	{name: "email_1_2.txt", lines: 34}, // derived: "Hi," … "…delete them all individually.\""
	{name: "email_1_3.txt", want: "Oh thanks.\n\nHaving the function would be great."},
	{name: "email_1_4.txt", want: "Awesome! I haven't had another problem with it."},
	{name: "email_1_5.txt", lines: -1}, // exactly one fragment: the whole body
	{name: "email_1_6.txt", want: "I get proper rendering as well.\n\nSent from a magnificent torch of pixels"},
	{name: "email_1_7.txt", want: ":+1:"},
	{name: "email_1_8.txt", lines: 19}, // derived: fragments 0-3, down to "and under this."
	{name: "email_2_1.txt", want: "Outlook with a reply"},
	{name: "email_2_2.txt", want: "Outlook with a reply directly above line"},
	{name: "email_2_3.txt", want: "Outlook with a reply directly above line"},
	{name: "email_BlackBerry.txt", want: "Here is another email"},
	{name: "email_iPhone.txt", want: "Here is another email"},
	{name: "email_multi_word_sent_from_my_mobile_device.txt", want: "Here is another email"},
	{name: "email_sent_from_my_not_signature.txt", want: "Here is another email\n\nSent from my desk, is much easier then my mobile phone."},
	{name: "email_bullets.txt", want: "test 2 this should list second\n\nand have spaces\n\nand retain this formatting\n\n\n   - how about bullets\n   - and another"},
	{name: "email_one_is_not_on.txt", lines: 5}, // derived: fragment 0
	{name: "greedy_on.txt", lines: 6},           // derived: fragment 0
	{name: "email_sig_delimiter_in_middle_of_line.txt", lines: -1},
	{name: "pathological.txt", lines: 2},     // no assertion upstream; the reply above the attribution
	{name: "email_long_quote.txt", lines: 8}, // derived: text and the two '>' lines, without "-Name" and footer
}

// githubKnown lists github fixtures whose expectation we do not meet.
var githubKnown = map[string]string{
	// Same shape as email_reply_trimmer's embedded_email_7.txt and
	// reply_after_selected_german_quote.txt, which want the line removed.
	"email_1_2.txt": "derived expectation keeps the attribution line above an interleaved quote; we drop it like email_reply_trimmer",
}

func TestCorpusGitHub(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t, "email-reply-parser"), "github", "emails")
	var cases []corpusCase
	seen := map[string]bool{}
	for _, g := range githubExpect {
		in := readFile(t, filepath.Join(dir, g.name))
		want := g.want
		switch {
		case g.lines < 0:
			want = in
		case g.lines > 0:
			ls := strings.Split(strings.ReplaceAll(in, "\r\n", "\n"), "\n")
			want = strings.Join(ls[:g.lines], "\n")
		}
		cases = append(cases, corpusCase{name: g.name, input: in, want: want})
		seen[g.name] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list fixtures: %v", err)
	}
	for _, e := range ents {
		if !seen[e.Name()] {
			t.Errorf("github fixture %s has no expectation in githubExpect", e.Name())
		}
	}
	corpusSuite{name: "github", cases: cases, known: githubKnown}.run(t)
}

// talonKnown lists talon fixtures whose expectation we do not meet.
var talonKnown = map[string]string{
	// github email_iPhone.txt and email_reply_trimmer signatures.txt want it removed.
	"iphone.eml": "talon keeps the \"Sent from my iPhone\" footer; we remove client footers",
	// github correct_sig.txt and email_reply_trimmer embedded_email_polish_1.txt want it removed.
	"sparrow.eml": "talon keeps the \"-- \" signature; we remove signatures",
}

// firstTextPlain decodes the first text/plain part of the message at path
// (transfer encoding and charset decoded).
func firstTextPlain(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open fixture: %v", err)
	}
	defer f.Close()
	e, err := message.Read(f)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		t.Fatalf("parse %s: %v", filepath.Base(path), err)
	}
	var find func(e *message.Entity) (string, bool)
	find = func(e *message.Entity) (string, bool) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return "", false
				}
				if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
					t.Fatalf("next part of %s: %v", filepath.Base(path), err)
				}
				if s, ok := find(p); ok {
					return s, true
				}
			}
		}
		ct, _, err := mime.ParseMediaType(e.Header.Get("Content-Type"))
		if err != nil {
			ct = "text/plain"
		}
		if ct != "text/plain" {
			return "", false
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("read body of %s: %v", filepath.Base(path), err)
		}
		return string(b), true
	}
	s, ok := find(e)
	if !ok {
		t.Fatalf("%s: no text/plain part", filepath.Base(path))
	}
	return s
}

func TestCorpusTalon(t *testing.T) {
	dir := corpus.Dir(t, "talon")
	var cases []corpusCase
	std := filepath.Join(dir, "standard_replies")
	ents, err := os.ReadDir(std)
	if err != nil {
		t.Fatalf("list fixtures: %v", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		want := "Hello"
		exp := filepath.Join(std, strings.TrimSuffix(e.Name(), ".eml")+"_reply_text.txt")
		if _, err := os.Stat(exp); err == nil {
			want = readFile(t, exp)
		}
		cases = append(cases, corpusCase{name: e.Name(), input: firstTextPlain(t, filepath.Join(std, e.Name())), want: want})
	}
	// The manifest's suggested expectation for the share-block reply: the
	// first paragraph plus the "Joe XXX" sign-off.
	// Its text part is three lines of reply (with U+00A0 spaces) above the
	// "--- On … wrote:" attribution.
	share := firstTextPlain(t, filepath.Join(dir, "reply-quotations-share-block.eml"))
	shareWant := strings.Join(strings.SplitN(share, "\n", 4)[:3], "\n")
	cases = append(cases, corpusCase{name: "reply-quotations-share-block.eml", input: share, want: shareWant})
	corpusSuite{name: "talon", cases: cases, known: talonKnown}.run(t)
}
