package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

// A signed-in member's actions on posts: votes, the best answer and
// edits, each through the same threads.Tx step as its email command, so
// with the same rules (nobody votes on their own post, only the asker
// selects, only the author edits) and points. A refused action gets the
// sentence the command's refusal mail carries.

// withMember decorates page p (of the question asked by asker) for
// member m: vote forms on others' posts, best-answer forms on m's own
// question, edit links on m's own posts, one action token.
func (h *Handler) withMember(w http.ResponseWriter, r *http.Request, p *templates.QuestionPage, m threads.Member) {
	p.ActToken = h.formToken(purposeAct, h.formCookieValue(w, r), h.now())
	own := func(v *templates.PostView) bool {
		if v.AuthorID == m.ID {
			v.EditURL = pagePaths.EditPage(v.ID)
			return true
		}
		return false
	}
	if !own(&p.Question) {
		p.VoteAction = pagePaths.VoteAction(p.Question.ID)
	}
	asker := p.Question.AuthorID == m.ID
	for i := range p.Answers {
		a := &p.Answers[i]
		if !own(&a.PostView) {
			a.VoteAction = pagePaths.VoteAction(a.ID)
		}
		if asker && (!p.Closed || a.Best) {
			a.BestAction = pagePaths.BestAction(a.ID)
		}
		for j := range a.Comments {
			own(&a.Comments[j])
		}
	}
	for j := range p.Comments {
		own(&p.Comments[j])
	}
}

// memberAction runs act on the shown post the request's {id} names, as
// the signed-in member, in one transaction; then it goes back to the
// post on its question's page. purpose is the form's.
func (h *Handler) memberAction(w http.ResponseWriter, r *http.Request, purpose string,
	act func(tx *threads.Tx, author threads.Person, target *threads.ParentRef) error) {
	m, ok := h.signedInPost(w, r, purpose)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w)
		return
	}
	var target *threads.ParentRef
	err = h.store.MemberTx(r.Context(), m, func(tx *threads.Tx, author threads.Person) error {
		if target, err = tx.LoadParentRef(r.Context(), id); err != nil {
			return err
		}
		if target == nil || !shownState(target.State) || !shownState(target.QuestionState) {
			return threads.ErrNotFound
		}
		return act(tx, author, target)
	})
	var refused *threads.Refusal
	switch {
	case errors.Is(err, threads.ErrNotFound):
		h.notFound(w)
	case errors.As(err, &refused):
		h.log.Info("signed-in action refused", "code", refused.Code)
		h.render(w, http.StatusConflict, templates.RefusedPage(pipeline.RefusalText(refused.Code)))
	case err != nil:
		h.log.Error("signed-in action", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainAction)
	default:
		http.Redirect(w, r, pagePaths.Post(target.QuestionID, target.ID), http.StatusSeeOther)
	}
}

// shownState says whether a post in state is on the pages.
func shownState(state string) bool { return state == "visible" || state == "closed" }

// vote takes a vote form (links.Vote): vote=up or vote=down.
func (h *Handler) vote(w http.ResponseWriter, r *http.Request) {
	h.memberAction(w, r, purposeAct, func(tx *threads.Tx, author threads.Person, target *threads.ParentRef) error {
		_, err := tx.Vote(r.Context(), author, target, r.PostFormValue("vote") == "up")
		return err
	})
}

// best takes a best-answer form (links.Best): best=1 selects, best=0
// unselects.
func (h *Handler) best(w http.ResponseWriter, r *http.Request) {
	h.memberAction(w, r, purposeAct, func(tx *threads.Tx, author threads.Person, target *threads.ParentRef) error {
		return tx.SelectAnswer(r.Context(), author, target, r.PostFormValue("best") != "0")
	})
}

// editForm shows the edit form of the signed-in member's own shown post
// (links.EditForm).
func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) {
	m, ok := h.member(r)
	if !ok {
		http.Redirect(w, r, pagePaths.SignInPage(), http.StatusSeeOther)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w)
		return
	}
	p, err := h.store.WebPost(r.Context(), id)
	if errors.Is(err, threads.ErrNotFound) || (err == nil && p.AuthorID != m.ID) {
		h.notFound(w)
		return
	}
	if err != nil {
		h.log.Error("edit form", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	h.writePage(w, http.StatusOK, "edit", h.editPage(w, r, p, p.Body, nil))
}

func (h *Handler) editPage(w http.ResponseWriter, r *http.Request, p threads.WebPost, body string, errs []string) templates.EditPage {
	return templates.EditPage{Action: pagePaths.EditPage(p.ID), Body: body, Errors: errs, MaxBody: templates.MaxFormBody,
		Back: pagePaths.Post(p.QuestionID, p.ID), Title: p.Title,
		Token: h.formToken(purposeAct, h.formCookieValue(w, r), h.now())}
}

// edit takes the edit form (links.Edit): the new text replaces the
// post's, the old one kept in its history, as the edit command does. An
// empty or too long text shows the form again with the problem.
func (h *Handler) edit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.notice(w, http.StatusBadRequest, templates.NoticeBadRequest)
		return
	}
	body := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n"))
	problem := ""
	switch {
	case body == "":
		problem = templates.EditEmpty
	case templates.TooLong(body, templates.MaxFormBody):
		problem = templates.FormError(templates.FormTooLong, "The text", templates.MaxFormBody)
	}
	if problem == "" {
		h.memberAction(w, r, purposeAct, func(tx *threads.Tx, author threads.Person, target *threads.ParentRef) error {
			return tx.Edit(r.Context(), author, target, body)
		})
		return
	}
	m, ok := h.signedInPost(w, r, purposeAct)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	p, err := h.store.WebPost(r.Context(), id)
	if err != nil || p.AuthorID != m.ID {
		h.notFound(w)
		return
	}
	h.writePage(w, http.StatusBadRequest, "edit", h.editPage(w, r, p, body, []string{problem}))
}
