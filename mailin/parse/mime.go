package parse

import (
	"bytes"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-message/mail"
)

// parser carries the state of one Parse call.
type parser struct {
	lim       Limits
	msg       *Message
	parts     int
	depthHit  bool
	partsHit  bool
	inReport  bool
	truncated bool
}

func (p *parser) warn(w string) {
	p.msg.Warnings = append(p.msg.Warnings, w)
}

// entity is one MIME entity: its header, parsed content type and
// disposition, and its still transfer-encoded body.
type entity struct {
	header    mail.Header
	mediaType string
	params    map[string]string
	disp      string
	dparams   map[string]string
	body      []byte
}

// newEntity parses the MIME fields of h.
func (p *parser) newEntity(h mail.Header, body []byte) *entity {
	e := &entity{header: h, body: body}
	ct := h.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		e.mediaType = "text/plain"
	} else {
		e.mediaType, e.params = parseParamHeader(ct)
		if !strings.Contains(e.mediaType, "/") {
			if e.mediaType != "text" {
				p.warn("malformed Content-Type; treated as text/plain")
			}
			e.mediaType = "text/plain"
		}
	}
	if cd := h.Get("Content-Disposition"); cd != "" {
		e.disp, e.dparams = parseParamHeader(cd)
	}
	return e
}

// parseParamHeader parses a "value; k=v; ..." field (Content-Type or
// Content-Disposition) with the standard parser, falling back to a
// lenient one. The value and parameter names are lower-cased; parameter
// values are RFC 2047/2231 decoded.
func parseParamHeader(v string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || params == nil {
		mt, params = lenientParams(v)
	}
	for k, pv := range params {
		params[k] = decodeWords(pv)
	}
	return strings.ToLower(strings.TrimSpace(mt)), params
}

// lenientParams splits on ';' outside quotes and accepts bare, quoted and
// RFC 2231 extended values, ignoring anything it cannot read.
func lenientParams(v string) (string, map[string]string) {
	var items []string
	inQuote := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				items = append(items, v[start:i])
				start = i + 1
			}
		}
	}
	if start < len(v) {
		items = append(items, v[start:])
	}
	params := map[string]string{}
	if len(items) == 0 {
		return "", params
	}
	mt := strings.ToLower(strings.TrimSpace(items[0]))
	if i := strings.IndexAny(mt, " \t"); i >= 0 {
		mt = mt[:i]
	}
	cont := map[string][]string{}
	for _, it := range items[1:] {
		eq := strings.IndexByte(it, '=')
		if eq <= 0 {
			continue
		}
		k := strings.ToLower(strings.TrimSpace(it[:eq]))
		val := strings.TrimSpace(it[eq+1:])
		if len(val) >= 2 && val[0] == '"' {
			val = unquote(val)
		}
		if base, _, ok := strings.Cut(k, "*"); ok {
			// RFC 2231: name*=charset'lang'pct or name*0*=... continuations.
			cont[base] = append(cont[base], k+"\x00"+val)
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	for base, parts := range cont {
		if _, ok := params[base]; ok {
			continue
		}
		params[base] = joinRFC2231(parts)
	}
	return mt, params
}

func unquote(s string) string {
	s = s[1:]
	if i := strings.LastIndexByte(s, '"'); i >= 0 {
		s = s[:i]
	}
	if !strings.Contains(s, "\\") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// joinRFC2231 joins "name*N*" continuation segments (given as key\0value)
// in index order and decodes the charset'lang' prefix of the first.
func joinRFC2231(parts []string) string {
	segs := map[int]string{}
	encoded := false
	maxIdx := -1
	for _, kv := range parts {
		k, val, _ := strings.Cut(kv, "\x00")
		_, rest, _ := strings.Cut(k, "*")
		idx := 0
		if rest != "" && rest != "*" {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
			if err != nil || n < 0 || n > 1000 {
				continue
			}
			idx = n
		}
		if idx == 0 && strings.HasSuffix(k, "*") {
			encoded = true
		}
		segs[idx] = val
		if idx > maxIdx {
			maxIdx = idx
		}
	}
	var sb strings.Builder
	for i := 0; i <= maxIdx; i++ {
		sb.WriteString(segs[i])
	}
	s := sb.String()
	if !encoded {
		return s
	}
	cs, rest, ok := strings.Cut(s, "'")
	if !ok {
		return s
	}
	_, rest, _ = strings.Cut(rest, "'")
	raw, err := url.PathUnescape(rest)
	if err != nil {
		raw = rest
	}
	out, _ := decodeCharset([]byte(raw), cs)
	return out
}

// walk visits e and its descendants, filling the message. parent is the
// subtype of the enclosing multipart ("" at the top).
func (p *parser) walk(e *entity, depth int, parent string) {
	mt := e.mediaType
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		p.walkMultipart(e, depth)
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		if p.msg.DeliveryStatus == nil {
			data := p.decoded(e)
			p.msg.DeliveryStatus = bytes.Clone(data)
		}
	case mt == "text/rfc822-headers" || mt == "message/global-headers":
		if p.msg.ReportedHeaders.Len() == 0 {
			p.msg.ReportedHeaders = p.headersOf(p.decoded(e))
		}
	case (mt == "message/rfc822" || mt == "message/global") && p.inReport:
		data := p.decoded(e)
		if p.msg.ReportedHeaders.Len() == 0 {
			p.msg.ReportedHeaders = p.headersOf(data)
		}
		p.addAttachment(e, data)
	case (mt == "text/plain" || mt == "text/html") && e.disp != "attachment":
		p.addBody(e, parent)
	default:
		p.addAttachment(e, p.decoded(e))
	}
}

// headersOf reads just the header block of an embedded message.
func (p *parser) headersOf(data []byte) mail.Header {
	hr := readHeader(data, true, p.lim.MaxHeaderBytes)
	return buildHeader(hr.fields)
}

func (p *parser) walkMultipart(e *entity, depth int) {
	if depth >= p.lim.MaxDepth {
		p.msg.PartsDropped = true
		if !p.depthHit {
			p.depthHit = true
			p.warn("multipart nesting exceeds depth limit; deeper parts skipped")
		}
		return
	}
	sub := strings.TrimPrefix(e.mediaType, "multipart/")
	boundary := e.params["boundary"]
	parts, closed, found := splitMultipart(e.body, boundary)
	if !found && boundary == "" {
		if b := guessBoundary(e.body); b != "" {
			boundary = b
			parts, closed, found = splitMultipart(e.body, boundary)
			p.warn("multipart without boundary parameter; boundary guessed")
		}
	}
	if !found {
		p.warn("multipart body without boundary delimiter; treated as text")
		p.addBody(&entity{header: e.header, mediaType: "text/plain", body: e.body}, sub)
		return
	}
	if !closed {
		p.warn("multipart missing closing boundary; kept the parts read so far")
	}
	wasReport := p.inReport
	if sub == "report" {
		p.inReport = true
	}
	for _, raw := range parts {
		if p.parts >= p.lim.MaxParts {
			p.msg.PartsDropped = true
			if !p.partsHit {
				p.partsHit = true
				p.warn("too many MIME parts; remaining parts skipped")
			}
			break
		}
		p.parts++
		hr := readHeader(raw, false, p.lim.MaxHeaderBytes)
		p.msg.Warnings = append(p.msg.Warnings, hr.warnings...)
		child := p.newEntity(buildHeader(hr.fields), hr.body)
		if len(hr.fields) == 0 && sub == "digest" {
			child.mediaType = "message/rfc822"
		}
		p.walk(child, depth+1, sub)
	}
	p.inReport = wasReport
}

// splitMultipart returns the bodies of the parts of a multipart body.
// closed reports that the closing delimiter was seen; found that at least
// one delimiter was. Without a closing delimiter the last part runs to the
// end of the input.
func splitMultipart(body []byte, boundary string) (parts [][]byte, closed, found bool) {
	if boundary == "" {
		return nil, false, false
	}
	delim := []byte("--" + boundary)
	partStart := -1
	pos := 0
	for pos <= len(body) {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		after := i + len(delim)
		if i > 0 && body[i-1] != '\n' {
			pos = after
			continue
		}
		isClose := bytes.HasPrefix(body[after:], []byte("--"))
		rest := after
		if isClose {
			rest += 2
		}
		line, next := nextLine(body, rest)
		if !isClose && len(bytes.TrimSpace(line)) != 0 {
			pos = after // a longer boundary that merely starts with ours
			continue
		}
		found = true
		if partStart >= 0 {
			end := i
			if end > partStart && body[end-1] == '\n' {
				end--
				if end > partStart && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[partStart:end])
		}
		if isClose {
			return parts, true, true
		}
		partStart = next
		pos = next
		if next >= len(body) {
			break
		}
	}
	if partStart >= 0 && partStart < len(body) {
		parts = append(parts, body[partStart:])
	}
	return parts, false, found
}

// guessBoundary finds the first "--xyz" line of a body whose Content-Type
// lacks a boundary parameter.
func guessBoundary(body []byte) string {
	for pos := 0; pos < len(body); {
		line, next := nextLine(body, pos)
		if bytes.HasPrefix(line, []byte("--")) {
			b := strings.TrimSpace(string(line[2:]))
			if len(b) >= 1 && len(b) <= 200 && !strings.ContainsAny(b, " \t") {
				return b
			}
		}
		pos = next
	}
	return ""
}

// decoded returns the transfer-decoded body of e, truncated to
// MaxPartBytes.
func (p *parser) decoded(e *entity) []byte {
	data, w := decodeTransfer(e.header.Get("Content-Transfer-Encoding"), e.body)
	if w != "" {
		p.warn(w)
	}
	if max := p.lim.MaxPartBytes; max > 0 && int64(len(data)) > max {
		data = data[:max]
		if !p.truncated {
			p.truncated = true
			p.warn("MIME part larger than size limit; truncated")
		}
	}
	return data
}

// addBody decodes a text/plain or text/html part into Text or HTML. A
// further inline text part directly inside multipart/mixed is appended;
// any other extra text part becomes an attachment.
func (p *parser) addBody(e *entity, parent string) {
	data := p.decoded(e)
	text, w := decodeCharset(data, e.params["charset"])
	if w != "" {
		p.warn(w)
	}
	text = cleanBodyText(text)
	if e.mediaType == "text/plain" && strings.EqualFold(e.params["format"], "flowed") {
		text = unflow(text, strings.EqualFold(e.params["delsp"], "yes"))
	}
	dst := &p.msg.Text
	if e.mediaType == "text/html" {
		dst = &p.msg.HTML
	}
	hasName := filename(e) != ""
	switch {
	case *dst == "" && strings.TrimSpace(text) != "":
		*dst = text
	case *dst == "":
		// Whitespace-only: keep looking for a better candidate.
	case parent == "mixed" && !hasName && e.disp != "attachment":
		*dst = strings.TrimRight(*dst, "\n") + "\n\n" + text
	default:
		p.addAttachment(e, data)
	}
}

// filename returns the decoded, directory-free file name of e.
func filename(e *entity) string {
	name := e.dparams["filename"]
	if name == "" {
		name = e.params["name"]
	}
	if name == "" {
		return ""
	}
	name = headerText(name)
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

func (p *parser) addAttachment(e *entity, data []byte) {
	name := filename(e)
	if name == "" && (e.mediaType == "message/rfc822" || e.mediaType == "message/global") {
		name = "message.eml"
	}
	cid := strings.TrimSpace(e.header.Get("Content-Id"))
	cid = stripControls(strings.Trim(cid, "<> \t"))
	p.msg.Attachments = append(p.msg.Attachments, Attachment{
		Filename:    name,
		ContentType: e.mediaType,
		ContentID:   cid,
		Inline:      e.disp == "inline" || (e.disp == "" && cid != ""),
		Data:        data,
	})
}

// unflow undoes RFC 3676 format=flowed soft line breaks. Quote depth is
// kept; the signature separator "-- " is never joined.
func unflow(s string, delsp bool) string {
	if !strings.Contains(s, " \n") {
		return s
	}
	out := make([]byte, 0, len(s))
	prevSoft := false
	prevDepth := 0
	for i, l := range strings.Split(s, "\n") {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		content := l[depth:]
		content = strings.TrimPrefix(content, " ") // space-stuffing
		if !prevSoft || depth != prevDepth {
			if i > 0 {
				out = append(out, '\n')
			}
			if depth > 0 {
				out = append(out, strings.Repeat(">", depth)...)
				out = append(out, ' ')
			}
		}
		out = append(out, content...)
		soft := strings.HasSuffix(content, " ") && content != "-- "
		if soft && delsp {
			out = out[:len(out)-1] // the space only marked the soft break
		}
		prevSoft, prevDepth = soft, depth
	}
	return string(out)
}
