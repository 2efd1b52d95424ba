package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/web/links"
)

// question serves the read-only page of a question (links.Question): its
// visible posts in order, with their files. A question that does not
// exist, or is held, queued or deleted, is 404, as is an id that is not a
// number.
func (h *Handler) question(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w)
		return
	}
	t, err := h.store.GetThread(r.Context(), id)
	if errors.Is(err, threads.ErrNotFound) {
		h.notFound(w)
		return
	}
	if err != nil {
		h.log.Error("question page", "question", id, "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	h.writePage(w, http.StatusOK, "question", questionPage(t))
}

// notFound answers a page that does not exist (or is not shown).
func (h *Handler) notFound(w http.ResponseWriter) {
	h.notice(w, http.StatusNotFound, templates.NoticeNotFound)
}

// questionPage is the page data of t.
func questionPage(t *threads.Thread) templates.QuestionPage {
	p := templates.QuestionPage{
		Title:    t.Title,
		Category: t.Category,
		Closed:   t.State == "closed",
		Question: postView(t.ID, t.Author, t.Body, t.CreatedAt, t.PostMeta),
		Answers:  make([]templates.AnswerView, 0, len(t.Answers)),
		Comments: commentViews(t.Comments),
	}
	for _, a := range t.Answers {
		p.Answers = append(p.Answers, templates.AnswerView{
			PostView: postView(a.ID, a.Author, a.Body, a.CreatedAt, a.PostMeta),
			Best:     a.Best,
			Comments: commentViews(a.Comments),
		})
	}
	return p
}

func commentViews(cs []threads.Comment) []templates.PostView {
	out := make([]templates.PostView, 0, len(cs))
	for _, c := range cs {
		out = append(out, postView(c.ID, c.Author, c.Body, c.CreatedAt, c.PostMeta))
	}
	return out
}

// postView is the page view of post id: its text, author, times (edited
// when meta says so) and files.
func postView(id int64, author, body string, created time.Time, meta threads.PostMeta) templates.PostView {
	v := templates.PostView{Anchor: links.PostAnchor(id), Author: author, Created: created, Body: body}
	if meta.EditedAt != nil {
		v.Edited = *meta.EditedAt
	}
	for _, a := range meta.Attachments {
		v.Files = append(v.Files, templates.FileLink{Name: a.Filename, Size: templates.HumanSize(a.Size), URL: pagePaths.Download(a.ID)})
	}
	return v
}
