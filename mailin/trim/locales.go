package trim

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// This file is the table of localised words the text rules look for:
// how mail clients (Gmail, Outlook desktop and web, Apple Mail and iOS
// Mail, Thunderbird, K-9 / Thunderbird for Android, Yahoo, Proton) write
// attribution lines, copied header blocks and forward lines in each
// language. The regular expressions and lookup maps of rules.go and
// attrend.go are built from it once, at start; adding a language or a
// client's wording is adding words here (and a case to
// testdata/replies, see its MANIFEST.md).

// locale holds one language's words. Every list may be empty; words are
// matched case-insensitively.
type locale struct {
	tag string // BCP 47 tag, for the reader
	// on are the words an attribution line may start with ("On", "Am",
	// "Le", "W dniu"), followed by a space, a comma or a hyphen.
	on []string
	// wrote are the verbs of writing an attribution ends with, at most 80
	// characters before its final colon ("wrote", "schrieb", "a écrit").
	wrote []string
	// from and date are the header names of a copied header block that
	// name the sender and the date; other are its remaining names (to,
	// cc, subject, reply-to).
	from, date, other []string
	// original are the phrases of "-----Original Message-----" lines,
	// forwarded those of "---------- Forwarded message ---------" lines
	// (both between runs of dashes).
	original, forwarded []string
	// forwardIntro are Apple Mail's "Begin forwarded message:" lines,
	// without the colon.
	forwardIntro []string
	// sentFrom are mobile clients' footers ("Sent from my iPhone"), with
	// "%" for the device's name; the older, more varied forms of English,
	// German, French, Spanish, Italian, Portuguese, Dutch, the
	// Scandinavian languages, Polish, Russian, Chinese and Japanese are
	// deviceRes (rules.go).
	sentFrom []string
}

// locales is the table. Gmail localises only the "From" of a forwarded
// header block, so the English names also serve every language there.
var locales = []locale{
	{tag: "en", on: []string{"on", "at"}, wrote: []string{"wrote", "writes"},
		from: []string{"from"}, date: []string{"sent", "date"}, other: []string{"to", "cc", "bcc", "subject", "reply-to"},
		original: []string{"original message"}, forwarded: []string{"forwarded message"},
		forwardIntro: []string{"begin forwarded message"}},
	{tag: "de", on: []string{"am"}, wrote: []string{"schrieb", "geschrieben"},
		from: []string{"von"}, date: []string{"gesendet", "datum"}, other: []string{"an", "betreff", "kopie", "antwort an"},
		original: []string{"ursprüngliche nachricht", "original-nachricht"}, forwarded: []string{"weitergeleitete nachricht"},
		forwardIntro: []string{"anfang der weitergeleiteten nachricht", "anfang der weitergeleiteten e-mail"}},
	{tag: "fr", on: []string{"le"}, wrote: []string{"a écrit", "a ecrit"},
		from: []string{"de"}, date: []string{"envoyé", "envoye", "date"}, other: []string{"à", "objet", "cc", "répondre à"},
		original: []string{"message d'origine", "message original"}, forwarded: []string{"message transféré"},
		forwardIntro: []string{"début du message réexpédié", "début du message transféré"}},
	{tag: "es", on: []string{"el"}, wrote: []string{"escribió", "escribio"},
		from: []string{"de"}, date: []string{"enviado", "fecha"}, other: []string{"para", "asunto", "cc"},
		original: []string{"mensaje original"}, forwarded: []string{"mensaje reenviado"},
		forwardIntro: []string{"inicio del mensaje reenviado"}},
	{tag: "it", on: []string{"il", "il giorno"}, wrote: []string{"ha scritto"},
		from: []string{"da"}, date: []string{"inviato", "data"}, other: []string{"a", "oggetto", "risposta", "cc"},
		original: []string{"messaggio originale"}, forwarded: []string{"messaggio inoltrato"},
		forwardIntro: []string{"inizio messaggio inoltrato"}},
	{tag: "pt", on: []string{"em", "no dia", "a"}, wrote: []string{"escreveu"},
		from: []string{"de"}, date: []string{"enviada em", "enviado", "data"}, other: []string{"para", "assunto", "cc"},
		original: []string{"mensagem original"}, forwarded: []string{"mensagem encaminhada", "mensagem reencaminhada"},
		forwardIntro: []string{"início da mensagem reencaminhada", "início da mensagem encaminhada"}},
	{tag: "nl", sentFrom: []string{"verstuurd vanaf mijn %", "verstuurd met %"}, on: []string{"op"}, wrote: []string{"schreef", "geschreven"},
		from: []string{"van"}, date: []string{"verzonden", "datum"}, other: []string{"aan", "onderwerp", "cc"},
		original: []string{"oorspronkelijk bericht"}, forwarded: []string{"doorgestuurd bericht"},
		forwardIntro: []string{"begin doorgestuurd bericht"}},
	{tag: "sv", on: []string{"den", "på"}, wrote: []string{"skrev"},
		from: []string{"från"}, date: []string{"skickat", "datum"}, other: []string{"till", "ämne", "kopia"},
		original: []string{"ursprungligt meddelande", "originalmeddelande"}, forwarded: []string{"vidarebefordrat meddelande"},
		forwardIntro: []string{"vidarebefordrat mejl"}},
	{tag: "da", on: []string{"den"}, wrote: []string{"skrev"},
		from: []string{"fra"}, date: []string{"sendt", "dato"}, other: []string{"til", "emne", "cc"},
		original: []string{"oprindelig meddelelse"}, forwarded: []string{"videresendt meddelelse"},
		forwardIntro: []string{"start på videresendt besked"}},
	{tag: "nb", on: []string{"den"}, wrote: []string{"skrev"},
		from: []string{"fra"}, date: []string{"sendt", "dato"}, other: []string{"til", "emne", "kopi"},
		original: []string{"opprinnelig melding"}, forwarded: []string{"videresendt melding"},
		forwardIntro: []string{"videresendt melding"}},
	{tag: "fi", sentFrom: []string{"lähetetty %"}, wrote: []string{"kirjoitti"},
		from: []string{"lähettäjä"}, date: []string{"lähetetty", "päivämäärä"}, other: []string{"vastaanottaja", "aihe", "kopio"},
		original: []string{"alkuperäinen viesti"}, forwarded: []string{"välitetty viesti"}},
	{tag: "pl", on: []string{"w dniu", "dnia"}, wrote: []string{"napisał", "napisała", "napisał(a)", "napisana", "pisze"},
		from: []string{"od"}, date: []string{"wysłano", "data"}, other: []string{"do", "temat", "dw", "kopia"},
		original: []string{"wiadomość oryginalna"}, forwarded: []string{"przekazana wiadomość"},
		forwardIntro: []string{"początek przekazywanej wiadomości"}},
	{tag: "cs", sentFrom: []string{"odesláno z %"}, on: []string{"dne"}, wrote: []string{"napsal", "napsala"},
		from: []string{"od"}, date: []string{"odesláno", "datum"}, other: []string{"komu", "předmět", "kopie"},
		original: []string{"původní zpráva"}, forwarded: []string{"přeposlaná zpráva"}},
	{tag: "ru", on: []string{"в", "понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"},
		wrote: []string{"написал", "написала", "написал(а)", "пишет"},
		from:  []string{"от"}, date: []string{"отправлено", "дата"}, other: []string{"кому", "копия", "тема"},
		original: []string{"исходное сообщение"}, forwarded: []string{"пересылаемое сообщение"},
		forwardIntro: []string{"начало переадресованного сообщения"}},
	{tag: "uk", sentFrom: []string{"надіслано з %"}, wrote: []string{"пише", "написав", "написала"},
		from: []string{"від"}, date: []string{"надіслано", "дата"}, other: []string{"кому", "копія", "тема"},
		original: []string{"оригінальне повідомлення"}, forwarded: []string{"переслане повідомлення"}},
	{tag: "tr", sentFrom: []string{"% gönderildi"}, wrote: []string{"yazdı"},
		from: []string{"kimden"}, date: []string{"gönderildi", "tarih"}, other: []string{"kime", "konu", "bilgi"},
		original: []string{"özgün ileti"}, forwarded: []string{"iletilen mesaj", "İletilen mesaj"}}, // (?i) does not fold İ to i
	{tag: "el", sentFrom: []string{"στάλθηκε από %"}, on: []string{"στις"}, wrote: []string{"έγραψε"},
		from: []string{"από"}, date: []string{"στάλθηκε", "ημερομηνία"}, other: []string{"προς", "θέμα", "κοιν."},
		original: []string{"αρχικό μήνυμα"}, forwarded: []string{"προωθημένο μήνυμα"}},
	{tag: "he", sentFrom: []string{"נשלח מ%"}, on: []string{"ב", "בתאריך"}, wrote: []string{"כתב", "כתבה"},
		from: []string{"מאת"}, date: []string{"נשלח", "תאריך"}, other: []string{"אל", "נושא", "עותק"},
		original: []string{"הודעה מקורית"}, forwarded: []string{"הודעה שהועברה"}},
	{tag: "ar", sentFrom: []string{"أُرسلت من %", "أرسلت من %", "تم الإرسال من %"}, on: []string{"في"}, wrote: []string{"كتب", "كتابة"},
		from: []string{"من"}, date: []string{"تاريخ الإرسال", "تم الإرسال", "التاريخ"}, other: []string{"إلى", "الموضوع", "نسخة"},
		original: []string{"الرسالة الأصلية"}, forwarded: []string{"الرسالة المعاد توجيهها"}},
	{tag: "ja", wrote: []string{"のメール"},
		from: []string{"差出人", "発信者"}, date: []string{"送信日時", "日付"}, other: []string{"宛先", "件名", "cc"},
		original: []string{"元のメッセージ"}, forwarded: []string{"転送されたメッセージ", "転送メッセージ"},
		forwardIntro: []string{"転送されたメッセージ"}},
	{tag: "zh-Hans", on: []string{"在"}, wrote: []string{"写道"},
		from: []string{"发件人"}, date: []string{"发送时间", "日期"}, other: []string{"收件人", "主题", "抄送"},
		original: []string{"原始邮件"}, forwarded: []string{"转发的邮件", "转发邮件"}},
	{tag: "zh-Hant", wrote: []string{"寫道"},
		from: []string{"寄件者"}, date: []string{"寄件日期", "傳送時間", "日期"}, other: []string{"收件者", "主旨", "副本"},
		original: []string{"原始郵件"}, forwarded: []string{"轉寄的郵件", "轉寄郵件"}},
	{tag: "ko", sentFrom: []string{"%에서 보냄"}, wrote: []string{"작성", "쓴 글"},
		from: []string{"보낸 사람"}, date: []string{"보낸 날짜", "날짜"}, other: []string{"받는 사람", "제목", "참조"},
		original: []string{"원본 메시지"}, forwarded: []string{"전달된 메일", "전달된 메시지"}},
	{tag: "hu", wrote: []string{"írta"},
		from: []string{"feladó"}, date: []string{"elküldve", "dátum"}, other: []string{"címzett", "tárgy", "másolatot kap"},
		original: []string{"eredeti üzenet"}, forwarded: []string{"továbbított levél", "továbbított üzenet"}},
	{tag: "ro", sentFrom: []string{"trimis de pe %"}, on: []string{"pe", "la"}, wrote: []string{"a scris"},
		from: []string{"de la"}, date: []string{"trimis", "data"}, other: []string{"către", "subiect", "cc"},
		original: []string{"mesaj original"}, forwarded: []string{"mesaj redirecționat", "mesaj redirectionat"}},
}

// collect returns the distinct words that field picks from every locale,
// longest first (so that an alternation prefers "il giorno" to "il"). It
// does not change their case: strings.ToLower turns "İ" into "i", which
// a (?i) expression does not match to the "İ" of the input.
func collect(field func(locale) []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range locales {
		for _, w := range field(l) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// alternation returns the words as a regular-expression alternation.
func alternation(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(q, "|")
}

// wordSet returns the words, lower-cased, as a set.
func wordSet(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[strings.ToLower(w)] = true
	}
	return m
}

// Words picked from the table.
var (
	attrStartWords = collect(func(l locale) []string { return l.on })
	attrVerbWords  = collect(func(l locale) []string { return l.wrote })
	fromFieldWords = collect(func(l locale) []string { return l.from })
	dateFieldWords = collect(func(l locale) []string { return l.date })
	headerWords    = collect(func(l locale) []string { return append(append(append([]string{}, l.from...), l.date...), l.other...) })
	originalWords  = collect(func(l locale) []string { return l.original })
	forwardWords   = collect(func(l locale) []string { return l.forwarded })
	introWords     = collect(func(l locale) []string { return l.forwardIntro })
)

// footers are the sentFrom footers of every locale, lower-cased and cut
// at the "%"; footerWords are their first words (or, for those that start
// with the device, their last), for mayBeDeviceLine's cheap check.
var (
	footers = func() [][2]string {
		var out [][2]string
		for _, f := range collect(func(l locale) []string { return l.sentFrom }) {
			pre, post, _ := strings.Cut(strings.ToLower(f), "%")
			out = append(out, [2]string{pre, post})
		}
		return out
	}()
	footerWords = func() map[string]bool {
		m := map[string]bool{}
		for _, f := range footers {
			if ws := strings.Fields(f[0]); len(ws) > 0 {
				m[ws[0]] = true
			} else if ws := strings.Fields(f[1]); len(ws) > 0 {
				m[ws[len(ws)-1]] = true
			}
		}
		return m
	}()
)

// footerDevices are fragments one of which the device part of a sentFrom
// footer must hold, so that prose such as "Lähetetty eilen postissa."
// (sent yesterday by post) is not a footer. Finnish and Korean glue
// their endings to the name ("iPhonesta", "iPhone에서"), Czech bends it
// ("iPhonu").
var footerDevices = []string{"iphon", "ipad", "ipod", "android", "galaxy", "samsung", "pixel", "huawei", "xiaomi",
	"outlook", "gmail", "yahoo", "proton", "blackberry", "mail"}

// isLocaleFooter reports whether t (trimmed) is one of the sentFrom
// footers: its fixed words around a device name of 1 to 40 characters
// that holds one of footerDevices, with an optional final ".".
func isLocaleFooter(t string) bool {
	l := strings.TrimSuffix(strings.ToLower(t), ".")
	for _, f := range footers {
		if !strings.HasPrefix(l, f[0]) || !strings.HasSuffix(l, f[1]) || len(l) < len(f[0])+len(f[1])+1 {
			continue
		}
		dev := l[len(f[0]) : len(l)-len(f[1])]
		if n := utf8.RuneCountInString(dev); n > 40 || strings.TrimSpace(dev) != dev {
			continue
		}
		for _, w := range footerDevices {
			if strings.Contains(dev, w) {
				return true
			}
		}
	}
	return false
}

// attrSuffixVerbs end an attribution with or without a colon after them
// (the CJK forms "…写道", "…書きました"). They have no case.
var attrSuffixVerbs = []string{"写道", "寫道", "書きました"}
