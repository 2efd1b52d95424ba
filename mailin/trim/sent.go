package trim

import (
	"strings"
	"unicode"
)

// Layer 2: cutting where the reply starts repeating a notification we sent.
//
// Texts are compared as sequences of lower-cased words (letters and digits),
// so quote prefixes, re-wrapping, punctuation and white space do not matter:
// a reply line copied from our text is a contiguous run of our words,
// wherever the client broke the lines.

// minOwnWords is how many words a reply line needs before it can be
// recognised as a copy of our text; shorter lines ("Thanks", "Hi Bob,")
// match by chance too easily.
const minOwnWords = 3

// minSentMatch is how many words of our text must follow the cut point.
const minSentMatch = 8

// maxSentLine bounds the line length compared against our text.
const maxSentLine = 4000

// words returns the lower-cased words (runs of letters and digits) of s
// joined by single spaces.
func words(s string) string {
	var b strings.Builder
	inWord := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if !inWord && b.Len() > 0 {
				b.WriteByte(' ')
			}
			inWord = true
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		inWord = false
	}
	return b.String()
}

// sentCut returns the first line of the trailing part of lines [0, end)
// that repeats one of the sent texts, or end when there is none.
//
// A line is "ours" when it has at least minOwnWords words and each run of
// three consecutive words (a trigram) occurs in a sent text; this is a
// linear-time stand-in for "is a contiguous run of our words". The cut is the earliest ours
// line such that no later line is unquoted text of someone else (blank,
// short, quoted, header and attribution lines are neutral) and at least
// min(minSentMatch, words of the sent text) words of ours lines follow.
func (d *doc) sentCut(sent []string, end int) int {
	grams := map[string]bool{}
	maxWords := 0
	for _, s := range sent {
		ws := strings.Fields(words(s))
		for k := 0; k+3 <= len(ws); k++ {
			grams[ws[k]+" "+ws[k+1]+" "+ws[k+2]] = true
		}
		maxWords = max(maxWords, len(ws))
	}
	if len(grams) == 0 {
		return end
	}
	need := min(minSentMatch, maxWords)
	total := 0
	cut := end
	for i := end - 1; i >= 0; i-- {
		c := d.content[i]
		if d.blank[i] || len(c) > maxSentLine {
			continue
		}
		ws := strings.Fields(words(c))
		if len(ws) < minOwnWords {
			continue
		}
		ours := true
		for k := 0; k+3 <= len(ws); k++ {
			if !grams[ws[k]+" "+ws[k+1]+" "+ws[k+2]] {
				ours = false
				break
			}
		}
		if ours {
			total += len(ws)
			if total >= need {
				cut = i
			}
			continue
		}
		if d.quoted[i] || d.isNeutral(i, end) {
			continue
		}
		break
	}
	return cut
}

// isNeutral reports whether line i, which is not a copy of our text, may
// still sit inside a copied notification: header lines, attribution lines,
// separators and delimiters.
func (d *doc) isNeutral(i, end int) bool {
	l := d.lines[i]
	if isRuleLine(l) || isDelimiter(l) {
		return true
	}
	if _, ok := headerField(d.content[i]); ok {
		return true
	}
	if _, ok := d.attributionAt(i, end, false); ok {
		return true
	}
	return false
}
