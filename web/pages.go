package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/web/links"
)

// listSize is how many questions a list page shows; homeUnanswered how
// many unanswered ones the home page shows beside the recent ones.
const (
	listSize       = 20
	homeUnanswered = 5
	// maxPage bounds the page number a list accepts (an OFFSET that
	// large would only make the database count rows).
	maxPage = 10000
)

// listKind is one of the list pages.
type listKind struct {
	filter  threads.QuestionFilter
	head    templates.Head
	heading string
	intro   string
	empty   string
	url     func(page int) string
	// fetch, when set, reads the questions instead of WebQuestions with
	// filter (the search); ranked says they are best first, not newest.
	fetch  func(ctx context.Context, offset, limit int) ([]threads.ListedQuestion, error)
	ranked bool
}

// home serves the home page: the newest questions, paged, with the
// newest unanswered ones and the categories on its first page.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	name := h.store.Config().ForumName
	h.list(w, r, listKind{
		head:    templates.Head{Title: name, Description: name + ": questions and answers, by email and on the web."},
		heading: "Recent questions",
		empty:   "No questions yet. Ask one by email: see how to take part.",
		url:     pagePaths.HomePage,
	}, true)
}

// unanswered serves the questions without a shown answer, newest first.
func (h *Handler) unanswered(w http.ResponseWriter, r *http.Request) {
	h.list(w, r, listKind{
		filter:  threads.QuestionFilter{Unanswered: true},
		head:    templates.Head{Title: "Unanswered questions - " + h.store.Config().ForumName},
		heading: "Unanswered questions",
		empty:   "Every question has an answer.",
		url:     pagePaths.UnansweredPage,
	}, false)
}

// category serves a category's questions; an unknown slug is 404.
func (h *Handler) category(w http.ResponseWriter, r *http.Request) {
	slug, cat, ok := h.pathCategory(w, r)
	if !ok {
		return
	}
	forum := h.store.Config().ForumName
	h.list(w, r, listKind{
		filter: threads.QuestionFilter{CategorySlug: slug},
		head: templates.Head{Title: cat + " - " + forum, Description: "Questions in " + cat + ".",
			CategoryFeed: pagePaths.CategoryFeedURL(slug), FeedTitle: templates.FeedTitle(forum, cat)},
		heading: "Questions in " + cat,
		empty:   "No questions in this category yet.",
		url:     func(n int) string { return pagePaths.CategoryPage(slug, n) },
	}, false)
}

// tag serves the questions with a tag (none is an empty list, not 404:
// a tag exists as long as a question carries it).
func (h *Handler) tag(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("tag")
	h.list(w, r, listKind{
		filter:  threads.QuestionFilter{Tag: tag},
		head:    templates.Head{Title: "Tagged " + tag + " - " + h.store.Config().ForumName, Description: "Questions tagged " + tag + "."},
		heading: "Questions tagged " + tag,
		empty:   "No question has this tag.",
		url:     func(n int) string { return pagePaths.TagPage(tag, n) },
	}, false)
}

// list answers with page ?page=N of the questions of k; with extras
// (the home page's first page) also the unanswered ones and the
// categories. A page number that is not one is 404.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, k listKind, extras bool) {
	page := 1
	if v := r.URL.Query().Get(links.PageParam); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			h.notFound(w)
			return
		}
		page = n
	}
	ctx := r.Context()
	fetch := k.fetch
	if fetch == nil {
		fetch = func(ctx context.Context, offset, limit int) ([]threads.ListedQuestion, error) {
			return h.store.WebQuestions(ctx, k.filter, offset, limit)
		}
	}
	qs, err := fetch(ctx, (page-1)*listSize, listSize+1)
	p := templates.ListPage{Head: k.head, Heading: k.heading, Intro: k.intro, Empty: k.empty, Page: page, Ranked: k.ranked, Now: h.now()}
	if err == nil && extras && page == 1 {
		var un []threads.ListedQuestion
		var cats []threads.CategoryRef
		if un, err = h.store.WebQuestions(ctx, threads.QuestionFilter{Unanswered: true}, 0, homeUnanswered); err == nil {
			p.Unanswered = listItems(un)
			cats, err = h.store.WebCategories(ctx)
		}
		for _, c := range cats {
			p.Categories = append(p.Categories, templates.CategoryLink{Slug: c.Slug, Name: c.Name})
		}
	}
	if err != nil {
		h.log.Error("list page", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	if len(qs) > listSize {
		qs, p.NextURL = qs[:listSize], k.url(page+1)
	}
	if page > 1 {
		p.PrevURL = k.url(page - 1)
		if len(qs) == 0 {
			h.notFound(w)
			return
		}
	}
	p.Questions = listItems(qs)
	h.writePage(w, http.StatusOK, "list", p)
}

// listItems are the page items of qs.
func listItems(qs []threads.ListedQuestion) []templates.ListItem {
	out := make([]templates.ListItem, 0, len(qs))
	for _, q := range qs {
		out = append(out, templates.ListItem{ID: q.ID, Title: q.Title, Author: q.Author, AuthorPoints: q.AuthorPoints,
			CategorySlug: q.CategorySlug, Category: q.Category, Tags: q.Tags, Votes: q.Votes, Answers: q.Answers,
			HasBest: q.HasBest, Closed: q.State == "closed", Created: q.CreatedAt})
	}
	return out
}

// about serves the page that explains how to take part by email: the
// forum's own addresses (never a member's), the commands and the privacy
// line.
func (h *Handler) about(w http.ResponseWriter, r *http.Request) {
	a := h.store.Addresses()
	const c = templates.CategoryPlaceholder
	h.writePage(w, http.StatusOK, "about", templates.AboutPage{
		ForumName: h.store.Config().ForumName,
		Forum: templates.ForumAddresses{
			Ask: a.Ask(), AskCategory: a.AskIn(c),
			Subscribe: a.Subscribe(), SubscribeCategory: a.SubscribeIn(c),
			Unsubscribe: a.UnsubscribeAll(), UnsubscribeCategory: a.UnsubscribeCategory(c),
			Help: a.Help(),
		},
	})
}

// cacheImmutable is the Cache-Control of the stylesheet under its
// current hash: its URL changes with its content.
const cacheImmutable = "public, max-age=31536000, immutable"

// hashedStylesheet serves the stylesheet under its content hash; under
// another (an older page's) it serves the current one, cached briefly.
func (h *Handler) hashedStylesheet(w http.ResponseWriter, r *http.Request) {
	cache := cacheStatic
	if r.PathValue("hash") == templates.StylesheetHash() {
		cache = cacheImmutable
	}
	writeStylesheet(w, cache)
}

// clock is the time source of "… ago" (time.Now; tests may set another).
type clock func() time.Time

// noContent answers 204 No Content (the favicon request).
func noContent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", cacheStatic)
	w.WriteHeader(http.StatusNoContent)
}

// pathCategory reads the category the request's {slug} names; ok false
// when it answered already: 404 for an unknown slug, 503 when the
// database fails.
func (h *Handler) pathCategory(w http.ResponseWriter, r *http.Request) (slug, name string, ok bool) {
	slug = r.PathValue("slug")
	name, err := h.store.WebCategory(r.Context(), slug)
	if errors.Is(err, threads.ErrNotFound) {
		h.notFound(w)
		return "", "", false
	}
	if err != nil {
		h.log.Error("category", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return "", "", false
	}
	return slug, name, true
}
