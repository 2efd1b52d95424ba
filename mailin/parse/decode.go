package parse

import (
	"bytes"
	"strings"
	"unicode/utf8"

	// Registers go-message's charset table for any go-message helper that
	// decodes header words on our behalf (address display names).
	_ "github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// decodeTransfer undoes a Content-Transfer-Encoding. It never fails: broken
// input is decoded on a best-effort basis and described by the returned
// warning ("" when the input was clean or the encoding is an identity one).
func decodeTransfer(enc string, b []byte) ([]byte, string) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit":
		return b, ""
	case "quoted-printable", "quoted_printable", "qp":
		return decodeQP(b), ""
	case "base64", "base-64":
		out, clean := decodeBase64(b)
		if !clean {
			return out, "base64 content was malformed; decoded best-effort"
		}
		return out, ""
	default:
		return b, "unknown Content-Transfer-Encoding; content kept as-is"
	}
}

// decodeQP decodes quoted-printable leniently: soft line breaks are removed,
// valid "=XX" escapes (either case) are decoded, and any other '=' is kept
// literally. Trailing whitespace at line ends (transport padding) is removed.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		var line []byte
		nl := bytes.IndexByte(b, '\n')
		hasNL := nl >= 0
		if hasNL {
			line, b = b[:nl], b[nl+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := false
		if n := len(line); n > 0 && line[n-1] == '=' {
			soft = true
			line = line[:n-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if hasNL && !soft {
			out = append(out, '\n')
		}
	}
	return out
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

var b64val = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = int8(i)
	}
	t['-'] = 62 // URL-safe alphabet, seen in the wild
	t['_'] = 63
	return t
}()

// decodeBase64 decodes base64 leniently: characters outside the alphabet
// are skipped, padding may be missing or repeated, and several padded blobs
// may follow each other. clean reports whether the input was well formed.
func decodeBase64(b []byte) (out []byte, clean bool) {
	out = make([]byte, 0, len(b)*3/4+3)
	clean = true
	var acc uint32
	n := 0
	flush := func() {
		switch n {
		case 1:
			clean = false // a lone sextet carries no full byte
		case 2:
			out = append(out, byte(acc>>4))
		case 3:
			out = append(out, byte(acc>>10), byte(acc>>2))
		}
		acc, n = 0, 0
	}
	for _, c := range b {
		if c == '=' {
			flush()
			continue
		}
		v := b64val[c]
		if v < 0 {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = false
			}
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	flush()
	return out, clean
}

// normCharset lower-cases a declared charset and strips quotes and spaces.
func normCharset(cs string) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	cs = strings.Trim(cs, "\"' ")
	return cs
}

// isUndeclared reports labels that carry no real charset information.
func isUndeclared(cs string) bool {
	switch cs {
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "us", "default", "unknown-8bit",
		"x-unknown", "unknown", "8bit", "7bit", "none", "charset", "x-user-defined":
		return true
	}
	return false
}

func isUTF8Label(cs string) bool {
	switch cs {
	case "utf-8", "utf8", "x-utf8", "x-utf_8j", "unicode-1-1-utf-8", "unicode-2-0-utf-8":
		return true
	}
	return false
}

func isUTF7Label(cs string) bool {
	switch cs {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "unicode-2-0-utf-7", "x-unicode-2-0-utf-7", "csunicode11utf7":
		return true
	}
	return false
}

// lookupCharset finds a decoder for a (normalised) charset label, trying the
// WHATWG labels first (they map ISO-8859-1 to its windows-1252 superset,
// GB2312 to GBK, and so on), then IANA MIME and IANA names. It returns nil
// when no decoder is known.
func lookupCharset(cs string) encoding.Encoding {
	if cs == "" {
		return nil
	}
	if e, err := htmlindex.Get(cs); err == nil && e != nil {
		return e
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if e, err := idx.Encoding(cs); err == nil && e != nil {
			return e
		}
		if e, err := idx.Encoding("cs" + cs); err == nil && e != nil {
			return e
		}
	}
	switch cs {
	case "x-mac-roman", "mac", "macroman":
		return charmap.Macintosh
	case "cp850", "ibm850":
		return charmap.CodePage850
	case "cp437", "ibm437":
		return charmap.CodePage437
	case "latin1", "latin-1", "iso8859-1", "iso_8859_1", "8859-1":
		return charmap.Windows1252
	}
	// Labels such as "iso8859-15" or "windows1252" without the dash.
	if strings.HasPrefix(cs, "iso8859") {
		return lookupCharset("iso-8859" + strings.TrimPrefix(cs, "iso8859"))
	}
	if strings.HasPrefix(cs, "windows") && !strings.HasPrefix(cs, "windows-") {
		return lookupCharset("windows-" + strings.TrimPrefix(cs, "windows"))
	}
	if strings.HasPrefix(cs, "cp") && len(cs) == 6 {
		return lookupCharset("windows-" + cs[2:])
	}
	return nil
}

// isStateful7bit reports encodings whose bytes are not ASCII-compatible or
// that switch state with escape sequences; the UTF-8 heuristic never applies.
func isStateful7bit(cs string) bool {
	return strings.HasPrefix(cs, "iso-2022") || strings.HasPrefix(cs, "utf-16") ||
		strings.HasPrefix(cs, "utf-32") || strings.HasPrefix(cs, "ucs-") ||
		strings.HasPrefix(cs, "hz-") || cs == "csiso2022jp"
}

func hasHighBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// decodeCharset converts b, declared to be in charset cs, to UTF-8. It
// never fails. A non-empty warning describes any fallback that was taken.
//
// Heuristics: text that is valid UTF-8 wins over a declared single-byte
// charset (mail clients often mislabel UTF-8 as ISO-8859-1); for multi-byte
// charsets the declared decoding is kept unless it produces replacement
// characters while the bytes are valid UTF-8. Undeclared 8-bit text is
// UTF-8 when valid, else windows-1252.
func decodeCharset(b []byte, cs string) (string, string) {
	cs = normCharset(cs)
	high := hasHighBytes(b)
	switch {
	case isUndeclared(cs):
		return undeclared8bit(b, high)
	case isUTF8Label(cs):
		if !high || utf8.Valid(b) {
			return string(b), ""
		}
		return invalidUTF8(b)
	case isUTF7Label(cs):
		return decodeUTF7(b), ""
	}
	enc := lookupCharset(cs)
	if enc == nil {
		s, w := undeclared8bit(b, high)
		if w == "" {
			w = "unknown charset " + quoteLabel(cs) + "; decoded as UTF-8/windows-1252"
		} else {
			w = "unknown charset " + quoteLabel(cs) + "; " + w
		}
		return s, w
	}
	if !high && !isStateful7bit(cs) {
		return string(b), ""
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		if high && utf8.Valid(b) {
			return string(b), "content invalid in declared charset " + quoteLabel(cs) + "; decoded as UTF-8"
		}
		s, _ := undeclared8bit(b, high)
		return s, "content invalid in declared charset " + quoteLabel(cs) + "; decoded best-effort"
	}
	if isStateful7bit(cs) {
		return string(out), ""
	}
	if high && utf8.Valid(b) {
		if _, single := enc.(*charmap.Charmap); single {
			return string(b), "declared charset " + quoteLabel(cs) + " but content is valid UTF-8; decoded as UTF-8"
		}
		if bytes.ContainsRune(out, utf8.RuneError) && !bytes.ContainsRune(b, utf8.RuneError) {
			return string(b), "content invalid in declared charset " + quoteLabel(cs) + " but valid UTF-8; decoded as UTF-8"
		}
	}
	return string(out), ""
}

// quoteLabel renders a charset label for a warning, bounded and printable.
func quoteLabel(cs string) string {
	if len(cs) > 40 {
		cs = cs[:40]
	}
	return "\"" + strings.ToValidUTF8(stripControls(cs), "?") + "\""
}

func undeclared8bit(b []byte, high bool) (string, string) {
	if !high || utf8.Valid(b) {
		return string(b), ""
	}
	return decode1252(b), "8-bit text is not UTF-8; decoded as windows-1252"
}

// invalidUTF8 handles text declared UTF-8 that is not: if most non-ASCII
// sequences are valid UTF-8 the bad bytes are replaced, otherwise the text
// is taken to be windows-1252.
func invalidUTF8(b []byte) (string, string) {
	good, bad := 0, 0
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			bad++
			i++
			continue
		}
		good++
		i += size
	}
	if good >= bad {
		return strings.ToValidUTF8(string(b), "\uFFFD"), "invalid UTF-8 sequences replaced"
	}
	return decode1252(b), "declared UTF-8 but content is not; decoded as windows-1252"
}

func decode1252(b []byte) string {
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// decodeUTF7 decodes RFC 2152 UTF-7. Malformed shifted sequences are
// decoded as far as possible; it never fails.
func decodeUTF7(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	var units []uint16
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			if c < 0x80 {
				sb.WriteByte(c)
			} else {
				sb.WriteRune(utf8.RuneError)
			}
			continue
		}
		// Shifted sequence: modified base64 of UTF-16BE, ended by any
		// character outside the base64 alphabet; a '-' terminator is absorbed.
		j := i + 1
		if j < len(b) && b[j] == '-' {
			sb.WriteByte('+')
			i = j
			continue
		}
		var acc uint32
		bits := 0
		units = units[:0]
		for ; j < len(b); j++ {
			v := b64val[b[j]]
			if v < 0 || b[j] == '-' || b[j] == '_' {
				break
			}
			acc = acc<<6 | uint32(v)
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>uint(bits)))
				acc &= (1 << uint(bits)) - 1
			}
		}
		writeUTF16(&sb, units)
		if j < len(b) && b[j] == '-' {
			i = j
		} else {
			i = j - 1
		}
	}
	return sb.String()
}

func writeUTF16(sb *strings.Builder, u []uint16) {
	for k := 0; k < len(u); k++ {
		r := rune(u[k])
		if r >= 0xD800 && r < 0xDC00 && k+1 < len(u) && u[k+1] >= 0xDC00 && u[k+1] < 0xE000 {
			r = (r-0xD800)<<10 | (rune(u[k+1]) - 0xDC00) + 0x10000
			k++
		} else if r >= 0xD800 && r < 0xE000 {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
}

// stripControls removes NUL and other C0/C1 control characters except tab,
// newline; it is used for single-line header text.
func stripControls(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if !isControl(r) {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// cleanBodyText normalises decoded body text: CRLF and lone CR become LF,
// NUL and other control characters (except tab, newline, form feed) go.
func cleanBodyText(s string) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	needs := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\f' || c == 0x7f {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			sb.WriteByte('\n')
		case c < 0x20 && c != '\t' && c != '\n' && c != '\f', c == 0x7f:
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
