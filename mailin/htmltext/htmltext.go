// Package htmltext converts the HTML body of an email to readable plain
// text: paragraphs and line breaks, "- " and "1. " list items, links as
// "text (URL)", verbatim <pre> blocks, "> " quoted blockquotes and tables
// as rows of cells. Scripts, styles, the document head, comments and
// hidden elements are dropped; no markup ever reaches the output.
package htmltext

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxRecursion bounds the recursive walk; deeper subtrees are flattened to
// their text so hostile nesting cannot exhaust the stack.
const maxRecursion = 1000

// Convert renders an HTML document or fragment as plain text. It never
// fails: malformed HTML is read the way browsers read it. The result has
// no trailing spaces on lines, no runs of more than one blank line and no
// leading or trailing blank lines.
func Convert(src string) string {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return ""
	}
	r := &renderer{}
	r.walk(doc, 0)
	return finish(r.sb.String())
}

type listState struct {
	ordered bool
	n       int
}

type renderer struct {
	sb        strings.Builder
	lineStart bool // nothing written on the current line yet
	started   bool // anything written at all
	breaks    int  // newlines owed before the next text
	space     bool // a collapsed space is owed before the next text
	pre       int
	quote     int
	lineQuote int // quote depth of the last line written
	lists     []listState
	itemMark  string           // pending "- " or "1. " for the next text
	cellSep   bool             // a cell separator is owed before the next text
	capture   *strings.Builder // collects the visible text of the current link
}

// block requests at least n line breaks before the next text.
func (r *renderer) block(n int) {
	if r.breaks < n {
		r.breaks = n
	}
	r.space = false
	r.cellSep = false
}

// prefix is written at the start of each output line.
func (r *renderer) prefix() string {
	p := strings.Repeat("> ", r.quote)
	if n := len(r.lists); n > 1 {
		p += strings.Repeat("  ", n-1)
	}
	return p
}

func (r *renderer) newline() {
	r.sb.WriteByte('\n')
	r.lineStart = true
}

// emit writes already-formatted text (no newlines) at the current position,
// settling owed breaks, prefixes, list marks and separators first.
func (r *renderer) emit(s string) {
	if s == "" {
		return
	}
	if r.started {
		for i := 0; i < r.breaks; i++ {
			if q := min(r.quote, r.lineQuote); i > 0 && q > 0 {
				r.sb.WriteString(strings.TrimRight(strings.Repeat("> ", q), " "))
			}
			r.newline()
		}
	} else {
		r.lineStart = true
	}
	r.breaks = 0
	if r.lineStart {
		r.sb.WriteString(r.prefix())
		r.lineQuote = r.quote
		r.lineStart = false
		r.space = false
		r.cellSep = false
	}
	if r.itemMark != "" {
		r.sb.WriteString(r.itemMark)
		r.itemMark = ""
		r.space = false
	}
	if r.cellSep {
		r.sb.WriteString(" | ")
		r.cellSep = false
		r.space = false
	}
	if r.space {
		r.sb.WriteByte(' ')
		r.space = false
	}
	r.sb.WriteString(s)
	if r.capture != nil {
		r.capture.WriteString(s)
	}
	r.started = true
}

// text writes a text node, collapsing white space outside <pre>.
func (r *renderer) text(s string) {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if r.pre > 0 {
		lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
		for i, l := range lines {
			if i > 0 {
				r.breaks++
				if !r.started {
					r.started = true
				}
			}
			if l != "" {
				r.emit(strings.ReplaceAll(l, "\t", "    "))
			}
		}
		return
	}
	if s == "" {
		return
	}
	if isSpace(s[0]) && !r.lineStart {
		r.space = true
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return
	}
	r.emit(strings.Join(words, " "))
	if isSpace(s[len(s)-1]) {
		r.space = true
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// hidden reports elements a mail client would not show.
func hidden(n *html.Node) bool {
	if _, ok := attrOK(n, "hidden"); ok {
		return true
	}
	st := strings.ToLower(strings.Join(strings.Fields(attr(n, "style")), ""))
	return strings.Contains(st, "display:none") || strings.Contains(st, "visibility:hidden")
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (r *renderer) children(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.walk(c, depth+1)
	}
}

// flatText writes the text of a too-deep subtree iteratively.
func (r *renderer) flatText(n *html.Node) {
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type == html.TextNode {
			r.text(c.Data)
			continue
		}
		if c.Type == html.ElementNode && dropped(c) {
			continue
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
}

func dropped(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template,
		atom.Iframe, atom.Object, atom.Embed, atom.Svg, atom.Math, atom.Select, atom.Button:
		return true
	}
	return hidden(n)
}

// walk renders n and its subtree, n being depth levels below the root;
// comments, doctypes and dropped elements give nothing.
func (r *renderer) walk(n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		r.text(n.Data)
		return
	case html.CommentNode, html.DoctypeNode:
		return
	case html.DocumentNode:
		r.children(n, depth)
		return
	case html.ElementNode:
	default:
		return
	}
	if dropped(n) {
		return
	}
	if depth > maxRecursion {
		r.flatText(n)
		return
	}
	r.element(n, depth)
}

// element renders element n by its kind: breaks, blocks, preformatted
// text, quotes, lists, table cells, links and images; any other element
// is rendered as its children.
func (r *renderer) element(n *html.Node, depth int) {
	switch n.DataAtom {
	case atom.Br:
		if !r.started {
			return
		}
		r.breaks++
		r.space = false
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Hr, atom.Dl, atom.Figure, atom.Address, atom.Fieldset:
		r.block(2)
		r.children(n, depth)
		r.block(2)
	case atom.Pre, atom.Xmp, atom.Listing, atom.Plaintext:
		r.block(2)
		r.pre++
		r.children(n, depth)
		r.pre--
		r.block(2)
	case atom.Blockquote:
		r.block(2)
		r.quote++
		r.children(n, depth)
		r.block(2)
		r.quote--
	case atom.Ul, atom.Ol, atom.Menu:
		r.list(n, depth)
	case atom.Li:
		r.item(n, depth)
	case atom.Tr:
		r.block(1)
		r.children(n, depth)
		r.block(1)
	case atom.Td, atom.Th:
		before := r.sb.Len()
		r.children(n, depth)
		if r.sb.Len() > before {
			r.cellSep = true
		}
		r.space = false
	case atom.Table, atom.Div, atom.Section, atom.Article, atom.Header, atom.Footer,
		atom.Nav, atom.Aside, atom.Main, atom.Center, atom.Dt, atom.Dd, atom.Figcaption,
		atom.Details, atom.Summary, atom.Form, atom.Caption, atom.Tbody, atom.Thead, atom.Tfoot:
		r.block(1)
		r.children(n, depth)
		r.block(1)
	case atom.A:
		r.link(n, depth)
	case atom.Img:
		if alt := strings.TrimSpace(attr(n, "alt")); alt != "" {
			r.text(alt)
		}
	default:
		r.children(n, depth)
	}
}

// list renders a list element: its items set apart by a blank line (one
// line break in a nested list), numbered from its start attribute when
// it is ordered.
func (r *renderer) list(n *html.Node, depth int) {
	gap := 2
	if len(r.lists) > 0 {
		gap = 1
	}
	r.block(gap)
	st := listState{ordered: n.DataAtom == atom.Ol, n: 1}
	if s, err := strconv.Atoi(attr(n, "start")); err == nil && s > -1e6 && s < 1e6 {
		st.n = s
	}
	r.lists = append(r.lists, st)
	r.children(n, depth)
	r.lists = r.lists[:len(r.lists)-1]
	r.block(gap)
}

// item renders a list item on its own line, behind "- " or its number.
func (r *renderer) item(n *html.Node, depth int) {
	r.block(1)
	mark := "- "
	if k := len(r.lists); k > 0 {
		if r.lists[k-1].ordered {
			mark = strconv.Itoa(r.lists[k-1].n) + ". "
		}
		r.lists[k-1].n++
	}
	r.itemMark = mark
	r.children(n, depth)
	r.itemMark = ""
	r.block(1)
}

// link renders an anchor as "text (URL)", or just the URL when the text is
// the URL; mailto:, javascript:, cid: and in-page hrefs are never shown.
func (r *renderer) link(n *html.Node, depth int) {
	href := strings.TrimSpace(attr(n, "href"))
	saved := r.capture
	var visible strings.Builder
	r.capture = &visible
	r.children(n, depth)
	r.capture = saved
	if saved != nil {
		saved.WriteString(visible.String())
	}
	lower := strings.ToLower(href)
	if !(strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") ||
		strings.HasPrefix(lower, "ftp://")) {
		return
	}
	text := strings.TrimSpace(visible.String())
	if text == "" {
		r.emit(href)
		return
	}
	if sameURL(text, href) {
		return
	}
	r.space = true
	r.emit("(" + href + ")")
}

// sameURL reports whether the visible link text is just the URL.
func sameURL(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(s, "http://")
		s = strings.TrimPrefix(s, "https://")
		s = strings.TrimPrefix(s, "www.")
		return strings.TrimRight(s, "/")
	}
	return norm(text) == norm(href)
}

// finish trims line ends and collapses blank-line runs.
func finish(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := true // suppresses leading blank lines
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}
