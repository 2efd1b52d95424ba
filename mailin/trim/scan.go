package trim

// scan walks the reply top-down and applies the attribution, header,
// delimiter and signature rules to lines [0, end).
func (d *doc) scan(end int) {
	ownSeen := false
	for i := 0; i < end; {
		if !d.keep[i] || d.blank[i] && !d.quoted[i] {
			i++
			continue
		}
		if d.fence[i] {
			ownSeen = true
			i++
			continue
		}
		if d.quoted[i] {
			next, stop := d.scanQuote(i, end, ownSeen)
			if stop {
				return
			}
			i = next
			continue
		}
		next, stop, matched := d.scanUnquoted(i, end, ownSeen)
		if stop {
			return
		}
		if matched {
			i = next
			continue
		}
		ownSeen = true
		i++
	}
}

// scanQuote handles the quote block starting at i: an attribution that
// opens it, a forwarded message above it, or a plain quote skipped over.
// It returns where the scan continues, or stop=true when the rest was cut.
func (d *doc) scanQuote(i, end int, ownSeen bool) (next int, stop bool) {
	qEnd := d.quoteBlockEnd(i, end)
	if ae, ok := d.attributionAt(i, end, true); ok {
		return d.attributed(i, ae, i, qEnd, end, ownSeen)
	}
	if fe, ok := d.forwardAbove(i, end, ownSeen); ok {
		return fe, false
	}
	return qEnd, false
}

// scanUnquoted applies the signature, footer, delimiter, header-block and
// attribution rules to the unquoted line i. matched=false means no rule
// applies: the line is the person's own text. Otherwise it returns where
// the scan continues, or stop=true when the rest was cut.
func (d *doc) scanUnquoted(i, end int, ownSeen bool) (next int, stop, matched bool) {
	l := d.lines[i]
	if isSigDelimiter(l) || isDeviceLine(l) {
		d.cut(i)
		return end, true, true
	}
	if previousRepliesRe.MatchString(d.content[i]) {
		if p := d.prevNonBlank(i); p >= 0 && isRuleLine(d.lines[p]) {
			d.cut(p)
			return end, true, true
		}
	}
	if isDelimiter(l) {
		next, stop := d.scanDelimiter(i, end, ownSeen)
		return next, stop, true
	}
	if e := d.headerBlockEnd(i, end); e > i {
		if ownSeen {
			d.cut(i)
			return end, true, true
		}
		d.drop(i, e)
		return e, false, true
	}
	if ae, ok := d.attributionAt(i, end, false); ok {
		m := d.nextNonBlank(ae, end)
		qStart, qEnd := -1, -1
		if m < end && d.quoted[m] {
			qStart, qEnd = m, d.quoteBlockEnd(m, end)
		}
		next, stop := d.attributed(i, ae, qStart, qEnd, end, ownSeen)
		return next, stop, true
	}
	return 0, false, false
}

// scanDelimiter handles an "-----Original Message-----" style line at i:
// a forwarded message above a quote is kept; after own text the rest is
// cut; otherwise the line and the header block under it are dropped.
func (d *doc) scanDelimiter(i, end int, ownSeen bool) (next int, stop bool) {
	if fe, ok := d.forwardAbove(i, end, ownSeen); ok {
		return fe, false
	}
	if ownSeen {
		d.cut(i)
		return end, true
	}
	h := d.nextNonBlank(i+1, end)
	if h < end {
		if e := d.headerBlockEnd(h, end); e > h {
			d.drop(i, e)
			return e, false
		}
	}
	d.drop(i, i+1)
	return i + 1, false
}

// attributed applies the attribution rules to the attribution at lines
// [aStart, aEnd) whose quote block, if any, is [qStart, qEnd) (qStart < 0
// when the attribution is followed by unquoted text). It returns where the
// scan continues, or stop=true when everything from the attribution on was
// cut.
//
//   - top-posting (own text above, nothing of one's own after the quote):
//     cut from the attribution;
//   - an unquoted copy under an attribution after own text: cut;
//   - interleaved reply with own text above: drop the attribution line only
//     and keep the quote as context;
//   - quote at the very top followed by an interleaved reply: keep both;
//   - quote at the very top followed by one answer (bottom-posting): drop
//     the attribution and the quote;
//   - an attribution at the very top over unquoted text: drop the line.
func (d *doc) attributed(aStart, aEnd, qStart, qEnd, end int, ownSeen bool) (int, bool) {
	if qStart < 0 {
		if ownSeen {
			d.cut(aStart)
			return end, true
		}
		d.drop(aStart, aEnd)
		return aEnd, false
	}
	after := d.ownAfter(qEnd, end)
	switch {
	case ownSeen && after:
		d.drop(aStart, aEnd)
		return qEnd, false
	case !after:
		d.cut(aStart)
		return end, true
	case d.interleavedAfter(d.nextNonBlank(qEnd, end), end):
		return qEnd, false
	default:
		d.drop(aStart, qEnd)
		return qEnd, false
	}
}
