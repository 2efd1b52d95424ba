package trim

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the line classifiers used by the plain-text layer. Every
// classifier looks at one line (or a short join of a few lines) and is
// bounded in length, so a pathological line costs linear time at most.

// maxRuleLine is the longest line the regexp-based classifiers look at.
// Attribution lines, header lines and device footers are all short; longer
// lines are always ordinary text or quotes.
const maxRuleLine = 400

// quotePrefixLen reports the length in bytes of the quote prefix of s: an
// optional single leading space, then ">" marks mixed with spaces, or a
// Supercite-style prefix of one to three capital letters followed by ">"
// (as in "C> text"). It returns 0 when s is not quoted.
func quotePrefixLen(s string) int {
	i := 0
	if i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '>' {
		for i < len(s) && (s[i] == '>' || s[i] == ' ' || s[i] == '\t') {
			i++
		}
		return i
	}
	j := i
	for j < len(s) && j-i < 3 && s[j] >= 'A' && s[j] <= 'Z' {
		j++
	}
	if j > i && j < len(s) && s[j] == '>' {
		for j < len(s) && (s[j] == '>' || s[j] == ' ' || s[j] == '\t') {
			j++
		}
		return j
	}
	return 0
}

// isBlank reports whether s holds only white space (Unicode-aware, so a
// line of no-break spaces is blank).
func isBlank(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}

// isRuleLine reports whether s, trimmed, is a run of at least three
// punctuation characters used as a visual separator ("-----", "____",
// "***", "====", "~~~~", "####", "++++"), optionally wrapped in "*" for
// bold, or the lone Mailbox tracking glyph U+1427.
func isRuleLine(s string) bool {
	t := strings.TrimFunc(s, unicode.IsSpace)
	if t == "\u1427" {
		return true
	}
	if len(t) < 2 {
		return false
	}
	var first rune
	count := 0
	for _, r := range t {
		switch r {
		case '-', '_', '=', '*', '~', '#', '+', '\u2014', '\u2013', '\u2500':
		default:
			return false
		}
		if first == 0 {
			first = r
		}
		count++
	}
	return count >= 2 && (count >= 3 || first == '-')
}

// isUnderscoreRule reports whether s is a separator made of at least four
// "_" or "-" characters (the rule Outlook, Mailman and many signatures use).
func isUnderscoreRule(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) < 4 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] != '_' && t[i] != '-' {
			return false
		}
	}
	return true
}

// isSigDelimiter reports whether s is a signature delimiter: "-- " (RFC
// 3676) or "--" as many clients and Usenet users write it.
func isSigDelimiter(s string) bool {
	return strings.TrimRight(s, " \t") == "--"
}

// dashNameRe matches a one-line "-Name" sign-off such as "-Abhishek Kona"
// (a hyphen glued to a word, so "- item" bullets never match).
var dashNameRe = regexp.MustCompile(`^-[\pL][\pL.'-]*( [\pL][\pL.'-]*){0,3}$`)

// isDashName reports whether s is a "-Name" sign-off line.
func isDashName(s string) bool {
	return len(s) < 60 && dashNameRe.MatchString(strings.TrimSpace(s))
}

// delimiterRe matches the rule lines clients put above a copied message:
// "-----Original Message-----", "---------- Forwarded message ---------"
// and their translations (locales), optionally in "*bold*", with ASCII
// hyphens or Proton's U+2010. forwardLineRe matches the forward lines
// among them.
var (
	delimiterRe   = regexp.MustCompile(`(?i)^[*_ ]*[-\x{2010}]{2,}[ ]*(` + alternation(append(append([]string{}, originalWords...), forwardWords...)) + `)[ ]*[-\x{2010}]{2,}[*_ ]*$`)
	forwardLineRe = regexp.MustCompile(`(?i)^[*_ ]*[-\x{2010}]{2,}[ ]*(` + alternation(forwardWords) + `)[ ]*[-\x{2010}]{2,}[*_ ]*$`)
)

// forwardStartRe matches Apple Mail style forward introductions
// ("Begin forwarded message:" and its translations).
var forwardStartRe = regexp.MustCompile(`(?i)^(` + alternation(introWords) + `)[ ]*[:：]$`)

// isForwardLine reports whether s (quote prefix removed) starts a
// forwarded message: a forward delimiter or an Apple introduction.
func isForwardLine(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) > 120 {
		return false
	}
	return forwardLineRe.MatchString(t) || forwardStartRe.MatchString(t)
}

// isDelimiter reports whether s is an "original/forwarded message" line.
func isDelimiter(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) > 120 {
		return false
	}
	return delimiterRe.MatchString(t) || forwardStartRe.MatchString(t)
}

// headerRe matches one line of a copied message header block as Outlook and
// webmail clients write it: "From: …", "*Sent:* …", "Von: …", "Från: …",
// in every language of locales. Group 1 is the field name.
var headerRe = regexp.MustCompile(`(?i)^[*_]{0,2}(` + alternation(headerWords) + `)[*_]{0,2}[ \t]*[:：][*_]{0,2}([ \t\x{a0}]|$)`)

// fromFields and dateFields are the header names that identify a copied
// header block even when only two of its lines are present.
var (
	fromFields = wordSet(fromFieldWords)
	dateFields = wordSet(dateFieldWords)
)

// headerNames is headerWords as a set (lower-cased), for headerField;
// maxHeaderName is the length in runes of the longest.
var (
	headerNames   = wordSet(headerWords)
	maxHeaderName = func() int {
		n := 0
		for w := range headerNames {
			n = max(n, utf8.RuneCountInString(w))
		}
		return n
	}()
)

// headerField returns the lower-cased field name when s is a header line.
// It is headerRe, computed with a set lookup instead of the regular
// expression's long alternation; the tests compare the two.
func headerField(s string) (string, bool) {
	if len(s) > 1000 {
		return "", false
	}
	t := strings.TrimSpace(s)
	// Field names are short: the colon must come early.
	c := strings.IndexAny(t, ":：")
	if c < 0 || c > 48 {
		return "", false
	}
	rest := t[c+1:]
	if t[c] != ':' {
		rest = t[c+len("："):]
	}
	if rest = trimMarks(rest, true); rest != "" {
		if r, _ := utf8.DecodeRuneInString(rest); r != ' ' && r != '\t' && r != '\u00a0' {
			return "", false
		}
	}
	name := trimMarks(strings.TrimRight(trimMarks(t[:c], true), " \t"), false)
	// strings.ToLower maps rune to rune: a longer name is none of ours,
	// and is not lower-cased (which allocates) to find that out.
	if utf8.RuneCountInString(name) > maxHeaderName {
		return "", false
	}
	name = strings.ToLower(name)
	if !headerNames[name] {
		return "", false
	}
	return name, true
}

// trimMarks removes up to two "*" or "_" (bold or underline marks) from
// the start of s (front) or from its end.
func trimMarks(s string, front bool) string {
	for k := 0; k < 2 && s != ""; k++ {
		i := len(s) - 1
		if front {
			i = 0
		}
		if s[i] != '*' && s[i] != '_' {
			break
		}
		if front {
			s = s[1:]
		} else {
			s = s[:len(s)-1]
		}
	}
	return s
}

// attrStartRe matches how an attribution line begins: a localised "On"
// (locales), a date, a weekday, or a Zoho/Yahoo "---- On" prefix.
// attrBreakRe is the same without the one-letter words ("a", "в", "ב"):
// a wrapped attribution's second line may start with those, so they do
// not end a join. attrStart computes both much faster; these stay as
// their definitions, which the tests compare it with.
var (
	attrStartRe = regexp.MustCompile(`(?i)^(-{2,} ?)?(` + alternation(attrStartWords) + `)[ ,\-\x{05be}]|^\d|^-{2,} ?on `)
	attrBreakRe = regexp.MustCompile(`(?i)^(-{2,} ?)?(` + alternation(longWords(attrStartWords)) + `)[ ,\-\x{05be}]|^\d|^-{2,} ?on `)
)

// longWords returns the words of more than one letter, and the CJK ones.
func longWords(ws []string) []string {
	var out []string
	for _, w := range ws {
		if r := []rune(w); len(r) > 1 || r[0] >= 0x3000 {
			out = append(out, w)
		}
	}
	return out
}

// attrEndRe matches how a wrapped attribution ends: a verb of writing
// (locales) followed, within a short tail, by a colon, or Zoho's "wrote
// ----", or a CJK verb with or without a colon. attrEnd computes the same
// much faster; this stays as its definition, which the tests compare it
// with.
var attrEndRe = regexp.MustCompile(`(?i)(` + alternation(attrVerbWords) + `)[^\n]{0,80}[:：]$|wrote ?-{2,}$|(` + alternation(attrSuffixVerbs) + `)[:：]?$`)

// isoAttrRes match Gmail attributions that carry no verb: an ISO date with
// a GMT offset, or a slashed date followed by "Name <address>".
var isoAttrRes = []*regexp.Regexp{
	regexp.MustCompile(`^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2} GMT[+-]\d{1,2}(:\d{2})? .`),
	regexp.MustCompile(`^\d{4}/\d{1,2}/\d{1,2} [^<>]*<[^<>\s]+@[^<>\s]+>:?$`),
	regexp.MustCompile(`^\d{4}年\d{1,2}月\d{1,2}日.*<[^<>\s]+@[^<>\s]+>:?$`),
}

// verblessRe matches attributions with no verb at all: a time or a year,
// a name, an address in angle brackets and a colon, as Gmail writes them
// in Russian, Hebrew, Arabic and Japanese ("пн, 2 янв. 2006 г. в 15:04,
// Name <addr>:") and Apple Mail in Czech.
var verblessRe = regexp.MustCompile(`(\d{1,2}[:.]\d{2}|\d{4})[^<>]*<[^<>\s]+@[^<>\s]+>[:：]$`)

// verbless reports verblessRe.MatchString(j), computed without the
// regular expression, whose unanchored search cost most of the time
// spent on a line; verblessRe stays as its definition, which the tests
// compare it with.
func verbless(j string) bool {
	s, ok := strings.CutSuffix(j, ":")
	if !ok {
		s, ok = strings.CutSuffix(j, "：")
	}
	if !ok || !strings.HasSuffix(s, ">") {
		return false
	}
	lt := strings.LastIndexByte(s, '<')
	if lt < 0 {
		return false
	}
	addr := s[lt+1 : len(s)-1]
	if strings.ContainsAny(addr, "<> \t\n\f\r") {
		return false
	}
	innerAt := false
	for k := 1; k+1 < len(addr); k++ {
		if addr[k] == '@' {
			innerAt = true
			break
		}
	}
	if !innerAt {
		return false
	}
	seg := s[:lt]
	return hasTimeOrYear(seg[strings.LastIndexAny(seg, "<>")+1:])
}

// hasTimeOrYear reports whether s holds four ASCII digits in a row, or a
// digit, a ":" or "." and two digits.
func hasTimeOrYear(s string) bool {
	run := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		if isDigit(c) {
			if run++; run >= 4 {
				return true
			}
			continue
		}
		if run > 0 && (c == ':' || c == '.') && k+2 < len(s) && isDigit(s[k+1]) && isDigit(s[k+2]) {
			return true
		}
		run = 0
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// stripBidi removes the bidirectional formatting characters (U+200E,
// U+200F, U+061C, U+202A to U+202E, U+2066 to U+2069) that Gmail puts
// around names and addresses in right-to-left attributions, so that the
// rules see the text. Lines without them are returned as they are.
func stripBidi(s string) string {
	if !strings.Contains(s, "\u061c") && strings.IndexByte(s, 0xe2) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == 0x200e, r == 0x200f, r == 0x061c, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return -1
		}
		return r
	}, s)
}

// looksLikeAttribution reports whether the joined text j (quote prefixes
// removed, lines joined with spaces) is a reply attribution such as "On
// Mon, 1 Feb 2016, Name <addr> wrote:".
func looksLikeAttribution(j string) bool {
	j = strings.TrimSpace(j)
	if j == "" || len(j) > maxRuleLine {
		return false
	}
	// Cheap pre-check before the regexps: every form ends with a colon,
	// a dash run, 道 or た, except the ISO forms, which start with a year.
	last, _ := utf8.DecodeLastRuneInString(j)
	if last != ':' && last != '：' && last != '-' && last != '道' && last != 'た' && last != '>' && !startsWithYear(j) {
		return false
	}
	for _, re := range isoAttrRes {
		if re.MatchString(j) {
			return true
		}
	}
	if verbless(j) {
		return true
	}
	if !attrEnd(j) {
		return false
	}
	if attrStart(j, attrStartIdx) {
		return true
	}
	// "Name <addr> wrote:", "Name via List <addr> schrieb:" and the
	// Russian "… пользователь … написал:" forms.
	return addressRe.MatchString(j) || strings.Contains(j, "пользователь") || strings.Contains(j, "користувач")
}

// addressRe matches an email address (loosely: local@domain.tld).
var addressRe = regexp.MustCompile(`[^\s@<>"]+@[^\s@<>"]+\.[a-zA-Z]{2,}`)

// startsWithYear reports whether s starts with four ASCII digits.
func startsWithYear(s string) bool {
	if len(s) < 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// attrFirstLineOK reports whether s may be the first line of an attribution:
// it must carry a digit or an address, which keeps prose such as "On this
// day" from starting a multi-line join.
func attrFirstLineOK(s string) bool {
	if len(s) > maxRuleLine {
		return false
	}
	for _, r := range s {
		if unicode.IsDigit(r) || r == '@' {
			return true
		}
	}
	return false
}

// sentPrefixRe matches the start of an English "Sent from my …" footer and
// captures the rest of the line.
var sentPrefixRe = regexp.MustCompile(`(?i)^[(<\[ ]*sent (?:from|via|with|using|by|on) (.*)$`)

// deviceFirstWords are the lower-cased first words with which the
// footers of deviceRes and sentPrefixRe can start; mayBeDeviceLine checks
// them before any regular expression runs (most lines start otherwise).
var deviceFirstWords = map[string]bool{
	"envoyé": true, "envoye": true, "von": true, "diese": true, "sendt": true, "skickat": true, "sent": true,
	"verzonden": true, "enviado": true, "inviato": true, "wysłane": true, "отправлено": true, "get": true, "<<": true,
}

// mayBeDeviceLine is a cheap filter for isDeviceLine.
func mayBeDeviceLine(t string) bool {
	first := strings.TrimLeft(t, "(<[ ")
	if strings.HasPrefix(t, "<<") {
		first = "<<"
	}
	if i := strings.IndexAny(first, " \t"); i >= 0 {
		first = first[:i]
	}
	if lf := strings.ToLower(first); deviceFirstWords[lf] || footerWords[lf] {
		return true
	}
	if i := strings.LastIndexAny(t, " \t"); i >= 0 && footerWords[strings.ToLower(strings.TrimSuffix(t[i+1:], "."))] {
		return true
	}
	// The CJK footers have no spaces: look for their fixed parts.
	for _, k := range []string{"我的", "傳送", "发送", "から送信"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// deviceRes match localised mobile and desktop client footers.
var deviceRes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^(envoyé|envoye) (depuis|de|avec) (mon|ma|un|une|l'application) `),
	regexp.MustCompile(`(?i)^von meine[mnr]? .{1,60} (gesendet|verschickt)\.?$`),
	regexp.MustCompile(`(?i)^diese nachricht wurde von meinem .{1,80} gesendet`),
	regexp.MustCompile(`(?i)^(sendt|skickat|sent) (fra|från|frå) (min|mitt|my) `),
	regexp.MustCompile(`(?i)^verzonden (met|vanaf|van|via) `),
	regexp.MustCompile(`(?i)^enviado (desde|do|de|con) (mi|meu|o|a|un|uma|el) `),
	regexp.MustCompile(`(?i)^inviato da(l mio)? `),
	regexp.MustCompile(`(?i)^wysłane z `),
	regexp.MustCompile(`(?i)^отправлено (с|из|со) `),
	regexp.MustCompile(`^(从|從|发自|發自)我的.{1,40}$|^.{1,40}(傳送|发送)$|^.{1,40}から送信$`),
	regexp.MustCompile(`(?i)^get \[?outlook for (ios|android)`),
	regexp.MustCompile(`(?i)^<<\s*sent by .{1,40}>>$`),
	regexp.MustCompile(`(?i)^\(sent from .{1,40}\)$`),
}

// deviceWords are words that make a "Sent from …" line a client footer even
// when it is long ("Sent from my HTC M8 Android phone. Please excuse typos").
var deviceWords = map[string]bool{
	"iphone": true, "ipad": true, "ipod": true, "blackberry": true, "android": true, "mobile": true,
	"phone": true, "cell": true, "cellphone": true, "smartphone": true, "samsung": true, "galaxy": true,
	"htc": true, "windows": true, "mail": true, "outlook": true, "yahoo": true, "gmail": true, "airmail": true,
	"mailbox": true, "device": true, "tablet": true, "verizon": true, "sprint": true, "t-mobile": true,
	"nokia": true, "motorola": true, "huawei": true, "xiaomi": true, "pixel": true, "nexus": true,
	"kindle": true, "sony": true, "lg": true, "oneplus": true, "iOS": true, "ios": true, "proton": true,
	"spark": true, "newton": true, "superhuman": true, "sparrow": true, "palm": true, "handheld": true,
}

var (
	linkMarkdownRe = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	linkAngleRe    = regexp.MustCompile(`<[a-zA-Z]+:[^>]*>`)
	linkBareRe     = regexp.MustCompile(`[a-zA-Z]+://\S+`)
)

// isDeviceLine reports whether s is a client footer such as "Sent from my
// iPhone" or "Von meinem Mobilgerät gesendet". Prose that merely begins
// "Sent from my desk, …" is not one.
func isDeviceLine(s string) bool {
	t := strings.TrimSpace(s)
	if t == "" || len(t) > 160 || !mayBeDeviceLine(t) {
		return false
	}
	for _, re := range deviceRes {
		if re.MatchString(t) {
			return true
		}
	}
	if isLocaleFooter(t) {
		return true
	}
	m := sentPrefixRe.FindStringSubmatch(t)
	if m == nil {
		return false
	}
	rest := linkMarkdownRe.ReplaceAllString(m[1], "$1")
	rest = linkAngleRe.ReplaceAllString(rest, " ")
	rest = linkBareRe.ReplaceAllString(rest, " ")
	rest = strings.TrimSpace(rest)
	if l := strings.ToLower(rest); strings.HasPrefix(l, "my ") {
		rest = rest[3:]
	}
	words := strings.Fields(rest)
	if len(words) <= 4 {
		return true
	}
	for _, w := range words[:4] {
		w = strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }))
		if deviceWords[w] {
			return true
		}
	}
	return false
}

// replyAboveRe matches the "reply above this line" markers that forum
// software (ours and Discourse's) put in notifications.
var replyAboveRe = regexp.MustCompile(`(?i)(reply|write|type|respond|answer)[a-z ]{0,30} above this line|(antwort|antworten)[a-zäöüß ]{0,40}(oberhalb|über) dieser zeile|au-dessus de cette ligne|por encima de esta línea|sopra questa riga|boven deze regel`)

// replyAboveHints are fragments one of which every replyAboveRe match
// contains; checking them first keeps the regexp off ordinary lines.
var replyAboveHints = []string{"this line", "dieser zeile", "cette ligne", "esta línea", "questa riga", "deze regel"}

// mayBeReplyAbove reports whether the lower-cased line lc may match
// replyAboveRe.
func mayBeReplyAbove(lc string) bool {
	for _, h := range replyAboveHints {
		if strings.Contains(lc, h) {
			return true
		}
	}
	return false
}

// previousRepliesRe matches Discourse's "Previous Replies" heading (also
// German), which follows a "---" rule in its notifications.
var previousRepliesRe = regexp.MustCompile(`(?i)^[*_#> ]*(previous replies|previous discussion|vorherige antworten)[*_ ]*$`)
