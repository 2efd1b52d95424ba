package web

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/web/links"
)

// cacheRevalidate is a question page's Cache-Control: it may be kept,
// but is asked for again (If-None-Match, If-Modified-Since) each time.
// It is private: the page's form carries a token for one browser. A
// feed, the same for everyone, is cacheFeed.
const (
	cacheRevalidate = "private, no-cache"
	cacheFeed       = "no-cache"
)

// question serves the read-only page of a question (links.Question): its
// shown posts, answers best first, with their files. A question that
// does not exist, or is held, queued, hidden or deleted, is 404, as is an
// id that is not a number. The page carries an ETag (pageETag) and
// Last-Modified; a revalidation that matches is answered 304.
func (h *Handler) question(w http.ResponseWriter, r *http.Request) {
	id, t, info, ok := h.shownQuestion(w, r)
	if !ok {
		return
	}
	page := questionPage(t, info, h.now())
	m, signedIn := h.member(r)
	if !page.Closed {
		page.Form = h.answerForm(w, r, id)
		page.Form.SignedIn, page.Form.Member = signedIn, m.DisplayName
	}
	if signedIn {
		h.withMember(w, r, &page, m)
	}
	html, err := h.tmpl.Page("question", page)
	if err != nil {
		h.log.Error("render page", "page", "question", "err", err)
		h.notice(w, http.StatusInternalServerError, templates.NoticeInternalError)
		return
	}
	if signedIn {
		// The member's own page (their forms and links): never kept.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
		return
	}
	etag := pageETag(html, page.Form)
	hd := w.Header()
	hd.Set("Cache-Control", cacheRevalidate)
	hd.Set("ETag", etag)
	hd.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	if notModified(r, etag, info.Modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(html))
}

// pageETag is the ETag of a question page: a hash of its HTML without
// the answer form's token (which differs per browser), and of the hour
// the token rotates (formToken), so that a page is revalidated whatever
// the browser's cookie, and a cached page's token is never older than an
// hour more than a fresh one's.
func pageETag(html string, form *templates.PostForm) string {
	h := sha256.New()
	if form != nil && form.Token != "" {
		html = strings.ReplaceAll(html, form.Token, "")
		h.Write([]byte(form.Token[:10])) // the token's expiry (its first 60 bits: an hour is a multiple of 16 s)
	}
	h.Write([]byte(html))
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// shownQuestion reads the shown question the request's {id} names, with
// its page info; ok false when it answered already: 404 for an id that is
// not a number or a question not shown, 503 when the database fails.
func (h *Handler) shownQuestion(w http.ResponseWriter, r *http.Request) (id int64, t *threads.Thread, info threads.QuestionInfo, ok bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w)
		return 0, nil, info, false
	}
	t, err = h.store.GetThread(r.Context(), id)
	if err == nil {
		info, err = h.store.WebQuestionInfo(r.Context(), id)
	}
	if errors.Is(err, threads.ErrNotFound) {
		h.notFound(w)
		return 0, nil, info, false
	}
	if err != nil {
		h.log.Error("question page", "question", id, "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return 0, nil, info, false
	}
	return id, t, info, true
}

// notModified says whether r's conditional fields match the page of etag
// last changed at mod (RFC 9110 13.2.2: If-None-Match decides when
// present, If-Modified-Since only without it).
func notModified(r *http.Request, etag string, mod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == etag || tag == "*" {
				return true
			}
		}
		return false
	}
	ims, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !mod.Truncate(time.Second).After(ims)
}

// notFound answers a page that does not exist (or is not shown).
func (h *Handler) notFound(w http.ResponseWriter) {
	h.notice(w, http.StatusNotFound, templates.NoticeNotFound)
}

// questionPage is the page data of t, with info, at now: answers best
// first, then by net votes, then oldest first.
func questionPage(t *threads.Thread, info threads.QuestionInfo, now time.Time) templates.QuestionPage {
	p := templates.QuestionPage{
		Title:          t.Title,
		Description:    describe(t.Body),
		Category:       t.Category,
		CategorySlug:   info.CategorySlug,
		Tags:           t.Tags,
		Votes:          t.Votes,
		Closed:         t.State == "closed",
		DuplicateTitle: info.DuplicateTitle,
		Question:       postView(t.ID, t.Author, t.Body, t.Elided, t.CreatedAt, t.PostMeta, now),
		Answers:        make([]templates.AnswerView, 0, len(t.Answers)),
		Comments:       commentViews(t.Comments, now),
		Now:            now,
	}
	if t.DuplicateOf != nil && info.DuplicateTitle != "" {
		p.DuplicateOf = *t.DuplicateOf
	}
	for _, a := range t.Answers {
		p.Answers = append(p.Answers, templates.AnswerView{
			PostView: postView(a.ID, a.Author, a.Body, a.Elided, a.CreatedAt, a.PostMeta, now),
			Votes:    a.Votes,
			Best:     a.Best,
			Comments: commentViews(a.Comments, now),
		})
	}
	slices.SortStableFunc(p.Answers, func(x, y templates.AnswerView) int {
		switch {
		case x.Best != y.Best:
			if x.Best {
				return -1
			}
			return 1
		case x.Votes != y.Votes:
			return y.Votes - x.Votes
		}
		return x.Created.Compare(y.Created)
	})
	return p
}

// describe is a page's meta description from a post's text: its first
// words, white space folded, at most about 160 characters.
func describe(body string) string {
	s := strings.Join(strings.Fields(body), " ")
	const max = 160
	if len(s) <= max {
		return s
	}
	cut := strings.LastIndexByte(s[:max], ' ')
	if cut < max/2 {
		cut = max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
	}
	return s[:cut] + "…"
}

// utf8Start says whether b starts a UTF-8 encoded character.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// commentViews are the views of cs, oldest first.
func commentViews(cs []threads.Comment, now time.Time) []templates.PostView {
	out := make([]templates.PostView, 0, len(cs))
	for _, c := range cs {
		out = append(out, postView(c.ID, c.Author, c.Body, c.Elided, c.CreatedAt, c.PostMeta, now))
	}
	slices.SortStableFunc(out, func(x, y templates.PostView) int { return x.Created.Compare(y.Created) })
	return out
}

// postView is the page view of post id: its text, the quote or signature
// trimmed from it, author, times (edited when meta says so) and files.
func postView(id int64, author, body, elided string, created time.Time, meta threads.PostMeta, now time.Time) templates.PostView {
	v := templates.PostView{Anchor: links.PostAnchor(id), Author: author, AuthorPoints: meta.AuthorPoints,
		Created: created, Body: body, Quoted: elided, Now: now, ID: id, AuthorID: meta.AuthorID}
	if meta.EditedAt != nil {
		v.Edited = *meta.EditedAt
	}
	for _, a := range meta.Attachments {
		v.Files = append(v.Files, templates.FileLink{Name: a.Filename, Size: templates.HumanSize(a.Size), URL: pagePaths.Download(a.ID)})
	}
	return v
}
