// Package web is Postern's HTTP side: the one-click unsubscribe endpoint
// (RFC 8058) and its confirm page, the confirmation link of a held post or
// follow (a GET shows a button, only the POST confirms), attachment
// downloads, the read-only question page (/q/ID; the full page with forms
// comes later), the pages' stylesheet and a health check. It serves
// exactly the routes of package links, which builds every URL a mail
// carries. Pages are rendered from the templates package, never show an
// address, and end with the privacy line; every response carries
// security headers (see ServeHTTP).
package web

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/web/links"
)

// Handler serves Postern's HTTP endpoints.
type Handler struct {
	store *threads.Store
	tmpl  *templates.Set
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the HTTP handler.
func New(store *threads.Store, tmpl *templates.Set, log *slog.Logger) *Handler {
	h := &Handler{store: store, tmpl: tmpl, log: log, mux: http.NewServeMux()}
	routes := map[string]http.HandlerFunc{
		links.Health:          h.health,
		links.Stylesheet:      h.stylesheet,
		links.Question:        h.question,
		links.UnsubscribeForm: h.unsubscribeForm,
		links.Unsubscribe:     h.unsubscribe,
		links.ConfirmForm:     h.confirmForm,
		links.Confirm:         h.confirm,
		links.Attachment:      h.attachment,
	}
	// Every route links knows is served, and nothing else: a pattern
	// without a handler is a programming error, caught at start.
	for _, p := range links.Routes() {
		f, ok := routes[p]
		if !ok {
			panic("web: no handler for route " + p)
		}
		h.mux.HandleFunc(p, f)
		delete(routes, p)
	}
	if len(routes) != 0 {
		panic("web: handlers for routes links does not list")
	}
	return h
}

// pagePaths builds the root-relative paths a page's own forms and links
// use.
var pagePaths links.Links

// PageCSP is the Content-Security-Policy of every response: nothing but
// the forum's own stylesheet and images, no script at all (inline or
// not), forms posting only back to the forum, never framed.
const PageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// DownloadCSP is the Content-Security-Policy of an attachment download: a
// sandbox, should a browser ever render one.
const DownloadCSP = "default-src 'none'; sandbox; frame-ancestors 'none'"

// Cache-Control values: pages are never stored (their URLs carry tokens,
// their answers change); a download is cacheable by the browser alone.
const (
	cacheNoStore  = "no-store"
	cacheDownload = "private, max-age=3600"
	cacheStatic   = "public, max-age=86400"
)

// ServeHTTP implements http.Handler. Every response carries PageCSP,
// nosniff, no referrer, no framing and no-store; downloads and the
// stylesheet replace the CSP and Cache-Control with their own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", PageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", cacheNoStore)
	h.mux.ServeHTTP(w, r)
}

// stylesheet serves the CSS every page links (pages have no inline style).
func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", cacheStatic)
	_, _ = w.Write(templates.Stylesheet())
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	if err := h.store.Pool().Ping(r.Context()); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (h *Handler) page(w http.ResponseWriter, status int, title, msg string, form string) {
	h.render(w, status, templates.MessagePage{Title: title, Message: msg, FormAction: form})
}

func (h *Handler) render(w http.ResponseWriter, status int, p templates.MessagePage) {
	title := p.Title
	html, err := h.tmpl.Page("message", p)
	if err != nil {
		h.log.Error("render page", "err", err)
		http.Error(w, title, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(html))
}

// unsubscribeForm answers the footer link's GET with a confirm button: a
// GET never unsubscribes (link scanners follow links). The first button
// stops what the link names: the question, or for a new-question mail the
// follows that sent it; a link naming everything (the welcome mail's) gets
// that one button.
func (h *Handler) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	kind, err := h.store.UnsubscribeLinkKind(tok)
	if err != nil {
		h.log.Info("unsubscribe link not valid", "err", err)
		h.page(w, http.StatusNotFound, templates.PageBadLinkTitle, templates.PageBadUnsubscribe, "")
		return
	}
	p := templates.MessagePage{Title: "Stop these emails?", FormAction: "/unsubscribe/" + tok,
		Message: "Choose whether to stop emails about this question only, or all emails from this forum."}
	switch kind {
	case threads.LinkStopsFollows:
		p.StopsFollows = true
		p.Message = "Choose whether to stop the emails about new questions that you follow (this one came from them), or all emails from this forum."
	case threads.LinkStopsAll:
		p.StopsAll = true
		p.Message = "Press the button to stop all emails from this forum: new questions, and answers and comments on your posts."
	}
	h.render(w, http.StatusOK, p)
}

// unsubscribe handles the RFC 8058 one-click POST (body
// "List-Unsubscribe=One-Click": what the token names) and the confirm
// form (scope=all: everything). The page says exactly what stopped.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		h.log.Info("unsubscribe request not readable", "err", err)
		h.page(w, http.StatusBadRequest, templates.PageBadRequestTitle, templates.PageBadRequest, "")
		return
	}
	all := r.PostForm.Get("scope") == "all"
	st, err := h.store.UnsubscribeWithToken(r.Context(), r.PathValue("token"), all)
	switch {
	case errors.Is(err, threads.ErrBadToken):
		h.log.Info("unsubscribe link not valid", "err", err)
		h.page(w, http.StatusNotFound, templates.PageBadLinkTitle, templates.PageBadUnsubscribe, "")
	case err != nil:
		h.log.Error("unsubscribe failed", "err", err)
		h.page(w, http.StatusServiceUnavailable, templates.PageTryAgainTitle, templates.PageTryAgainUnsubscribe, "")
	default:
		h.page(w, http.StatusOK, templates.PageUnsubscribedTitle, st.Text(), "")
	}
}

// confirmForm answers the confirmation link's GET with a button: a GET
// never confirms (mail scanners open links). A link that does not verify
// gets no button.
func (h *Handler) confirmForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	follow, err := h.store.ConfirmLinkIsFollow(tok)
	if err != nil {
		h.log.Info("confirmation link not valid", "err", err)
		h.page(w, http.StatusNotFound, "Link not valid", badConfirmLink, "")
		return
	}
	msg := "Press the button to confirm that you wrote to the forum. Your held message is then published."
	if follow {
		msg = "Press the button to confirm that you want to receive new questions by email."
	}
	h.render(w, http.StatusOK, templates.MessagePage{Title: "Confirm your address", Message: msg, ConfirmAction: "/confirm/" + tok})
}

// badConfirmLink answers a confirmation token that does not verify.
const badConfirmLink = "This confirmation link is invalid or has expired."

// confirm handles the confirmation form's POST. The page says what it
// did; it promises nothing about later messages, which are published
// only with evidence that the member sent them.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	follow, _ := h.store.ConfirmLinkIsFollow(tok) // a bad token fails below
	n, err := h.store.ConfirmWithToken(r.Context(), tok)
	switch {
	case errors.Is(err, threads.ErrBadToken):
		h.page(w, http.StatusNotFound, "Link not valid", badConfirmLink, "")
	case err != nil:
		h.log.Error("confirm failed", "err", err)
		h.page(w, http.StatusServiceUnavailable, "Please try again", "We could not record your confirmation just now. Please try again in a minute.", "")
	case follow:
		h.followConfirmed(w, r, tok)
	case n == 0:
		h.page(w, http.StatusOK, "Confirmed", "Your address is confirmed.", "")
	default:
		h.page(w, http.StatusOK, "Confirmed", "Your address is confirmed and your message is published.", "")
	}
}

// followConfirmed answers a follow's confirmation: started (a welcome
// email follows), or ended since it was asked for (an old link never
// restarts a stopped follow).
func (h *Handler) followConfirmed(w http.ResponseWriter, r *http.Request, tok string) {
	active, err := h.store.FollowLinkActive(r.Context(), tok)
	switch {
	case err != nil:
		h.log.Error("follow state", "err", err)
		h.page(w, http.StatusServiceUnavailable, "Please try again", "We could not read your follow just now. Please try again in a minute.", "")
	case active:
		h.page(w, http.StatusOK, "Confirmed", "Your follow is confirmed: new questions will arrive by email. A welcome email says what comes and how to stop it.", "")
	default:
		h.page(w, http.StatusOK, "Follow ended", "You stopped these emails after asking for them, so this old link does not start them again. To follow again, write to the forum's subscribe address again.", "")
	}
}

// attachment serves a file of a visible post as a download: never rendered
// inline, never sniffed.
func (h *Handler) attachment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	a, data, err := h.store.GetAttachment(r.Context(), id)
	if errors.Is(err, threads.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log.Error("attachment", "err", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	w.Header().Set("Content-Security-Policy", DownloadCSP)
	w.Header().Set("Cache-Control", cacheDownload)
	_, _ = w.Write(data)
}
