package templates

import (
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// QuestionPage is the data of page/question.html.tmpl: a read-only
// question with its answers and comments in order. All text is plain
// text from mail: the template escapes it (RichText makes its http(s)
// links clickable, nothing else becomes markup).
type QuestionPage struct {
	Title string
	// Description is the page's meta description: the start of the
	// question's text.
	Description  string
	Category     string // empty when the question has none
	CategorySlug string
	Tags         []string
	// Votes is the question's net votes.
	Votes int
	// Closed says the question takes no more answers.
	Closed bool
	// DuplicateOf is the shown question this one was closed as a
	// duplicate of (0 none), titled DuplicateTitle.
	DuplicateOf    int64
	DuplicateTitle string
	Question       PostView
	// VoteAction is the question's vote form (a signed-in member's, on
	// another's question; "" none); ActToken the anti-forgery token of
	// the page's action forms.
	VoteAction, ActToken string
	// Answers are in the page's order: the best first, then by votes,
	// then oldest first.
	Answers []AnswerView
	// Comments are the comments on the question itself, oldest first.
	Comments []PostView
	// Now is the time "… ago" is counted from.
	Now time.Time
	// Form is the answer form at the bottom (nil: none, the question
	// is closed).
	Form *PostForm
}

// PostView is one post as a page shows it.
type PostView struct {
	// Anchor is the id attribute of the post's element (links.PostAnchor),
	// the fragment a notification's link points at.
	Anchor       string
	Author       string // display name, never an address
	AuthorPoints int
	Created      time.Time
	// Edited is when the author last edited the post (zero: never);
	// the page then shows "edited" and the time.
	Edited time.Time
	Body   string
	// Quoted is the quote or signature trimmed from an emailed post,
	// shown folded ("show quoted text"); "" none.
	Quoted string
	Files  []FileLink
	// Now is the time "… ago" is counted from.
	Now time.Time
	// ID and AuthorID name the post and its author, for the signed-in
	// actions; EditURL is the edit form of a signed-in member's own post
	// ("" none).
	ID, AuthorID int64
	EditURL      string
	// Form is the answer form at the bottom (nil: none, the question
	// is closed).
	Form *PostForm
}

// AnswerView is an answer with the comments on it.
type AnswerView struct {
	PostView
	Votes    int
	Best     bool
	Comments []PostView
	// VoteAction and BestAction are a signed-in member's vote form (on
	// another's answer) and best-answer form (on their own question's
	// answers); "" none.
	VoteAction, BestAction string
}

// urlInText finds the http(s) URLs of plain text. Trailing punctuation
// that usually closes a sentence or a parenthesis is trimmed off by
// linkURL.
var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"']+`)

// RichText turns plain text into escaped HTML like paragraphs, and makes
// every http or https URL in it a link with rel="nofollow ugc noopener".
// No other scheme is ever linked (javascript:, data:, mailto: stay text),
// and everything from s is escaped, so the result is safe to emit as HTML.
func RichText(s string) htmltemplate.HTML {
	return paragraphsWith(s, writeLinked)
}

// writeLinked writes line escaped, its URLs as links.
func writeLinked(b *strings.Builder, line string) {
	if !strings.Contains(line, "://") {
		// No URL (most lines): the expression, 40% of a long question
		// page's CPU when run on every line, cannot match.
		b.WriteString(htmltemplate.HTMLEscapeString(line))
		return
	}
	last := 0
	for _, m := range urlInText.FindAllStringIndex(line, -1) {
		raw := strings.TrimRight(line[m[0]:m[1]], ".,;:!?)]}")
		end := m[0] + len(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		b.WriteString(htmltemplate.HTMLEscapeString(line[last:m[0]]))
		b.WriteString(`<a href="`)
		b.WriteString(htmltemplate.HTMLEscapeString(u.String()))
		b.WriteString(`" rel="nofollow ugc noopener">`)
		b.WriteString(htmltemplate.HTMLEscapeString(raw))
		b.WriteString(`</a>`)
		last = end
	}
	b.WriteString(htmltemplate.HTMLEscapeString(line[last:]))
}

// pageTime formats a post's time for a page: UTC, to the minute.
func pageTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }
