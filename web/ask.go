package web

import (
	"net/http"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// askForm serves the ask form (links.AskForm).
func (h *Handler) askForm(w http.ResponseWriter, r *http.Request) {
	f := templates.PostForm{Ask: true, Notify: true}
	if !h.fillAskForm(w, r, &f) {
		return
	}
	if m, ok := h.member(r); ok {
		f.SignedIn, f.Member = true, m.DisplayName
	}
	hd := w.Header()
	hd.Set("Cache-Control", cacheNoStore)
	h.writePage(w, http.StatusOK, "ask", templates.AskPage{Form: f})
}

// fillAskForm sets f's action, token and categories; false when the
// categories could not be read (answered already).
func (h *Handler) fillAskForm(w http.ResponseWriter, r *http.Request, f *templates.PostForm) bool {
	cats, err := h.store.WebCategories(r.Context())
	if err != nil {
		h.log.Error("ask form", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return false
	}
	f.Categories = f.Categories[:0]
	for _, c := range cats {
		f.Categories = append(f.Categories, templates.CategoryLink{Slug: c.Slug, Name: c.Name})
	}
	f.Action, f.Token = pagePaths.AskPage(), h.formToken(purposeAsk, h.formCookieValue(w, r), h.now())
	f.Guests = h.store.Config().WebGuests
	return true
}

// ask takes the ask form (links.Ask): a checked form becomes a message
// from the address given to ask@ (ask+SLUG@ for a category), its title
// the subject and its tags a "Tags:" line, accepted through the intake
// port; the page then says to check the mail. A form with problems is
// shown again with what the person typed and each problem.
func (h *Handler) ask(w http.ResponseWriter, r *http.Request) {
	s, ok := h.readForm(w, r, purposeAsk)
	if !ok {
		return
	}
	f := &s.form
	if !h.fillAskForm(w, r, f) {
		return
	}
	rcpt := h.store.Addresses().Ask()
	if f.Category != "" {
		if !hasCategory(f.Categories, f.Category) {
			s.fail(http.StatusBadRequest, templates.FormError(templates.FormUnknownCategory, "", 0))
		}
		rcpt = h.store.Addresses().AskIn(f.Category)
	}
	body := f.Body
	if tags := strings.TrimSpace(f.Tags); tags != "" {
		body = "Tags: " + tags + "\n\n" + body
	}
	if len(s.problems) == 0 && s.guest {
		title, _, tags, rest := threads.ParseTags(f.Title, body)
		g := threads.GuestPost{Name: f.Name, Title: title, Body: rest, Slug: f.Category, Tags: tags}
		if h.postAsGuest(w, r, &s, g) {
			return
		}
	}
	if len(s.problems) == 0 && !s.guest {
		msg := webMessage{Name: f.Name, Address: f.Address, Subject: f.Title, Body: body, Domain: h.store.Addresses().Domain()}
		if h.acceptWeb(w, r, &s, msg, rcpt, threads.RcptAsk) {
			h.posted(w, &s, true, pagePaths.HomePage(1))
			return
		}
	}
	f.Errors = s.problems
	h.writePage(w, s.status, "ask", templates.AskPage{Form: *f})
}

func hasCategory(cats []templates.CategoryLink, slug string) bool {
	for _, c := range cats {
		if c.Slug == slug {
			return true
		}
	}
	return false
}
