package templates

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"time"

	"github.com/postern/postern/web/links"
)

// stylesheetHash is the first 16 hex digits of the SHA-256 of the
// stylesheet, computed once.
var stylesheetHash = func() string {
	sum := sha256.Sum256(stylesheet)
	return hex.EncodeToString(sum[:8])
}()

// StylesheetHash is the content hash in the stylesheet's URL
// (links.StylesheetAt): a changed stylesheet gets a new URL, so the old
// one may be cached for good.
func StylesheetHash() string { return stylesheetHash }

// pagePaths builds the root-relative links every page carries.
var pagePaths links.Links

// Head is what a page's <head> (and its header) carries: its title and
// its description ("" leaves the meta element out), both plain text. Every
// page links the forum's Atom feed; a page of a category also links its
// own (CategoryFeed, "" none). Query is the search box's text (the search
// page's query, "" elsewhere).
type Head struct {
	Title, Description string
	// CategoryFeed is the URL of the category's feed, named FeedTitle.
	CategoryFeed, FeedTitle string
	Query                   string
	// NoIndex asks search engines not to index the page (search
	// results).
	NoIndex bool
}

// pageFuncs are the page templates' helpers: links (built by package
// links, never written in a template) and times.
func pageFuncs() htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"head":          func(title, desc string) Head { return Head{Title: title, Description: desc} },
		"stylesheetURL": func() string { return pagePaths.StylesheetAt(stylesheetHash) },
		"homeURL":       func() string { return pagePaths.HomePage(1) },
		"unansweredURL": func() string { return pagePaths.UnansweredPage(1) },
		"aboutURL":      pagePaths.AboutPage,
		"askURL":        pagePaths.AskPage,
		"accountURL":    pagePaths.SettingsPage,
		"searchURL":     func() string { return pagePaths.SearchPage("", 1) },
		"searchParam":   func() string { return links.SearchParam },
		"searchMax":     func() int { return SearchMaxChars },
		"feedURL":       pagePaths.FeedURL,
		"questionURL":   pagePaths.QuestionPage,
		"categoryURL":   func(slug string) string { return pagePaths.CategoryPage(slug, 1) },
		"tagURL":        func(tag string) string { return pagePaths.TagPage(tag, 1) },
		"ago":           Ago,
		"isoTime":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"orAnonymous":   orAnonymous,
		"votes":         func(n int, action, token string) VoteView { return VoteView{Count: n, Action: action, Token: token} },
		"postIn":        func(p PostView, verb string) postIn { return postIn{P: p, Verb: verb} },
		"when":          func(now, t time.Time) when { return when{Now: now, T: t} },
		"listOf":        func(items []ListItem, now time.Time) listOf { return listOf{Items: items, Now: now} },
	}
}

// postIn is a post with the verb of its time ("asked", "answered", ...).
type postIn struct {
	P    PostView
	Verb string
}

// when is a time and the time "… ago" is counted from.
type when struct{ Now, T time.Time }

// listOf is a list of questions and the time "… ago" is counted from.
type listOf struct {
	Items []ListItem
	Now   time.Time
}

// OrAnonymous is the name shown for a person of display name name: name,
// or "Anonymous" for a person who gave none (pages, feeds).
func OrAnonymous(name string) string { return orAnonymous(name) }

// orAnonymous is name, or "Anonymous" for a person who gave none.
func orAnonymous(name string) string {
	if name == "" {
		return "Anonymous"
	}
	return name
}

// Ago says how long before now t was, in the largest whole unit ("just
// now", "1 minute ago", "3 days ago", ...); a time after now is "just
// now".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	units := []struct {
		d    time.Duration
		name string
	}{
		{365 * 24 * time.Hour, "year"}, {30 * 24 * time.Hour, "month"}, {7 * 24 * time.Hour, "week"},
		{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"},
	}
	for _, u := range units {
		if n := int(d / u.d); n >= 1 {
			if n == 1 {
				return "1 " + u.name + " ago"
			}
			return fmt.Sprintf("%d %ss ago", n, u.name)
		}
	}
	return "just now"
}

// ListItem is one question of a list page.
type ListItem struct {
	ID           int64
	Title        string
	Author       string // display name, never an address
	AuthorPoints int
	// CategorySlug and Category are "" when it has none.
	CategorySlug, Category string
	Tags                   []string
	Votes, Answers         int
	HasBest, Closed        bool
	Created                time.Time
}

// CategoryLink is a category a page links.
type CategoryLink struct {
	Slug, Name string
}

// ListPage is the data of page/list.html.tmpl: the home page, the
// unanswered questions, a category's or a tag's questions.
type ListPage struct {
	Head
	// Heading is the page's <h1>.
	Heading string
	// Intro is a plain-text sentence under the heading ("" none).
	Intro     string
	Questions []ListItem
	// Empty is the sentence shown when Questions is empty.
	Empty string
	// PrevURL and NextURL link the neighbouring pages ("" none).
	PrevURL, NextURL string
	// Page is the page number, from 1.
	Page int
	// Ranked says the questions are best first (search results), not
	// newest first: the paging links say so.
	Ranked bool
	// Unanswered, on the home page, is the newest questions without an
	// answer (with a link to all of them).
	Unanswered []ListItem
	// Categories are the forum's categories, linked.
	Categories []CategoryLink
	// Now is the time "… ago" is counted from.
	Now time.Time
}

// HelpCommand is one command a reply to a notification can be: what to
// write and what it does.
type HelpCommand struct{ Write, What string }

// Commands are the commands of a reply to a notification, as the help
// mail (mail/help.txt.tmpl) lists them.
func Commands() []HelpCommand {
	return []HelpCommand{
		{"(any text)", "answers a question, or comments on an answer or comment"},
		{"+1 / -1", "votes on the question or answer"},
		{"accept", "selects the answer as best (the asker or a moderator); unaccept undoes it"},
		{"edit", "first line \"edit\", then the new text: replaces your own post"},
		{"unsubscribe", "no more emails about this question (\"unsubscribe all\": none at all)"},
		{"notify questions|answers|comments on / off", "email me when my questions are answered or commented on / my answers are selected or commented on / a comment follows mine"},
		{"confirmations on / off", "one-line confirmations of your commands"},
		{"help", "this guide"},
	}
}

// AboutPage is the data of page/about.html.tmpl: how to take part by
// email. The addresses are the forum's own, never a member's.
type AboutPage struct {
	ForumName string
	Forum     ForumAddresses
}

// CategoryNote explains the placeholder in the category addresses.
func (AboutPage) CategoryNote() string {
	return CategoryPlaceholder + " stands for a category's short name, the last part of its page's address."
}

// Commands are the reply commands the page lists.
func (AboutPage) Commands() []HelpCommand { return Commands() }
