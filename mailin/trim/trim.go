// Package trim separates what a person wrote in an email reply from what
// their mail client copied in: quoted messages, attribution lines ("On …
// wrote:"), copied header blocks, signatures, client footers and the text of
// Postern's own notification.
//
// It works in three layers:
//
//  1. HTML (function HTML): quote containers that clients mark up
//     (Gmail's gmail_quote, Apple's blockquote type=cite, Thunderbird's
//     moz-cite-prefix, Outlook's divRplyFwdMsg and reply separator, Yahoo,
//     Zimbra, Exchange) are cut from the HTML before it is turned into text.
//  2. Our own notification (Options): a marker line such as "-- Reply above
//     this line --" or, failing that, the point where the reply starts
//     repeating the text we sent, quoted or not.
//  3. Text rules (function Text): attribution lines, copied header
//     blocks, "-----Original Message-----" lines (their localised words
//     are the table of locales.go), "> " quotes, "-- " signatures and
//     "Sent from my …" footers. A reply that only quotes leaves no text
//     at all; a forwarded message the writer placed above the quote is
//     their own text and is kept (forwardAbove).
//
// Trimming never invents text: Result.Text and Result.Elided are made of the
// input's lines (with line endings normalised to "\n" and trailing blanks
// removed from each line). All matching uses Go's linear-time regexp and
// bounded line joins, so any input is processed in roughly linear time.
package trim

import (
	"strings"
)

// Result is what trimming a reply produced.
//
// Text is the person's own words. Elided is everything removed (quotes,
// attribution lines, signatures, our notification text), in input order, so
// a reader can expand it. Both have leading and trailing blank lines
// removed; either may be empty.
type Result struct {
	Text, Elided string
}

// Options tunes trimming.
//
// Markers are lines Postern puts in its own notifications (for example
// "-- Reply above this line --"); a line containing one of them (compared
// case-insensitively) starts the quoted part, even when nothing precedes it.
// Empty markers are ignored.
//
// Sent holds the plain-text bodies of notifications Postern sent to this
// person in this thread. When the reply, from some line to its end, consists
// of our text (quoted with "> " or not, re-wrapped or not) plus only blank,
// short, quoted or header lines, the reply is cut where that repetition
// starts, so clients that copy our message under a From:/Sent: block are
// handled without any marker.
type Options struct {
	Markers []string
	Sent    []string
}

// doc is a reply split into lines with per-line facts.
type doc struct {
	lines   []string // normalised lines (no "\r", no trailing blanks)
	content []string // lines without quote prefix, trimmed
	quoted  []bool   // line carries a quote prefix
	blank   []bool   // line (without quote prefix) is empty
	fence   []bool   // line is inside or delimits a ``` code fence
	fwd     []bool   // line belongs to a forward kept as the person's own (forwardAbove)
	keep    []bool   // line belongs to Text
}

// Text trims a plain-text reply body. It never fails: an input with nothing
// to trim comes back (normalised) as Result.Text.
func Text(body string, opts Options) Result {
	d := newDoc(body)
	n := len(d.lines)
	end := n
	if c := d.markerCut(opts.Markers); c < end {
		end = c
	}
	if c := d.sentCut(opts.Sent, end); c < end {
		end = c
	}
	for i := end; i < n; i++ {
		d.keep[i] = false
	}
	d.scan(end)
	d.trimTail()
	d.dropQuoteOnly()
	return d.result()
}

// dropQuoteOnly removes everything from Text when what is left holds no
// line of the person's own (only quoted and blank lines): a reply that
// only quotes, with or without an attribution, says nothing.
func (d *doc) dropQuoteOnly() {
	for i := range d.lines {
		if d.keep[i] && !d.quoted[i] && !d.blank[i] {
			return
		}
	}
	d.drop(0, len(d.lines))
}

// newDoc normalises line endings and classifies each line.
func newDoc(body string) *doc {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	raw := strings.Split(body, "\n")
	n := len(raw)
	d := &doc{
		lines:   make([]string, n),
		content: make([]string, n),
		quoted:  make([]bool, n),
		blank:   make([]bool, n),
		fence:   make([]bool, n),
		fwd:     make([]bool, n),
		keep:    make([]bool, n),
	}
	inFence := false
	for i, l := range raw {
		l = strings.TrimRight(l, " \t")
		d.lines[i] = l
		q := quotePrefixLen(l)
		d.quoted[i] = q > 0
		d.content[i] = strings.TrimSpace(stripBidi(l[q:]))
		d.blank[i] = isBlank(l[q:])
		d.keep[i] = true
		isFenceLine := q == 0 && strings.HasPrefix(strings.TrimSpace(l), "```")
		if isFenceLine {
			d.fence[i] = true
			inFence = !inFence
			continue
		}
		d.fence[i] = inFence
	}
	return d
}

// markerCut returns the index of the first line holding one of the markers
// or a well-known "reply above this line" text, or len(lines).
func (d *doc) markerCut(markers []string) int {
	var ms []string
	for _, m := range markers {
		if m = strings.ToLower(strings.TrimSpace(m)); m != "" {
			ms = append(ms, m)
		}
	}
	for i, c := range d.content {
		if c == "" || len(c) > maxRuleLine {
			continue
		}
		lc := strings.ToLower(c)
		for _, m := range ms {
			if strings.Contains(lc, m) {
				return i
			}
		}
		if mayBeReplyAbove(lc) && replyAboveRe.MatchString(c) {
			return i
		}
	}
	return len(d.lines)
}

// cut removes line i and everything after it from Text, together with the
// blank and separator lines directly above it.
func (d *doc) cut(i int) {
	j := i
	for j > 0 && d.keep[j-1] && !d.fence[j-1] && !d.fwd[j-1] && (d.blank[j-1] && !d.quoted[j-1] || !d.quoted[j-1] && isRuleLine(d.lines[j-1])) {
		j--
	}
	for k := j; k < len(d.lines); k++ {
		d.keep[k] = false
	}
}

// drop removes lines [from, to) from Text.
func (d *doc) drop(from, to int) {
	for k := from; k < to && k < len(d.lines); k++ {
		d.keep[k] = false
	}
}

// nextNonBlank returns the first kept non-blank line at or after i, or end.
func (d *doc) nextNonBlank(i, end int) int {
	for i < end && (!d.keep[i] || d.blank[i] && !d.quoted[i]) {
		i++
	}
	return i
}

// quoteBlockEnd returns the index after the last quoted line of the quote
// block starting at i; blank lines between quoted lines belong to it.
func (d *doc) quoteBlockEnd(i, end int) int {
	last := i
	for k := i; k < end; k++ {
		if d.quoted[k] {
			last = k
			continue
		}
		if d.blank[k] {
			continue
		}
		break
	}
	return last + 1
}

// headerBlockEnd returns the index after a copied header block ("From:",
// "Sent:", "To:", "Subject:" …) starting at line i, or i when there is none.
// A block needs three header lines, or a sender and a date line; one
// wrapped continuation line between header lines is allowed.
func (d *doc) headerBlockEnd(i, end int) int {
	if d.quoted[i] {
		return i
	}
	f, ok := headerField(d.content[i])
	if !ok {
		return i
	}
	count, hasFrom, hasDate := 1, fromFields[f], dateFields[f]
	last := i + 1
	cont := 0
	for k := i + 1; k < end && k < i+16; k++ {
		if d.blank[k] || d.quoted[k] {
			break
		}
		if f2, ok := headerField(d.content[k]); ok {
			count++
			hasFrom = hasFrom || fromFields[f2]
			hasDate = hasDate || dateFields[f2]
			last = k + 1
			cont = 0
			continue
		}
		if cont == 0 && k+1 < end && !d.quoted[k+1] {
			if _, ok := headerField(d.content[k+1]); ok {
				cont++
				continue
			}
		}
		break
	}
	if count >= 3 || count >= 2 && hasFrom && hasDate {
		return last
	}
	return i
}

// attributionAt reports whether an attribution ("On … wrote:") starts at
// line i and returns the index after its last line. Attributions wrapped
// over up to six lines are joined; blank lines are skipped only before a
// line that continues an address ("<", "mailto:"). When quoted is true the
// attribution must sit inside a quote.
func (d *doc) attributionAt(i, end int, quoted bool) (int, bool) {
	c0 := d.content[i]
	if d.fence[i] {
		return i, false
	}
	// "Name via List wrote:" carries neither a date nor an address; it
	// counts only on one line directly above a quote.
	if !quoted && !d.quoted[i] && len(c0) <= 100 && i+1 < end && d.quoted[i+1] && attrEnd(c0) {
		return i + 1, true
	}
	if !attrFirstLineOK(c0) {
		return i, false
	}
	j := c0
	if looksLikeAttribution(j) {
		return i + 1, true
	}
	prev := c0
	for k := i + 1; k < end && k < i+6; k++ {
		if d.fence[k] || quoted && !d.quoted[k] {
			break
		}
		c := d.content[k]
		if c == "" {
			nb := k + 1
			for nb < end && nb < i+6 && d.content[nb] == "" {
				nb++
			}
			if nb >= end || nb >= i+6 {
				break
			}
			if nc := d.content[nb]; !strings.HasPrefix(nc, "<") && !strings.HasPrefix(strings.ToLower(nc), "mailto:") {
				break
			}
			continue
		}
		// A line that starts like an attribution starts a new one,
		// unless the line before ends with a comma (a wrapped date) or
		// the lines so far hold the sender's address (the verb and
		// date of "Name <addr> wrote on …:" wrapped).
		if len(c) > 100 || endsSentence(prev) || !strings.HasSuffix(prev, ",") && !strings.Contains(j, "@") && attrStart(c, attrBreakIdx) {
			break
		}
		// Gmail wraps right after the "<" of an address: join it back.
		if strings.HasSuffix(j, "<") {
			j += c
		} else {
			j += " " + c
		}
		if looksLikeAttribution(j) {
			return k + 1, true
		}
		prev = c
	}
	return i, false
}

// endsSentence reports whether s ends like a sentence (a letter followed by
// ".", "!" or "?"), which an attribution's wrapped first part never does.
func endsSentence(s string) bool {
	if len(s) < 2 {
		return false
	}
	last := s[len(s)-1]
	if last != '.' && last != '!' && last != '?' {
		return false
	}
	b := s[len(s)-2]
	return b >= 'a' && b <= 'z' || b == '.'
}

// isBoundary reports whether line i starts something that is not the
// person's own text: a signature, a client footer, a copied header, an
// attribution or a separator.
func (d *doc) isBoundary(i, end int) bool {
	l := d.lines[i]
	if d.fence[i] {
		return false
	}
	if isSigDelimiter(l) || isDeviceLine(l) || isDelimiter(l) || isRuleLine(l) || isUnderscoreRule(l) {
		return true
	}
	if d.headerBlockEnd(i, end) > i {
		return true
	}
	if _, ok := d.attributionAt(i, end, false); ok {
		return true
	}
	if isDashName(l) && d.nextNonBlank(i+1, end) >= end {
		return true
	}
	return false
}

// ownAfter reports whether the first non-blank line at or after i is the
// person's own text (unquoted and not a boundary).
func (d *doc) ownAfter(i, end int) bool {
	m := d.nextNonBlank(i, end)
	return m < end && !d.quoted[m] && !d.isBoundary(m, end)
}

// interleavedAfter reports whether, starting in own text at i, another
// quote block follows that is itself followed by own text: the shape of an
// inline (interleaved) reply.
func (d *doc) interleavedAfter(i, end int) bool {
	for k := i; k < end; k++ {
		if !d.keep[k] || d.blank[k] && !d.quoted[k] {
			continue
		}
		if d.quoted[k] {
			return d.ownAfter(d.quoteBlockEnd(k, end), end)
		}
		if d.isBoundary(k, end) {
			return false
		}
	}
	return false
}

// prevNonBlank returns the last kept line before i that is not an
// unquoted blank line, or -1.
func (d *doc) prevNonBlank(i int) int {
	for k := i - 1; k >= 0; k-- {
		if d.keep[k] && !(d.blank[k] && !d.quoted[k]) {
			return k
		}
	}
	return -1
}

// result assembles Text and Elided from the kept and removed lines.
func (d *doc) result() Result {
	var text, elided []string
	for i, l := range d.lines {
		if d.keep[i] {
			text = append(text, l)
		} else {
			elided = append(elided, l)
		}
	}
	return Result{Text: joinTrimmed(text), Elided: joinTrimmed(elided)}
}

// joinTrimmed joins lines with "\n" after dropping leading and trailing
// blank lines.
func joinTrimmed(ls []string) string {
	for len(ls) > 0 && isBlank(ls[0]) {
		ls = ls[1:]
	}
	for len(ls) > 0 && isBlank(ls[len(ls)-1]) {
		ls = ls[:len(ls)-1]
	}
	return strings.Join(ls, "\n")
}
