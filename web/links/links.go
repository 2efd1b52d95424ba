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
	Health = "GET /healthz"
	// Ready is the readiness check (database, schema, queues), for load
	// balancers and deploys; Health is liveness.
	Ready           = "GET /readyz"
	Stylesheet      = "GET /style.css"
	Question        = "GET /q/{id}"
	UnsubscribeForm = "GET /unsubscribe/{token}"
	Unsubscribe     = "POST /unsubscribe/{token}"
	ConfirmForm     = "GET /confirm/{token}"
	Confirm         = "POST /confirm/{token}"
	Attachment      = "GET /a/{id}"
	// StylesheetHashed is the stylesheet under its content hash
	// (templates.StylesheetHash): cached for good, a new hash per change.
	StylesheetHashed = "GET /s/{hash}/style.css"
	Home             = "GET /{$}"
	Unanswered       = "GET /unanswered"
	Category         = "GET /c/{slug}"
	Tag              = "GET /t/{tag}"
	About            = "GET /about"
	// Search is the public search (SearchParam the query, PageParam
	// the page).
	Search = "GET /search"
	// Feed is the Atom feed of the whole forum; CategoryFeed a
	// category's.
	Feed         = "GET /feed.atom"
	CategoryFeed = "GET /c/{slug}/feed.atom"
	// Favicon answers browsers' automatic request with no content (the
	// forum has no icon), so that it is not a 404.
	Favicon = "GET /favicon.ico"
	// Answer takes the answer form under question id; AskForm shows the
	// ask form, Ask takes it.
	Answer  = "POST /q/{id}/answer"
	AskForm = "GET /ask"
	Ask     = "POST /ask"
	// SignInForm asks for an address to mail a sign-in link to, SignIn
	// takes it; SignInLinkForm is the mailed link (a button: a GET never
	// signs in), SignInLink opens the session.
	SignInForm     = "GET /signin"
	SignIn         = "POST /signin"
	SignInLinkForm = "GET /signin/{token}"
	SignInLink     = "POST /signin/{token}"
	// Settings shows a signed-in member's notification settings and the
	// sign-out buttons; SaveSettings takes the settings form.
	Settings          = "GET /settings"
	SaveSettings      = "POST /settings"
	SignOut           = "POST /signout"
	SignOutEverywhere = "POST /signout/everywhere"
	// A signed-in member's actions on post id: a vote, the best answer,
	// an edit of their own post (EditForm shows it).
	Vote     = "POST /p/{id}/vote"
	Best     = "POST /p/{id}/best"
	EditForm = "GET /p/{id}/edit"
	Edit     = "POST /p/{id}/edit"
)

// Routes returns every pattern package web serves, each once.
func Routes() []string {
	return []string{Health, Ready, Stylesheet, Question, UnsubscribeForm, Unsubscribe, ConfirmForm, Confirm, Attachment,
		StylesheetHashed, Home, Unanswered, Category, Tag, About, Search, Feed, CategoryFeed, Favicon, Answer, AskForm, Ask,
		SignInForm, SignIn, SignInLinkForm, SignInLink, Settings, SaveSettings, SignOut, SignOutEverywhere, Vote, Best, EditForm, Edit}
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
	p = strings.TrimSuffix(p, "{$}") // "/{$}" matches "/" alone
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

// AnswerAction is where the answer form under question id posts.
func (l Links) AnswerAction(id int64) string { return l.path(Answer, fmt.Sprint(id)) }

// AskPage is the ask form, and where it posts.
func (l Links) AskPage() string { return l.path(AskForm) }

// SignInPage is the sign-in form, and where it posts.
func (l Links) SignInPage() string { return l.path(SignInForm) }

// SignInLinkPage is the sign-in link of tok (GET shows a button, the
// POST signs in).
func (l Links) SignInLinkPage(tok string) string { return l.path(SignInLinkForm, tok) }

// SettingsPage is a signed-in member's settings page, and where its form
// posts.
func (l Links) SettingsPage() string { return l.path(Settings) }

// SignOutAction ends the browser's session; SignOutEverywhereAction every
// session of the member.
func (l Links) SignOutAction() string { return l.path(SignOut) }

// SignOutEverywhereAction ends every session of the signed-in member.
func (l Links) SignOutEverywhereAction() string { return l.path(SignOutEverywhere) }

// VoteAction is where a vote on post id posts.
func (l Links) VoteAction(id int64) string { return l.path(Vote, fmt.Sprint(id)) }

// BestAction is where selecting answer id as the best posts.
func (l Links) BestAction(id int64) string { return l.path(Best, fmt.Sprint(id)) }

// EditPage is the edit form of post id, and where it posts.
func (l Links) EditPage(id int64) string { return l.path(EditForm, fmt.Sprint(id)) }

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

// StylesheetAt is the pages' stylesheet under its content hash.
func (l Links) StylesheetAt(hash string) string { return l.path(StylesheetHashed, hash) }

// HomePage is page n of the home page's recent questions (n < 2: the
// first, at "/").
func (l Links) HomePage(n int) string { return paged(l.path(Home), n) }

// UnansweredPage is page n of the questions without an answer.
func (l Links) UnansweredPage(n int) string { return paged(l.path(Unanswered), n) }

// CategoryPage is page n of category slug's questions.
func (l Links) CategoryPage(slug string, n int) string { return paged(l.path(Category, slug), n) }

// TagPage is page n of the questions tagged tag.
func (l Links) TagPage(tag string, n int) string { return paged(l.path(Tag, tag), n) }

// AboutPage is the page explaining how to take part by email.
func (l Links) AboutPage() string { return l.path(About) }

// SearchPage is page n of the search results for query q (q "": the
// search page without a query).
func (l Links) SearchPage(q string, n int) string {
	u := l.path(Search)
	if q != "" {
		u += "?" + url.Values{SearchParam: {q}}.Encode()
	}
	if n < 2 {
		return u
	}
	sep := "?"
	if q != "" {
		sep = "&"
	}
	return fmt.Sprintf("%s%s%s=%d", u, sep, PageParam, n)
}

// FeedURL is the Atom feed of the whole forum.
func (l Links) FeedURL() string { return l.path(Feed) }

// CategoryFeedURL is the Atom feed of category slug.
func (l Links) CategoryFeedURL(slug string) string { return l.path(CategoryFeed, slug) }

// PageParam is the query parameter of a list's page number.
const PageParam = "page"

// SearchParam is the query parameter of the search's words (the search
// form's field name).
const SearchParam = "q"

// paged adds page n to the list URL u; page 1 (or less) is u itself.
func paged(u string, n int) string {
	if n < 2 {
		return u
	}
	return fmt.Sprintf("%s?%s=%d", u, PageParam, n)
}

// UnsubscribeMailto is the mailto: URI of a List-Unsubscribe field for the
// unsubscribe address addr (RFC 2369): a mail to addr with subject
// "unsubscribe". An empty addr gives "".
func UnsubscribeMailto(addr string) string {
	if addr == "" {
		return ""
	}
	return "mailto:" + addr + "?subject=unsubscribe"
}
