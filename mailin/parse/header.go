package parse

import (
	"bytes"
	"io"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
)

// headerField is one unfolded header field.
type headerField struct {
	key, value string
}

// headerResult is the outcome of reading a header block.
type headerResult struct {
	fields   []headerField
	body     []byte
	warnings []string
}

// nextLine returns the line starting at b[pos:] without its terminator and
// the position after the terminator.
func nextLine(b []byte, pos int) (line []byte, next int) {
	nl := bytes.IndexByte(b[pos:], '\n')
	if nl < 0 {
		return bytes.TrimSuffix(b[pos:], []byte("\r")), len(b)
	}
	return bytes.TrimSuffix(b[pos:pos+nl], []byte("\r")), pos + nl + 1
}

func isBlank(line []byte) bool {
	return len(bytes.TrimSpace(line)) == 0
}

// validFieldName reports whether name is an RFC 5322 field name.
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= 32 || c >= 127 || c == ':' {
			return false
		}
	}
	return true
}

// splitField splits "Name: value" (tolerating spaces before the colon).
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = bytes.TrimRight(line[:colon], " \t")
	if !validFieldName(name) {
		return nil, nil, false
	}
	return name, line[colon+1:], true
}

// isMboxFrom reports an mbox separator line ("From sender date").
func isMboxFrom(line []byte) bool {
	if bytes.HasPrefix(line, []byte(">From ")) {
		return true
	}
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	rest := bytes.TrimLeft(line[5:], " \t")
	return len(rest) > 0 && rest[0] != ':'
}

// lineToUTF8 converts one raw header line to UTF-8: valid UTF-8 is kept,
// anything else is read as windows-1252.
func lineToUTF8(line []byte) string {
	if !hasHighBytes(line) || utf8.Valid(line) {
		return string(line)
	}
	return decode1252(line)
}

// readHeader reads the header block at the start of raw. In top mode a
// leading BOM, blank lines and an mbox "From " line are skipped and
// malformed lines are repaired or dropped; in part mode a first line that
// is not a header field means the part has no header at all.
func readHeader(raw []byte, top bool, maxBytes int) headerResult {
	var res headerResult
	pos := 0
	if top {
		pos = skipPreamble(raw, &res)
	} else {
		line, next := nextLine(raw, pos)
		if isBlank(line) {
			res.body = raw[next:]
			return res
		}
		if _, _, ok := splitField(line); !ok {
			res.body = raw
			res.warnings = append(res.warnings, "MIME part without header")
			return res
		}
	}

	startPos := pos
	var cur *headerField
	var dropped, joined int
	limitHit := false
	for pos < len(raw) {
		line, next := nextLine(raw, pos)
		if isBlank(line) {
			pos = next
			res.body = raw[pos:]
			break
		}
		if !limitHit && maxBytes > 0 && next-startPos > maxBytes {
			limitHit = true
			res.warnings = append(res.warnings, "header exceeds size limit; remaining fields ignored")
		}
		pos = next
		if pos >= len(raw) {
			res.body = nil
		}
		if limitHit {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				dropped++
				continue
			}
			appendFold(cur, lineToUTF8(line), " ")
			continue
		}
		if name, value, ok := splitField(line); ok {
			res.fields = append(res.fields, headerField{
				key:   string(name),
				value: strings.TrimSpace(lineToUTF8(value)),
			})
			cur = &res.fields[len(res.fields)-1]
			continue
		}
		if cur == nil {
			dropped++
			continue
		}
		// A field broken over lines without folding whitespace, e.g. an
		// address split after "<" or "@": glue it back on.
		joined++
		text := lineToUTF8(line)
		appendFold(cur, text, glueSep(cur.value, text))
	}
	if dropped > 0 {
		res.warnings = append(res.warnings, "dropped malformed header lines")
	}
	if joined > 0 {
		res.warnings = append(res.warnings, "joined unfolded continuation lines to previous header field")
	}
	return res
}

// skipPreamble returns where the top-level header starts in raw: after a
// byte-order mark, blank lines and mbox "From " lines, each dropped with
// a warning in res.
func skipPreamble(raw []byte, res *headerResult) int {
	pos := 0
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		pos = 3
	}
	skipped := false
skip:
	for pos < len(raw) {
		line, next := nextLine(raw, pos)
		switch {
		case isBlank(line):
			skipped = true
		case isMboxFrom(line):
			res.warnings = append(res.warnings, "dropped mbox \"From \" line before header")
		default:
			break skip
		}
		pos = next
	}
	if skipped {
		res.warnings = append(res.warnings, "dropped blank lines before header")
	}
	return pos
}

// glueSep is what joins text, a line that continues a field without
// folding whitespace, to the field's value so far: nothing inside an
// address or domain broken after "<", "@" or "." (or before "@", ">" or
// "."), a space otherwise.
func glueSep(value, text string) string {
	if strings.HasSuffix(value, "@") || strings.HasSuffix(value, "<") ||
		strings.HasSuffix(value, ".") || strings.HasPrefix(text, "@") ||
		strings.HasPrefix(text, ">") || strings.HasPrefix(text, ".") {
		return ""
	}
	return " "
}

// appendFold unfolds a continuation line onto f.
func appendFold(f *headerField, line, sep string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if f.value == "" {
		f.value = line
		return
	}
	f.value += sep + line
}

// buildHeader turns fields into a go-message header. Fields are added in
// reverse order, which is how go-message stores a header it has read
// itself, so Get returns the first occurrence and Values keeps file order.
func buildHeader(fields []headerField) mail.Header {
	var h mail.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].key, fields[i].value)
	}
	return h
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, _ := decodeCharset(b, cs)
	return strings.NewReader(s), nil
}}

// decodeWords decodes RFC 2047 encoded words. Malformed words are kept
// as they are; the result is valid UTF-8.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// headerText decodes a free-text header field to one clean line.
func headerText(v string) string {
	s := decodeWords(v)
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return ' '
		case isControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

var addrParser = &netmail.AddressParser{WordDecoder: wordDecoder}

// looseAddrRe finds something shaped like an address in a broken field.
var looseAddrRe = regexp.MustCompile(`[^\s<>,;:"()\[\]]+@[^\s<>,;:"()\[\]]+`)

// parseAddressList parses an address-list field. When the strict parser
// fails, each comma/semicolon separated item is parsed on its own and,
// failing that, an address-shaped token is recovered. lenient reports that
// the heuristic path was used.
func parseAddressList(v string) (list []Address, lenient bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, false
	}
	if as, err := addrParser.ParseList(v); err == nil {
		for _, a := range as {
			list = append(list, makeAddress(a.Name, a.Address))
		}
		return list, false
	}
	if strings.Count(v, "<") == 1 && strings.Count(v, ">") == 1 {
		// One bracketed address: everything before it is the display name,
		// commas included ("'Doe, John' via List <list@example.org>").
		lt, gt := strings.IndexByte(v, '<'), strings.IndexByte(v, '>')
		if lt < gt && strings.Contains(v[lt:gt], "@") {
			name := strings.Trim(strings.TrimSpace(v[:lt]), "\"'")
			return []Address{makeAddress(decodeWords(name), v[lt+1:gt])}, true
		}
	}
	for _, item := range splitAddrItems(v) {
		if strings.TrimSpace(item) == "" {
			continue
		}
		if a, err := addrParser.Parse(item); err == nil {
			list = append(list, makeAddress(a.Name, a.Address))
			continue
		}
		loc := looseAddrRe.FindStringIndex(item)
		if loc == nil {
			continue
		}
		addr := item[loc[0]:loc[1]]
		name := item[:loc[0]]
		if i := strings.LastIndexByte(name, '<'); i >= 0 {
			name = name[:i]
		}
		name = strings.Trim(strings.TrimSpace(name), "\"'")
		list = append(list, makeAddress(decodeWords(name), addr))
	}
	return list, true
}

// splitAddrItems splits an address list on ',' and ';' outside quotes,
// angle brackets and comments.
func splitAddrItems(v string) []string {
	var items []string
	depthAngle, depthParen := 0, 0
	inQuote := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			depthAngle++
		case c == '>' && depthAngle > 0:
			depthAngle--
		case c == '(':
			depthParen++
		case c == ')' && depthParen > 0:
			depthParen--
		case (c == ',' || c == ';') && depthAngle == 0 && depthParen == 0:
			items = append(items, v[start:i])
			start = i + 1
		}
	}
	if start <= len(v) {
		items = append(items, v[start:])
	}
	return items
}

// makeAddress normalises an address: the domain is lower-cased, the local
// part kept as given, the display name decoded and cleaned.
func makeAddress(name, addr string) Address {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		addr = addr[:at+1] + strings.ToLower(addr[at+1:])
	}
	if strings.Contains(name, "=?") {
		name = decodeWords(name)
	}
	name = headerText(name)
	return Address{Name: name, Addr: stripControls(addr)}
}

// parseMsgIDs extracts message ids from In-Reply-To/References style
// values: bracketed ids are taken as they are (inner whitespace removed),
// bare tokens only when they contain '@' or the field has no brackets at all.
// Duplicates are dropped, order is
// kept.
func parseMsgIDs(values []string, seen map[string]bool, out []string) []string {
	for _, v := range values {
		for i := 0; i < len(v); {
			c := v[i]
			switch {
			case c == '<':
				end := strings.IndexByte(v[i+1:], '>')
				var id string
				if end < 0 {
					id = v[i+1:]
					i = len(v)
				} else {
					id = v[i+1 : i+1+end]
					i += end + 2
				}
				out = addID(out, seen, id)
			case c == '(':
				end := strings.IndexByte(v[i:], ')')
				if end < 0 {
					i = len(v)
				} else {
					i += end + 1
				}
			case c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\n' || c == '\r':
				i++
			default:
				j := i
				for j < len(v) && !strings.ContainsRune(" \t\r\n,;<(", rune(v[j])) {
					j++
				}
				if tok := v[i:j]; strings.Contains(tok, "@") || !strings.Contains(v, "<") {
					out = addID(out, seen, tok)
				}
				i = j
			}
		}
	}
	return out
}

func addID(out []string, seen map[string]bool, id string) []string {
	id = strings.Join(strings.Fields(id), "")
	id = strings.Trim(id, "<>\"'")
	id = stripControls(id)
	if id == "" || len(id) > 998 || seen[id] {
		return out
	}
	seen[id] = true
	return append(out, id)
}

var weekdayRe = regexp.MustCompile(`^[A-Za-z]+,?\s+`)

var dateCommentRe = regexp.MustCompile(`\([^)]*\)`)

var fallbackDateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 2006 15:04:05",
	"Jan 2 15:04:05 2006",
	"Jan 2 15:04:05 -0700 2006",
	"Jan 2 2006 15:04:05 -0700",
	"January 2, 2006 3:04 PM",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
}

// parseDate parses a Date field; it returns the zero time when it cannot.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, true
	}
	if t, err := netmail.ParseDate(v); err == nil {
		return t, true
	}
	c := strings.Join(strings.Fields(dateCommentRe.ReplaceAllString(v, " ")), " ")
	c = strings.ReplaceAll(c, " ,", ",")
	for _, cand := range []string{c, weekdayRe.ReplaceAllString(c, "")} {
		if t, err := netmail.ParseDate(cand); err == nil {
			return t, true
		}
		for _, l := range fallbackDateLayouts {
			if t, err := time.Parse(l, cand); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
