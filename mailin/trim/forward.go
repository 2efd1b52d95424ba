package trim

// forwardAbove reports whether line i starts a forwarded message that the
// person placed, under text of their own (ownSeen), above the quote of
// the message they answer, and returns the index of that quote.
//
// Such a forward ("---------- Forwarded message ---------", Apple's
// "Begin forwarded message:", Thunderbird's "-------- Forwarded Message
// --------", in any language of locales, quoted or not) is the person's
// content, not quoted text: its lines, header block included, are marked
// as kept (fwd) and the scan goes on at the quote, which the usual rules
// remove. An unquoted forward line needs a header block under it. A
// forward with no quote after it is not one: it is trimmed as before (a
// forward at the end of a reply is elided, as email_reply_trimmer does).
func (d *doc) forwardAbove(i, end int, ownSeen bool) (int, bool) {
	if !ownSeen || !isForwardLine(d.content[i]) {
		return i, false
	}
	body := d.quoteBlockEnd(i, end)
	if !d.quoted[i] {
		h := d.nextNonBlank(i+1, end)
		if h >= end || h > i+2 {
			return i, false
		}
		if body = d.headerBlockEnd(h, end); body == h {
			return i, false
		}
	}
	// The text of an unquoted forward runs to the quote; a quoted one
	// is its quote block, and the quote must follow it at once (text of
	// the person's own between them makes an interleaved reply).
	q := d.quoteStart(body, end, d.quoted[i])
	if q < 0 {
		return i, false
	}
	last := q - 1
	for last > i && d.blank[last] && !d.quoted[last] {
		last--
	}
	for k := i; k <= last; k++ {
		d.fwd[k] = true
	}
	return q, true
}

// quoteStart returns the first line at or after p, before end, that
// starts quoted text: a quoted line, an attribution, a copied header
// block or an "original message" line; end itself when the marker or our
// own sent text was cut there; -1 when there is none, or, with next set,
// when the first non-blank line is not one. Each line costs a bounded
// look-ahead, so the walk is linear.
func (d *doc) quoteStart(p, end int, next bool) int {
	for k := p; k < end; k++ {
		if d.blank[k] && !d.quoted[k] || d.fence[k] && !next {
			continue
		}
		if d.quoted[k] || isDelimiter(d.lines[k]) || d.headerBlockEnd(k, end) > k {
			return k
		}
		if _, ok := d.attributionAt(k, end, false); ok {
			return k
		}
		if next {
			return -1
		}
	}
	if end < len(d.lines) {
		return end
	}
	return -1
}
