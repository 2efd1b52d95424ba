package trim

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTML removes quote containers from an HTML reply before it is converted
// to text. It finds the first container that mail clients use to hold the
// quoted message (see isQuoteContainer) and removes it together with
// everything after it in document order; signature containers (Gmail's
// gmail_signature, Thunderbird's moz-signature) above that point are removed
// too. kept is the remaining document, serialised; elided is the removed
// HTML, serialised in document order. When nothing is recognised, kept is
// the input unchanged and elided is empty. HTML never fails: input that
// cannot be parsed is returned unchanged.
func HTML(src string) (kept, elided string) {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return src, ""
	}
	var removed []*html.Node
	isQuote := isQuoteContainer
	if findFirst(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "name") == "messageBodySection" }) == nil {
		// Exchange marks the reply section by name only next to a body
		// section; alone, it holds what the person wrote.
		isQuote = func(n *html.Node) bool {
			return isQuoteContainer(n) && attr(n, "name") != "messageReplySection"
		}
	}
	if q := findFirst(doc, isQuote); q != nil {
		removed = append(removed, cutFrom(q)...)
	}
	var sigs []*html.Node
	walk(doc, func(n *html.Node) bool {
		if isSignatureContainer(n) {
			sigs = append(sigs, n)
			return false
		}
		return true
	})
	for _, s := range sigs {
		if s.Parent != nil {
			s.Parent.RemoveChild(s)
		}
	}
	removed = append(sigs, removed...)
	if len(removed) == 0 {
		return src, ""
	}
	var kb, eb strings.Builder
	if err := html.Render(&kb, doc); err != nil {
		return src, ""
	}
	for _, n := range removed {
		if err := html.Render(&eb, n); err != nil {
			return src, ""
		}
	}
	return kb.String(), eb.String()
}

// walk visits n and its descendants in document order; fn returns false to
// skip a node's children. It uses an explicit stack, so deeply nested
// input cannot exhaust the goroutine stack.
func walk(n *html.Node, fn func(*html.Node) bool) {
	stack := []*html.Node{n}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !fn(cur) {
			continue
		}
		// Push children in reverse so the first child is visited first.
		for c := cur.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, c)
		}
	}
}

// findFirst returns the first node in document order for which pred holds.
func findFirst(root *html.Node, pred func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(root, func(n *html.Node) bool {
		if found != nil {
			return false
		}
		if pred(n) {
			found = n
			return false
		}
		return true
	})
	return found
}

// cutFrom detaches n and every node after it in document order (its later
// siblings, then the later siblings of each ancestor below <body>) and
// returns them in document order.
func cutFrom(n *html.Node) []*html.Node {
	var out []*html.Node
	cur := n
	for cur != nil && cur.Parent != nil {
		parent := cur.Parent
		for s := cur; s != nil; {
			next := s.NextSibling
			parent.RemoveChild(s)
			out = append(out, s)
			s = next
		}
		if parent.Type != html.ElementNode || parent.DataAtom == atom.Body || parent.DataAtom == atom.Html {
			break
		}
		// Continue with the siblings after the parent.
		cur = parent.NextSibling
		for cur == nil && parent.Parent != nil && parent.Parent.Type == html.ElementNode && parent.Parent.DataAtom != atom.Body && parent.Parent.DataAtom != atom.Html {
			parent = parent.Parent
			cur = parent.NextSibling
		}
	}
	return out
}

// attr returns the value of attribute key (lower-case) on n.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// hasClass reports whether n's class list holds a class for which pred
// holds.
func hasClass(n *html.Node, pred func(string) bool) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if pred(c) {
			return true
		}
	}
	return false
}

// yahooQuotedRe matches Yahoo's quote class names: "yahoo_quoted" and the
// generated "ydp1a2b3c4dyahoo_quoted" forms.
var yahooQuotedRe = regexp.MustCompile(`^(ydp[0-9a-f]*)?yahoo_quoted$`)

// replySeparatorTextRe matches the first words of Outlook's reply
// separator block ("From: …" in several languages).
var replySeparatorTextRe = regexp.MustCompile(`(?i)^\s*(from|de|von|da|van|från|od|от|fra|lähettäjä|发件人|寄件者|差出人)\s*[:：]`)

// isQuoteContainer reports whether n is an element that a mail client uses
// to hold the quoted previous message.
func isQuoteContainer(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	id := attr(n, "id")
	switch n.DataAtom {
	case atom.Div:
		if hasClass(n, func(c string) bool {
			switch c {
			case "gmail_quote", "gmail_extra", "gmail_quote_container", "moz-cite-prefix", "yahoo_quoted", "messageReplySection", "OutlookMessageHeader":
				return true
			}
			return yahooQuotedRe.MatchString(c)
		}) {
			return true
		}
		if strings.HasSuffix(id, "divRplyFwdMsg") || strings.HasSuffix(id, "appendonsend") || id == "messageReplySection" || strings.HasSuffix(id, "OLK_SRC_BODY_SECTION") ||
			attr(n, "name") == "messageReplySection" {
			return true
		}
		if isOutlookSeparator(n) {
			return true
		}
	case atom.Blockquote:
		if strings.EqualFold(attr(n, "type"), "cite") || hasClass(n, func(c string) bool { return c == "gmail_quote" }) {
			return true
		}
	case atom.Hr:
		if id == "zwchr" || strings.HasSuffix(id, "stopSpelling") {
			return true
		}
	case atom.Span:
		if strings.HasSuffix(id, "OLK_SRC_BODY_SECTION") {
			return true
		}
	}
	return false
}

// isOutlookSeparator reports whether n is the bordered block Outlook puts
// above the copied header ("From: … Sent: …"): a div whose style has a
// top border and whose text starts with a From-like field.
func isOutlookSeparator(n *html.Node) bool {
	style := strings.ToLower(strings.ReplaceAll(attr(n, "style"), " ", ""))
	if !strings.Contains(style, "border-top:solid") && !strings.Contains(style, "border-top:1px") && !strings.Contains(style, "border-top-style:solid") {
		return false
	}
	return replySeparatorTextRe.MatchString(textPrefix(n, 200))
}

// textPrefix returns up to limit bytes of n's text content.
func textPrefix(n *html.Node, limit int) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if b.Len() >= limit {
			return false
		}
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
		return true
	})
	s := b.String()
	if len(s) > limit {
		s = s[:limit]
	}
	return s
}

// isSignatureContainer reports whether n holds the sender's signature as
// Gmail or Thunderbird marks it.
func isSignatureContainer(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	if attr(n, "data-smartmail") == "gmail_signature" {
		return true
	}
	return hasClass(n, func(c string) bool { return c == "gmail_signature" || c == "moz-signature" })
}
