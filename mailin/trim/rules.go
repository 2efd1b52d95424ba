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
// and their translations, optionally in "*bold*".
var delimiterRe = regexp.MustCompile(`(?i)^[*_ ]*-{2,}[ ]*(original message|original-nachricht|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|mensaje original|mensaje reenviado|message d'origine|message original|message transféré|messaggio originale|messaggio inoltrato|oorspronkelijk bericht|doorgestuurd bericht|originalmeddelande|vidarebefordrat meddelande|opprinnelig melding|oprindelig meddelelse|mensagem original|mensagem encaminhada|wiadomość oryginalna|исходное сообщение|пересылаемое сообщение|переслане повідомлення|原始邮件|原始郵件|転送されたメッセージ)[ ]*-{2,}[*_ ]*$`)

// forwardStartRe matches Apple Mail style forward introductions.
var forwardStartRe = regexp.MustCompile(`(?i)^(begin forwarded message|début du message réexpédié|anfang der weitergeleiteten nachricht|inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht)[ ]*:$`)

// isDelimiter reports whether s is an "original/forwarded message" line.
func isDelimiter(s string) bool {
	t := strings.TrimSpace(s)
	if len(t) > 120 {
		return false
	}
	return delimiterRe.MatchString(t) || forwardStartRe.MatchString(t)
}

// headerRe matches one line of a copied message header block as Outlook and
// webmail clients write it: "From: …", "*Sent:* …", "Von: …", "Från: …".
// Group 1 is the field name.
var headerRe = regexp.MustCompile(`(?i)^[*_]{0,2}(from|sent|date|to|cc|bcc|subject|reply-to|de|envoyé|envoye|à|objet|von|gesendet|an|betreff|datum|da|inviato|data|oggetto|risposta|a|enviado|para|asunto|fecha|van|verzonden|aan|onderwerp|från|skickat|till|ämne|kopia|od|wysłano|do|temat|от|отправлено|дата|кому|копия|тема|fra|sendt|til|emne|dato|lähettäjä|lähetetty|vastaanottaja|aihe|発信者|送信日時|宛先|件名|发件人|发送时间|收件人|主题|寄件者|傳送時間|收件者|主旨)[*_]{0,2}[ \t]*[:：][*_]{0,2}([ \t\x{a0}]|$)`)

// fromFields and dateFields are the header names that identify a copied
// header block even when only two of its lines are present.
var (
	fromFields = map[string]bool{"from": true, "de": true, "von": true, "da": true, "van": true, "från": true, "od": true, "от": true, "fra": true, "lähettäjä": true, "発信者": true, "发件人": true, "寄件者": true}
	dateFields = map[string]bool{"sent": true, "date": true, "envoyé": true, "envoye": true, "gesendet": true, "datum": true, "inviato": true, "data": true, "enviado": true, "fecha": true, "verzonden": true, "skickat": true, "wysłano": true, "отправлено": true, "дата": true, "sendt": true, "dato": true, "lähetetty": true, "送信日時": true, "发送时间": true, "傳送時間": true}
)

// headerField returns the lower-cased field name when s is a header line.
func headerField(s string) (string, bool) {
	if len(s) > 1000 {
		return "", false
	}
	// Field names are short: the colon must come early.
	if c := strings.IndexAny(s, ":："); c < 0 || c > 48 {
		return "", false
	}
	m := headerRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return strings.ToLower(m[1]), true
}

// attrStartRe matches how an attribution line begins: a localised "On",
// a date, a weekday, or a Zoho/Yahoo "---- On" prefix.
var attrStartRe = regexp.MustCompile(`(?i)^(-{2,} ?)?(on|le|am|op|el|il|em|den|dnia|at|w dniu|dne|på|en|в|在|понедельник|вторник|среда|четверг|пятница|суббота|воскресенье)[ ,]|^\d|^-{2,} ?on `)

// attrEndRe matches how a wrapped attribution ends: a verb of writing in
// one of many languages followed, within a short tail, by a colon, or
// Zoho's "wrote ----". attrEnd computes the same much faster; this stays
// as its definition, which the tests compare it with.
var attrEndRe = regexp.MustCompile(`(?i)(wrote|writes|a écrit|a ecrit|schrieb|schreef|geschreven|escribió|escribio|ha scritto|escreveu|написал|написала|написал\(а\)|пише|написав|napisał|napisała|napisał\(a\)|napsal|skrev|kirjoitti|írta|yazdı|έγραψε)[^\n]{0,80}[:：]$|wrote ?-{2,}$|(写道|寫道|書きました|さんは書きました)[:：]?$`)

// isoAttrRes match Gmail attributions that carry no verb: an ISO date with
// a GMT offset, or a slashed date followed by "Name <address>".
var isoAttrRes = []*regexp.Regexp{
	regexp.MustCompile(`^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2} GMT[+-]\d{1,2}(:\d{2})? .`),
	regexp.MustCompile(`^\d{4}/\d{1,2}/\d{1,2} [^<>]*<[^<>\s]+@[^<>\s]+>:?$`),
	regexp.MustCompile(`^\d{4}年\d{1,2}月\d{1,2}日.*<[^<>\s]+@[^<>\s]+>:?$`),
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
	if !attrEnd(j) {
		return false
	}
	if attrStartRe.MatchString(j) {
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
	if deviceFirstWords[strings.ToLower(first)] {
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
