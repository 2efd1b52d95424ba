package trim

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notification is a plain-text body as Postern might send it.
const notification = `Ana asked a question in Gardening:

How do I keep slugs away from my lettuce without using pellets that
harm the hedgehogs in the garden?

-- Reply above this line to answer --
You are receiving this because you follow the Gardening forum.
Unsubscribe: https://forum.example/u/unsub/abc`

func TestTextRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts Options
		want string
	}{
		{
			name: "non-ASCII is preserved",
			in:   "Here’s a test.",
			want: "Here’s a test.",
		},
		{
			name: "empty",
			in:   "",
			want: "",
		},
		{
			name: "CRLF and lone CR",
			in:   "one\r\ntwo\rthree\r\n",
			want: "one\ntwo\nthree",
		},
		{
			name: "custom marker cuts even at the top of a quote",
			in:   "Use copper tape.\n\n> -- Reply above this line to answer --\n> Ana asked",
			opts: Options{Markers: []string{"-- Reply above this line to answer --"}},
			want: "Use copper tape.",
		},
		{
			name: "marker comparison ignores case",
			in:   "Beer traps work.\n-- REPLY ABOVE THIS LINE TO ANSWER --\nrest",
			opts: Options{Markers: []string{"-- Reply above this line to answer --"}},
			want: "Beer traps work.",
		},
		{
			name: "discourse marker",
			in:   "Sounds good.\n\n## Please type your reply above this line. ##\n\nold stuff",
			want: "Sounds good.",
		},
		{
			name: "discourse previous replies",
			in:   "My answer.\n\n---\n*Previous Replies*\n\nsomeone said something",
			want: "My answer.",
		},
		{
			name: "Sent: Outlook copy of our message without marker or quotes",
			in: "Use copper tape around the bed.\n\nFrom: Postern\nSent: Monday, 3 March 2025 10:00\nTo: Bob\nSubject: Slugs\n\n" +
				"Ana asked a question in Gardening:\n\nHow do I keep slugs away from my lettuce without using pellets that harm the\nhedgehogs in the garden?\n",
			opts: Options{Sent: []string{notification}},
			want: "Use copper tape around the bed.",
		},
		{
			name: "Sent: re-wrapped unquoted copy without a header",
			in:   "Use copper tape around the bed.\n\nAna asked a question in Gardening:\nHow do I keep slugs away from my\nlettuce without using pellets that harm the hedgehogs in the garden?\n",
			opts: Options{Sent: []string{notification}},
			want: "Use copper tape around the bed.",
		},
		{
			name: "Sent: interleaved answer after a quoted sentence of ours is kept",
			in:   "> How do I keep slugs away from my lettuce without using pellets\n\nCopper tape works well for me.\n",
			opts: Options{Sent: []string{notification}},
			want: "> How do I keep slugs away from my lettuce without using pellets\n\nCopper tape works well for me.",
		},
		{
			name: "Sent: the reply itself quoting a few words is kept",
			in:   "You asked how to keep slugs away. Copper tape.",
			opts: Options{Sent: []string{notification}},
			want: "You asked how to keep slugs away. Copper tape.",
		},
		{
			name: "wrote: in prose is not an attribution",
			in:   "On Monday at 10:00 we met the team.\nAs Bob wrote:\nthings are fine",
			want: "On Monday at 10:00 we met the team.\nAs Bob wrote:\nthings are fine",
		},
		{
			name: "code fence protects separators",
			in:   "Try this:\n\n```\n--\nOn 1 Jan 2020, a <a@b.example> wrote:\n```\n",
			want: "Try this:\n\n```\n--\nOn 1 Jan 2020, a <a@b.example> wrote:\n```",
		},
		{
			name: "bottom post drops the attributed quote",
			in:   "On 2 Jan 2024, at 10:00, Ana <ana@example.org> wrote:\n> Question?\n\nAnswer.",
			want: "Answer.",
		},
		{
			name: "Japanese attribution",
			in:   "了解です。\n\n2024年1月2日(火) 10:00 Ana <ana@example.org>:\n> 質問",
			want: "了解です。",
		},
		{
			name: "a reply that only quotes, without attribution, is empty",
			in:   "> I wake up at 4am.\n>\n> What helps?\n\n",
			want: "",
		},
		{
			name: "a reply that only quotes, with a signature, is empty",
			in:   "> > Q?\n> A.\n\n-- \nBob\n",
			want: "",
		},
		{
			name: "Yahoo --- On ... wrote:",
			in:   "Fine by me.\n\n--- On Wed, 4/4/12, Ana <ana@example.org> wrote:\n\nFrom: Ana\nSubject: x",
			want: "Fine by me.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Text(tt.in, tt.opts)
			if r.Text != tt.want {
				t.Errorf("Text = %q, want %q (elided %q)", redact(r.Text), redact(tt.want), redact(r.Elided))
			}
		})
	}
}

// TestElidedKeepsEverything checks that no non-blank line disappears: each
// is in Text or in Elided.
func TestElidedKeepsEverything(t *testing.T) {
	in := "Answer.\n\n-- \nBob\n\nOn 1 Jan 2020, Ana <ana@example.org> wrote:\n> q\n"
	r := Text(in, Options{})
	for _, l := range strings.Split(in, "\n") {
		if l = strings.TrimRight(l, " \t"); l == "" {
			continue
		}
		if !strings.Contains(r.Text, l) && !strings.Contains(r.Elided, l) {
			t.Errorf("line %q lost", l)
		}
	}
}

// TestLongQuote runs the 766 KB fixture whose line 7 is ~707k '>' chars. It
// is a safety net against super-linear behaviour, not a benchmark.
func TestLongQuote(t *testing.T) {
	body := readFile(t, filepath.Join(corpusDir(t), "email-reply-parser", "github", "emails", "email_long_quote.txt"))
	start := time.Now()
	r := Text(body, Options{Sent: []string{notification}, Markers: []string{"-- Reply above this line --"}})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("email_long_quote.txt took %v, want well under a second", d)
	}
	if !strings.HasPrefix(r.Text, "Hi folks") {
		t.Errorf("unexpected start of Text: %.40q", r.Text)
	}
}

func BenchmarkText(b *testing.B) {
	dir := filepath.Join(corpusDir(b), "email-reply-parser")
	bodies := []string{
		readFile(b, filepath.Join(dir, "github", "emails", "email_long_quote.txt")),
		readFile(b, filepath.Join(dir, "discourse-email_reply_trimmer", "emails", "embedded_email_10.txt")),
		readFile(b, filepath.Join(dir, "discourse-email_reply_trimmer", "emails", "spam_1.txt")),
	}
	opts := Options{Sent: []string{notification}}
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range bodies {
			Text(body, opts)
		}
	}
}

// FuzzText checks that Text never panics and only returns lines of its
// (normalised) input.
func FuzzText(f *testing.F) {
	f.Add("Hello\n\nOn 1 Jan 2020, Ana <ana@example.org> wrote:\n> Hi\n", "")
	f.Add("> q\n\na\n\n> q2\n\nb\n-- \nsig", "q2 and more words of ours here to match")
	f.Add("From: a\nSent: b\nTo: c\n\nx", "x")
	f.Add("Mine.\n\n---------- Forwarded message ---------\nFrom: C <c@d.example>\nDate: x\nSubject: s\nTo: <e@f.example>\n\nFwd.\n\nOn 1 Jan 2020, A <a@b.example> wrote:\n> q\n", "")
	f.Add("Mine.\n\n> Begin forwarded message:\n>\n> Fwd.\n\n\u202bבתאריך 2 בינו׳ 2006 ב-15:04 מאת \u202aA\u202c\u200f <\u202aa@b.example\u202c\u200f>:\u202c\n> q\n", "")
	f.Fuzz(func(t *testing.T, body, sent string) {
		r := Text(body, Options{Sent: []string{sent}, Markers: []string{"-- reply above --"}})
		norm := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
		have := map[string]bool{}
		for _, l := range strings.Split(norm, "\n") {
			have[strings.TrimRight(l, " \t")] = true
		}
		for _, part := range []string{r.Text, r.Elided} {
			if part == "" {
				continue
			}
			for _, l := range strings.Split(part, "\n") {
				if !have[l] {
					t.Fatalf("line %q is not from the input", redact(l))
				}
			}
		}
	})
}

// pathologicalShapes are large repetitive inputs built to stress each
// rule; scale multiplies their size.
func pathologicalShapes(scale int) map[string]string {
	return map[string]string{
		"alternating quote and rule": "own\n" + strings.Repeat("> a\n----\n", 5000*scale),
		"many attributions":          strings.Repeat("x\nOn 1 Jan 2020, A <a@b.example> wrote:\n", 3000*scale),
		"many quoted attributions":   strings.Repeat("> On 1 Jan 2020, A <a@b.example> wrote:\n>\n", 3000*scale),
		"many header lines":          "hi\n" + strings.Repeat("To: x\n", 6000*scale),
		"interleaved":                strings.Repeat("> q\n\nanswer\n\n", 4000*scale),
		"long prose lines":           strings.Repeat(strings.Repeat("word ", 2000)+"\n", 20*scale),
		"mailto joins":               strings.Repeat("On 1 Jan 2020 x\n\n<\n", 4000*scale),
	}
}

// TestPathologicalShapes runs every stress shape and checks the result is
// made of input lines. Speed is measured by BenchmarkPathologicalShapes
// (make bench), not asserted here: tests assert no times.
func TestPathologicalShapes(t *testing.T) {
	sent := strings.Repeat("answer q word a x ", 500)
	for name, in := range pathologicalShapes(1) {
		r := Text(in, Options{Sent: []string{sent}})
		if len(r.Text)+len(r.Elided) == 0 || len(r.Text)+len(r.Elided) > len(in)+2 {
			t.Errorf("%s: output %d+%d bytes from %d", name, len(r.Text), len(r.Elided), len(in))
		}
	}
}

// BenchmarkPathologicalShapes reports the time per shape at two sizes:
// the ratio shows whether trimming stays linear.
func BenchmarkPathologicalShapes(b *testing.B) {
	sent := strings.Repeat("answer q word a x ", 5000)
	for _, scale := range []int{5, 10} {
		for name, in := range pathologicalShapes(scale) {
			b.Run(fmt.Sprintf("%s/x%d", name, scale), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					Text(in, Options{Sent: []string{sent}})
				}
			})
		}
	}
}

// TestProseEndingInAVerbIsKept guards the short start words of locales
// ("la", "le", "am", "on"): a sentence that starts with one and ends with
// a verb of writing, with no date or address (attrFirstLineOK) and no
// quote under it, is the writer's text, not an attribution.
func TestProseEndingInAVerbIsKept(t *testing.T) {
	for _, in := range []string{
		"Gracias.\n\nLa doctora escribió:\nduerma más y beba menos café.\n\nSaludos",
		"Merci.\n\nLe médecin a écrit :\ndormez plus.\n",
		"Danke.\n\nAm Ende schrieb sie:\nes wird besser.\n",
		"Thanks.\n\nOn the forum Ana wrote:\nsleep is a habit.\n",
	} {
		if r := Text(in, Options{}); r.Text != strings.TrimSpace(in) {
			t.Errorf("Text(%q) = %q, want it all", redact(in), redact(r.Text))
		}
	}
}

// TestLocaleFooterNeedsADevice checks that a line shaped like a localised
// "Sent from my …" footer (locales' sentFrom) counts only when it names a
// device or mail app: "Lähetetty eilen postissa." (sent yesterday by
// post) and "Odesláno z domova." (sent from home) are the writer's text,
// and the text under them is kept.
func TestLocaleFooterNeedsADevice(t *testing.T) {
	for _, in := range []string{
		"Kiitos.\n\nLähetetty eilen postissa.\nTulee perjantaina.",
		"Díky.\n\nOdesláno z domova.\nPřijde v pátek.",
		"Teşekkürler.\n\nDün kargoyla gönderildi.\nCuma günü gelir.",
	} {
		if r := Text(in, Options{}); r.Text != in {
			t.Errorf("Text(%q) = %q, want it all", in, r.Text)
		}
	}
	for _, in := range []string{"Kiitos.\n\nLähetetty iPhonesta", "Díky.\n\nOdesláno z iPhonu", "감사합니다.\n\niPhone에서 보냄"} {
		if r := Text(in, Options{}); strings.Contains(r.Text, "\n") {
			t.Errorf("Text(%q) = %q, want the footer removed", in, r.Text)
		}
	}
}

// TestQuotedForwardInInterleavedReply checks that a quoted forward
// followed by the writer's own text is not taken for a forward placed
// above the quote: the signature under the writer's text still goes.
func TestQuotedForwardInInterleavedReply(t *testing.T) {
	in := "See below.\n\n> Begin forwarded message:\n>\n> Fwd text.\n\nMy answer.\n\n-- \nBen\n\nOn 2 Jan 2006, at 15:04, Ana <ana@example.org> wrote:\n> q\n"
	want := "See below.\n\n> Begin forwarded message:\n>\n> Fwd text.\n\nMy answer."
	if r := Text(in, Options{}); r.Text != want {
		t.Errorf("Text = %q, want %q", redact(r.Text), redact(want))
	}
}
