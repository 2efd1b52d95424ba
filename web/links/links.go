// Package links is the one place that knows Postern's web routes: the
// patterns the web server registers (Routes) and the URLs every mail and
// page carries (Links). A mail's link is built here from the same pattern
// the server serves, so it cannot point at a route that does not exist
// (web.TestEveryLinkHasARoute). It imports nothing of Postern's.
package links

import (
	"fmt"
	"net/url"
	"strings"
)

// Route patterns (net/http ServeMux syntax) served by package web.
const (
	Health          = "GET /healthz"
	Stylesheet      = "GET /style.css"
	Question        = "GET /q/{id}"
	UnsubscribeForm = "GET /unsubscribe/{token}"
	Unsubscribe     = "POST /unsubscribe/{token}"
	ConfirmForm     = "GET /confirm/{token}"
	Confirm         = "POST /confirm/{token}"
	Attachment      = "GET /a/{id}"
)

// Routes returns every pattern package web serves, each once.
func Routes() []string {
	return []string{Health, Stylesheet, Question, UnsubscribeForm, Unsubscribe, ConfirmForm, Confirm, Attachment}
}

// Links builds the forum's absolute web addresses from its base URL. The
// zero value builds paths relative to the server root ("/q/1"), which is
// what a page's own forms and links use. It is immutable.
type Links struct {
	base string
}

// New returns the Links of a forum served at baseURL (scheme and host, an
// optional path prefix; a trailing slash is dropped).
func New(baseURL string) Links { return Links{base: strings.TrimRight(baseURL, "/")} }

// Base returns the base URL without a trailing slash.
func (l Links) Base() string { return l.base }

// path fills pattern's path with the escaped values, in order, and puts
// the base URL in front. It panics on a pattern/value mismatch, which is a
// programming error caught by this package's tests.
func (l Links) path(pattern string, values ...string) string {
	_, p, _ := strings.Cut(pattern, " ")
	for _, v := range values {
		i := strings.IndexByte(p, '{')
		j := strings.IndexByte(p, '}')
		if i < 0 || j < i {
			panic(fmt.Sprintf("links: too many values for %q", pattern))
		}
		p = p[:i] + url.PathEscape(v) + p[j+1:]
	}
	if strings.IndexByte(p, '{') >= 0 {
		panic(fmt.Sprintf("links: too few values for %q", pattern))
	}
	return l.base + p
}

// QuestionPage is the page of question id.
func (l Links) QuestionPage(id int64) string { return l.path(Question, fmt.Sprint(id)) }

// Post is the place of post (an answer or comment, or the question itself)
// on the page of question: the page with the post's anchor (PostAnchor).
func (l Links) Post(question, post int64) string {
	return l.QuestionPage(question) + "#" + PostAnchor(post)
}

// PostAnchor is the id attribute of post's element on its question page.
func PostAnchor(post int64) string { return fmt.Sprintf("p%d", post) }

// UnsubscribePage is the unsubscribe link of tok (GET shows the form, a
// POST, RFC 8058 one-click included, stops).
func (l Links) UnsubscribePage(tok string) string { return l.path(UnsubscribeForm, tok) }

// ConfirmPage is the confirmation link of tok (GET shows a button, the
// POST confirms).
func (l Links) ConfirmPage(tok string) string { return l.path(ConfirmForm, tok) }

// Download is the download of attachment id.
func (l Links) Download(id int64) string { return l.path(Attachment, fmt.Sprint(id)) }

// StylesheetURL is the pages' stylesheet.
func (l Links) StylesheetURL() string { return l.path(Stylesheet) }

// UnsubscribeMailto is the mailto: URI of a List-Unsubscribe field for the
// unsubscribe address addr (RFC 2369): a mail to addr with subject
// "unsubscribe". An empty addr gives "".
func UnsubscribeMailto(addr string) string {
	if addr == "" {
		return ""
	}
	return "mailto:" + addr + "?subject=unsubscribe"
}
