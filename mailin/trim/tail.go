package trim

import (
	"strings"
)

// trimTail removes, from the end of the kept text, trailing separators,
// "-Name" sign-offs, footers under a rule, and quote blocks (with their
// attribution) that follow the person's own text.
func (d *doc) trimTail() {
	firstOwn := -1
	for i := range d.lines {
		if d.keep[i] && !d.blank[i] && !d.quoted[i] && !isRuleLine(d.lines[i]) {
			firstOwn = i
			break
		}
	}
	// Everything at or after limit is already dropped or blank, so each
	// step looks only at lines above it: the whole loop is linear.
	limit := len(d.lines)
	for {
		t := d.prevNonBlank(limit)
		limit = t + 1
		if t < 0 || d.fence[t] || d.fwd[t] {
			return
		}
		if !d.quoted[t] {
			if isRuleLine(d.lines[t]) {
				d.keep[t] = false
				continue
			}
			if firstOwn >= 0 && firstOwn < t && isDashName(d.lines[t]) && t > 0 && d.keep[t-1] && d.blank[t-1] {
				d.keep[t] = false
				continue
			}
			// A short footer paragraph directly under a "____" rule.
			p := t
			for p > 0 && t-p < 8 && d.keep[p-1] && !d.blank[p-1] && !d.quoted[p-1] && !isUnderscoreRule(d.lines[p-1]) {
				p--
			}
			if r := p - 1; r > firstOwn && firstOwn >= 0 && d.keep[r] && !d.quoted[r] && isUnderscoreRule(d.lines[r]) && !d.fence[r] {
				d.drop(r, t+1)
				continue
			}
			// A one- or two-line sign-off under a "---" line, after a
			// blank line: "---" then "Name".
			if p > firstOwn && firstOwn >= 0 && p < t && t-p <= 2 && strings.TrimSpace(d.lines[p]) == "---" &&
				p > 0 && d.blank[p-1] && shortLines(d.lines[p+1:t+1]) {
				d.drop(p, t+1)
				continue
			}
			return
		}
		// Trailing quote block.
		s := t
		for k := t - 1; k >= 0; k-- {
			if !d.keep[k] || d.fwd[k] {
				break
			}
			if d.quoted[k] {
				s = k
				continue
			}
			if d.blank[k] {
				continue
			}
			break
		}
		if firstOwn < 0 || firstOwn >= s {
			return
		}
		from := s
		if a := d.prevNonBlank(s); a >= 0 && !d.quoted[a] {
			for b := a; b >= 0 && b > a-6; b-- {
				if !d.keep[b] {
					break
				}
				if e, ok := d.attributionAt(b, s, false); ok && d.nextNonBlank(e, s) >= s {
					from = b
					break
				}
			}
		}
		if from <= firstOwn {
			from = s
		}
		d.drop(from, t+1)
	}
}

// shortLines reports whether every line is a short name-like line (under
// 60 bytes, not ending a sentence).
func shortLines(ls []string) bool {
	for _, l := range ls {
		t := strings.TrimSpace(l)
		if len(t) >= 60 || endsSentence(t) {
			return false
		}
	}
	return true
}
