package web

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/web/links"
)

// search serves the public search (links.Search): ?q= the words, in
// websearch syntax ("a phrase", -not, or), ?page=N the page. The shown
// questions found by their title or body or by an answer's or comment's
// body are listed best first (threads.Store.WebSearch), paged as the
// other lists. Without a query it says how to search; a query over
// templates.SearchMaxChars characters is refused (400) with a message;
// neither reaches the database.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	q := searchQuery(r.URL.Query().Get(links.SearchParam))
	forum := h.store.Config().ForumName
	if q == "" || utf8.RuneCountInString(q) > templates.SearchMaxChars {
		status, empty := http.StatusOK, templates.SearchEmptyQuery
		if q != "" {
			status, empty = http.StatusBadRequest, templates.SearchTooLong
		}
		h.writePage(w, status, "list", templates.ListPage{Head: templates.SearchHead(forum, ""),
			Heading: templates.SearchHeading, Empty: empty, Page: 1, Now: h.now()})
		return
	}
	h.list(w, r, listKind{
		head:    templates.SearchHead(forum, q),
		heading: templates.SearchResultsHeading(q),
		empty:   templates.SearchNoResults,
		url:     func(n int) string { return pagePaths.SearchPage(q, n) },
		fetch: func(ctx context.Context, offset, limit int) ([]threads.ListedQuestion, error) {
			return h.store.WebSearch(ctx, q, offset, limit)
		},
		ranked: true,
	}, false)
}

// searchQuery is the query of the search field's value v: valid UTF-8
// without NUL (which PostgreSQL text cannot hold), white space folded.
func searchQuery(v string) string {
	v = strings.ToValidUTF8(v, "")
	v = strings.ReplaceAll(v, "\x00", "")
	return strings.Join(strings.Fields(v), " ")
}
