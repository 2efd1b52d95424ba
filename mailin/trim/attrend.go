package trim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// attrVerbs are the verbs of writing of attrEndRe (attrVerbWords), as
// case-folded runes (see foldRune), listed by their last rune so that
// each position of a line is compared with the few verbs that can end
// there. wroteVerb is "wrote", for Zoho's "wrote ----".
var (
	attrVerbs = func() map[rune][][]rune {
		out := map[rune][][]rune{}
		for _, v := range attrVerbWords {
			f := foldRunes(v)
			out[f[len(f)-1]] = append(out[f[len(f)-1]], f)
		}
		return out
	}()
	wroteVerb = foldRunes("wrote")
)

// foldRune returns the smallest rune of r's simple case-folding orbit:
// two runes are equal under (?i) in a regular expression exactly when
// their foldRune are.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}

// foldRunes returns the runes of s, each folded (invalid bytes as
// utf8.RuneError, one each, as regular expressions read them).
func foldRunes(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, foldRune(r))
	}
	return out
}

// attrEnd reports whether s ends like an attribution: it is
// attrEndRe.MatchString(s), computed without the regular expression,
// whose case-insensitive alternation of non-ASCII verbs costs about 0.1 ms
// a line (most of the time spent trimming a reply).
func attrEnd(s string) bool {
	// (verb)[^\n]{0,80}[:：]$
	if last, n := utf8.DecodeLastRuneInString(s); last == ':' || last == '：' {
		rs := foldRunes(s[:len(s)-n])
		// Positions from the end: a verb must end at most 80 runes
		// before the colon, with no line break after it.
		for end := len(rs); end > 0 && len(rs)-end <= 80; end-- {
			if end < len(rs) && rs[end] == '\n' {
				break
			}
			for _, v := range attrVerbs[rs[end-1]] {
				if len(v) <= end && runesEqual(rs[end-len(v):end], v) {
					return true
				}
			}
		}
	}
	// wrote ?-{2,}$
	if t := strings.TrimRight(s, "-"); len(s)-len(t) >= 2 {
		t = strings.TrimSuffix(t, " ")
		if len(t) >= 5 && runesEqual(foldRunes(t[len(t)-5:]), wroteVerb) {
			return true
		}
	}
	// (写道|寫道|書きました|さんは書きました)[:：]?$ (no case in these)
	t := s
	if c, ok := strings.CutSuffix(t, ":"); ok {
		t = c
	} else if c, ok := strings.CutSuffix(t, "："); ok {
		t = c
	}
	for _, suf := range attrSuffixVerbs {
		if strings.HasSuffix(s, suf) || strings.HasSuffix(t, suf) {
			return true
		}
	}
	return false
}

func runesEqual(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// attrStartIdx and attrBreakIdx are attrStartWords and their long words
// (see attrBreakRe), case-folded and listed by their first rune.
var (
	attrStartIdx = foldIndex(attrStartWords)
	attrBreakIdx = foldIndex(longWords(attrStartWords))
)

// foldIndex returns the words case-folded (foldRunes) and listed by their
// first rune.
func foldIndex(words []string) map[rune][][]rune {
	out := map[rune][][]rune{}
	for _, w := range words {
		f := foldRunes(w)
		out[f[0]] = append(out[f[0]], f)
	}
	return out
}

// attrStart reports attrStartRe.MatchString(s) (idx attrStartIdx) or
// attrBreakRe.MatchString(s) (idx attrBreakIdx), computed without their
// long case-insensitive alternations.
func attrStart(s string, idx map[rune][][]rune) bool {
	if s == "" {
		return false
	}
	if isDigit(s[0]) {
		return true
	}
	// ^(-{2,} ?)?word[ ,-\x{05be}] and ^-{2,} ?on (a word of the table).
	if t := strings.TrimLeft(s, "-"); len(s)-len(t) >= 2 {
		if startsWithWord(strings.TrimPrefix(t, " "), idx) || startsWithWord(t, idx) {
			return true
		}
	}
	return startsWithWord(s, idx)
}

// startsWithWord reports whether s starts with one of the folded words of
// idx followed by a space, a comma, a hyphen or a Hebrew maqaf.
func startsWithWord(s string, idx map[rune][][]rune) bool {
	r0, _ := utf8.DecodeRuneInString(s)
	for _, w := range idx[foldRune(r0)] {
		rest := s
		ok := true
		for _, wr := range w {
			r, n := utf8.DecodeRuneInString(rest)
			if n == 0 || foldRune(r) != wr {
				ok = false
				break
			}
			rest = rest[n:]
		}
		if !ok {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(rest); r == ' ' || r == ',' || r == '-' || r == '\u05be' {
			return true
		}
	}
	return false
}
