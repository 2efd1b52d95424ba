package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/postern/postern/threads/mailkind"
)

//go:embed mail/*.tmpl page/*.tmpl
var files embed.FS

//go:embed page/style.css
var stylesheet []byte

// Stylesheet returns the CSS of every page (page/style.css), which pages
// link under its content hash (StylesheetHash): they carry no inline
// style.
func Stylesheet() []byte { return stylesheet }

// ReplyMarker is the line placed at the top of a notification body when
// MailData.ReplyAbove is set. Inbound processing may cut a reply at this
// line; it is the same in the text and the HTML body.
const ReplyMarker = "## Reply above this line ##"

// PrivacyLine is the forum's privacy statement, shown in every mail footer
// and at the bottom of every page.
const PrivacyLine = "Privacy: Your email address will only be used for sending these notifications."

// MailData is the data every mail template receives. All fields are plain
// text: the HTML templates escape them, the text templates print them as
// they are (user text is never reflowed).
type MailData struct {
	// ForumName is the forum's display name, used in subjects as "[ForumName]".
	ForumName string
	// PosterName is the display name of the author of the new post.
	PosterName string
	// RecipientName is the display name of the person the mail goes to;
	// empty leaves out the greeting.
	RecipientName string
	// Kind is the mail kind. Mail fills it in from its kind argument when
	// it is empty.
	Kind mailkind.Kind
	// QuestionTitle is the title of the question the thread is about.
	QuestionTitle string
	// QuestionID is the question's identifier, for reference in the text.
	QuestionID int64
	// PostKind is the kind of the new post: "question", "answer" or "comment".
	PostKind string
	// Body is the new post's full plain text.
	Body string
	// ParentExcerpt is a short excerpt of the post being answered or
	// commented on; empty leaves the quote out.
	ParentExcerpt string
	// ThreadURL is the web address of the thread.
	ThreadURL string
	// ReplyAbove asks for ReplyMarker at the top of the body.
	ReplyAbove bool
	// UnsubscribeURL is the one-click unsubscribe web address.
	UnsubscribeURL string
	// CategoryName is the question's category; empty when it has none.
	CategoryName string
	// ActionURL is the web link that does what the mail asks (confirm).
	ActionURL string
	// FromWeb says a confirmation request is about a post written in the
	// web form (with this address), not one received by email.
	FromWeb bool
	// Reason says what happened, for unsubscribed and rejected mail; in a
	// confirmation request, why a confirmed member is asked.
	Reason string
	// Forum is the forum's addresses, for the help mail (its Guide).
	Forum ForumAddresses
	// Files are the post's attachments, linked (never re-sent).
	Files []FileLink
	// UnsubscribeAddress is the forum's address that stops every email
	// (welcome mail).
	UnsubscribeAddress string
	// UnsubscribeCategoryAddress is the forum's address that ends the
	// follow of CategoryName; empty for a follow of the whole forum.
	UnsubscribeCategoryAddress string
}

// FileLink is one attachment of a post: its name, size and web address.
type FileLink struct {
	Name string
	Size string
	URL  string
}

// ReplyAction is the verb phrase telling what replying to the mail does:
// replying to a new question answers it, replying to anything else adds a
// comment. Templates use it in the footer.
func (d MailData) ReplyAction() string {
	switch d.Kind {
	case mailkind.NewQuestion:
		return "answer"
	case mailkind.Confirm, mailkind.ConfirmSubscribe:
		return "confirm"
	case mailkind.Moderate:
		return `approve it ("approve") or reject it ("reject" and a reason)`
	}
	return "comment"
}

// MessagePage is the data of page/message.html.tmpl: a page with a title
// and one plain-text message (escaped; blank lines make paragraphs).
type MessagePage struct {
	// Title is the page title and heading.
	Title string
	// Message is the plain-text message shown on the page.
	Message string
	// FormAction, when set, adds the unsubscribe confirm form posting to
	// it: one button for "this question" (for StopsFollows: "the follows
	// that sent this new question"), one for "everything". A GET never
	// changes anything; only this form's POST does.
	FormAction string
	// StopsFollows labels the form's first button for the link of a
	// new-question mail, which ends follows rather than mutes a question.
	StopsFollows bool
	// StopsAll leaves only the "everything" button, for a link that names
	// no question (the welcome mail's).
	StopsAll bool
	// ConfirmAction, when set, adds a one-button form posting to it (the
	// confirmation link's page).
	ConfirmAction string
	// ConfirmLabel is that form's button ("" is "Confirm").
	ConfirmLabel string
	// LinkURL, when set, ends the page with a link to it, LinkText.
	LinkURL, LinkText string
}

// mailSet is one mail kind's three parsed templates.
type mailSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Set is the parsed collection of all templates. It is safe for concurrent
// use by multiple goroutines once New returns.
type Set struct {
	mails     map[mailkind.Kind]mailSet
	pages     map[string]*htmltemplate.Template
	errorPage string // NoticeInternalError, rendered by New
}

// New parses every embedded template. It fails if a mail kind lacks one of
// its three files or if any file does not parse.
func New() (*Set, error) {
	s := &Set{
		mails: make(map[mailkind.Kind]mailSet),
		pages: make(map[string]*htmltemplate.Template),
	}
	if err := s.parseMails(); err != nil {
		return nil, err
	}
	if err := s.parsePages(); err != nil {
		return nil, err
	}
	var err error
	if s.errorPage, err = s.Page("message", NoticePage(NoticeInternalError)); err != nil {
		return nil, err
	}
	return s, nil
}

// ErrorPage is the page of NoticeInternalError, rendered once by New: the
// answer when a page does not render.
func (s *Set) ErrorPage() string { return s.errorPage }

// textFuncs are the helpers of the text templates.
func textFuncs() texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"quote":       quote,
		"replyMarker": func() string { return ReplyMarker },
		"privacyLine": func() string { return PrivacyLine },
	}
}

// htmlFuncs are the helpers of the HTML templates.
func htmlFuncs() htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"paragraphs":  paragraphs,
		"richText":    RichText,
		"pageTime":    pageTime,
		"replyMarker": func() string { return ReplyMarker },
		"privacyLine": func() string { return PrivacyLine },
	}
}

func (s *Set) parseMails() error {
	subjects, err := fs.Glob(files, "mail/*.subject.tmpl")
	if err != nil {
		return fmt.Errorf("templates: list mail subjects: %w", err)
	}
	textBase, err := texttemplate.New("").Funcs(textFuncs()).ParseFS(files, "mail/_*.txt.tmpl")
	if err != nil {
		return fmt.Errorf("templates: parse text partials: %w", err)
	}
	htmlBase, err := htmltemplate.New("").Funcs(htmlFuncs()).ParseFS(files, "mail/_*.html.tmpl")
	if err != nil {
		return fmt.Errorf("templates: parse html partials: %w", err)
	}
	for _, sub := range subjects {
		kind := mailkind.Kind(strings.TrimSuffix(path.Base(sub), ".subject.tmpl"))
		var m mailSet
		if m.subject, err = texttemplate.New("").Funcs(textFuncs()).ParseFS(files, sub); err != nil {
			return fmt.Errorf("templates: parse %s: %w", sub, err)
		}
		if m.text, err = textBase.Clone(); err != nil {
			return fmt.Errorf("templates: clone text partials for %s: %w", kind, err)
		}
		if _, err = m.text.ParseFS(files, "mail/"+string(kind)+".txt.tmpl"); err != nil {
			return fmt.Errorf("templates: parse mail %s text: %w", kind, err)
		}
		if m.html, err = htmlBase.Clone(); err != nil {
			return fmt.Errorf("templates: clone html partials for %s: %w", kind, err)
		}
		if _, err = m.html.ParseFS(files, "mail/"+string(kind)+".html.tmpl"); err != nil {
			return fmt.Errorf("templates: parse mail %s html: %w", kind, err)
		}
		s.mails[kind] = m
	}
	// Exactly the kinds mailkind names: a kind the store can record has
	// its mail, and no file names a kind nothing sends.
	for _, k := range mailkind.All() {
		if _, ok := s.mails[k]; !ok {
			return fmt.Errorf("templates: no mail/%s.subject.tmpl for mail kind %s", k, k)
		}
	}
	if len(s.mails) != len(mailkind.All()) {
		return fmt.Errorf("templates: %d mail kinds embedded, mailkind names %d", len(s.mails), len(mailkind.All()))
	}
	return nil
}

func (s *Set) parsePages() error {
	names, err := fs.Glob(files, "page/*.html.tmpl")
	if err != nil {
		return fmt.Errorf("templates: list pages: %w", err)
	}
	base, err := htmltemplate.New("").Funcs(htmlFuncs()).Funcs(pageFuncs()).ParseFS(files, "page/_*.html.tmpl")
	if err != nil {
		return fmt.Errorf("templates: parse page partials: %w", err)
	}
	for _, p := range names {
		file := path.Base(p)
		if strings.HasPrefix(file, "_") {
			continue
		}
		name := strings.TrimSuffix(file, ".html.tmpl")
		t, err := base.Clone()
		if err != nil {
			return fmt.Errorf("templates: clone page partials for %s: %w", name, err)
		}
		if _, err := t.ParseFS(files, p); err != nil {
			return fmt.Errorf("templates: parse page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// MailKinds returns every mail kind the set renders, sorted by name.
func (s *Set) MailKinds() []mailkind.Kind {
	out := make([]mailkind.Kind, 0, len(s.mails))
	for k := range s.mails {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Mail renders the mail of kind with data (normally a MailData or
// *MailData; an empty Kind is filled in with kind). The subject is one
// line with runs of white space collapsed, ready for a header. text is the
// text/plain body and html the text/html body; both end with a newline.
// An unknown kind or a template failure is an error.
func (s *Set) Mail(kind mailkind.Kind, data any) (subject, text, html string, err error) {
	m, ok := s.mails[kind]
	if !ok {
		return "", "", "", fmt.Errorf("templates: unknown mail kind %q", kind)
	}
	name := string(kind)
	switch d := data.(type) {
	case MailData:
		if d.Kind == "" {
			d.Kind = kind
		}
		data = d
	case *MailData:
		if d != nil && d.Kind == "" {
			c := *d
			c.Kind = kind
			data = c
		}
	}
	var b bytes.Buffer
	if err := m.subject.ExecuteTemplate(&b, name+".subject.tmpl", data); err != nil {
		return "", "", "", fmt.Errorf("templates: render mail %s subject: %w", name, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := m.text.ExecuteTemplate(&b, name+".txt.tmpl", data); err != nil {
		return "", "", "", fmt.Errorf("templates: render mail %s text: %w", name, err)
	}
	text = b.String()
	b.Reset()
	if err := m.html.ExecuteTemplate(&b, name+".html.tmpl", data); err != nil {
		return "", "", "", fmt.Errorf("templates: render mail %s html: %w", name, err)
	}
	html = b.String()
	return subject, text, html, nil
}

// Page renders the HTML page name (page/NAME.html.tmpl) with data. An
// unknown name or a template failure is an error.
func (s *Set) Page(name string, data any) (string, error) {
	t, ok := s.pages[name]
	if !ok {
		return "", fmt.Errorf("templates: unknown page %q", name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name+".html.tmpl", data); err != nil {
		return "", fmt.Errorf("templates: render page %s: %w", name, err)
	}
	return b.String(), nil
}

// quote prefixes every line of s with "> ", the plain-text quoting
// convention. It does not reflow.
func quote(s string) string {
	s = strings.TrimRight(normalizeNewlines(s), "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = ">"
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n")
}

// paragraphs turns plain text into escaped HTML: blank lines separate
// <p> paragraphs and single newlines become <br>. Everything from s is
// escaped, so the result is safe to emit as HTML.
func paragraphs(s string) htmltemplate.HTML {
	return paragraphsWith(s, func(b *strings.Builder, line string) {
		b.WriteString(htmltemplate.HTMLEscapeString(line))
	})
}

// paragraphsWith splits s into <p> paragraphs at blank lines, with <br>
// between the lines of a paragraph, and writes each line with line, which
// must escape everything it writes: the result is emitted as HTML.
func paragraphsWith(s string, line func(b *strings.Builder, line string)) htmltemplate.HTML {
	s = strings.Trim(normalizeNewlines(s), "\n")
	var b strings.Builder
	for _, para := range splitParagraphs(s) {
		b.WriteString("<p>")
		for i, l := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			line(&b, l)
		}
		b.WriteString("</p>\n")
	}
	// Every piece of s was escaped by line, so this conversion is safe.
	return htmltemplate.HTML(b.String())
}

// splitParagraphs splits s at lines that are empty or only white space.
func splitParagraphs(s string) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
