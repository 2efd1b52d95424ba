// Package web is Postern's HTTP side: the one-click unsubscribe endpoint
// (RFC 8058) and its confirm page, the confirmation link of a held post or
// follow (a GET shows a button, only the POST confirms), attachment
// downloads, the read-only public pages (the question page /q/ID with
// ETag revalidation, the home page, unanswered, category and tag lists,
// the about page), the answer and ask forms (post.go, ask.go: a form
// post enters by the intake port as a message from the address given,
// held until its owner confirms, or published at once for a signed-in
// member (their session is the evidence) or, when the operator allows
// them, as a guest's without an address; csrf.go guards every form),
// sign-in by a mailed link and the signed-in side (signin.go: sessions,
// settings, sign out everywhere; member.go: votes, best answer, edits, by
// the email commands' rules), the public
// search (/search, PostgreSQL full text, ranked; a GET form on every
// page) and the Atom feeds of the forum and of each category
// (/feed.atom, /c/SLUG/feed.atom, with ETag revalidation), the pages'
// stylesheet (under its content hash) and a health check. It serves
// exactly the routes of package links, which builds every URL a mail
// carries. Web decides what to answer and with which status; every
// sentence is the templates package's (templates.Notice, StopForm,
// ConfirmForm, Stopped, the Search texts, FeedTitle). Every answer but
// the health check (plain text, for monitors), downloads and feeds is an
// HTML page, 404s, 405s and errors included; pages and feeds never show
// an address (a feed's authors are display names only), pages end with
// the privacy line; every response carries security headers (see ServeHTTP).
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/guesslimit"
	"github.com/postern/postern/internal/metrics"
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
	now   clock

	notReady  atomic.Bool // the last /readyz answered 503 (ready.go)
	cop       *http.CrossOriginProtection
	guesses   *guesslimit.Limiter // links whose token does not verify, per network
	proxies   []netip.Prefix      // reverse proxies whose X-Forwarded-For is taken
	metrics   *metrics.Set
	mailboxes func() map[string]bool // Options.Mailboxes
}

// Options are what a Handler shares with the rest of the server.
type Options struct {
	// Guesses counts, per client network, the links tried whose token
	// does not verify (shared with the SMTP server's reply addresses); a
	// blocked network's links get 429. Nil: no limit.
	Guesses *guesslimit.Limiter
	// Metrics counts the requests by route and status (nil: not counted).
	Metrics *metrics.Set
	// Mailboxes, when set, reports whether each IMAP mailbox (by its
	// host:port/folder label) has a working session, for /healthz.
	Mailboxes func() map[string]bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see clientKey); none: the peer is the client.
	TrustedProxies []netip.Prefix
}

// New returns the HTTP handler.
func New(store *threads.Store, tmpl *templates.Set, log *slog.Logger, opts Options) *Handler {
	h := &Handler{store: store, tmpl: tmpl, log: log, mux: http.NewServeMux(), now: time.Now, cop: http.NewCrossOriginProtection(),
		guesses: opts.Guesses, metrics: opts.Metrics, mailboxes: opts.Mailboxes, proxies: opts.TrustedProxies}
	if store != nil {
		h.cop = crossOrigin(store.Config().BaseURL)
	}
	routes := map[string]http.HandlerFunc{
		links.Health:            h.health,
		links.Ready:             h.ready,
		links.Stylesheet:        h.stylesheet,
		links.Question:          h.question,
		links.UnsubscribeForm:   h.unsubscribeForm,
		links.Unsubscribe:       h.unsubscribe,
		links.ConfirmForm:       h.confirmForm,
		links.Confirm:           h.confirm,
		links.Attachment:        h.attachment,
		links.StylesheetHashed:  h.hashedStylesheet,
		links.Home:              h.home,
		links.Unanswered:        h.unanswered,
		links.Category:          h.category,
		links.Tag:               h.tag,
		links.About:             h.about,
		links.Search:            h.search,
		links.Feed:              h.feed,
		links.CategoryFeed:      h.categoryFeed,
		links.Favicon:           noContent,
		links.Answer:            h.answer,
		links.AskForm:           h.askForm,
		links.Ask:               h.ask,
		links.SignInForm:        h.signInForm,
		links.SignIn:            h.signIn,
		links.SignInLinkForm:    h.signInLinkForm,
		links.SignInLink:        h.signInLink,
		links.Settings:          h.settings,
		links.SaveSettings:      h.saveSettings,
		links.SignOut:           h.signOut,
		links.SignOutEverywhere: h.signOutEverywhere,
		links.Vote:              h.vote,
		links.Best:              h.best,
		links.EditForm:          h.editForm,
		links.Edit:              h.edit,
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
// nosniff, a referrer only within the forum (so that a form's POST
// carries its Origin; no other site sees a page address, some carry
// tokens), no framing and no-store; downloads and the
// stylesheet replace the CSP and Cache-Control with their own. A request
// no route serves gets the forum's 404 (or 405) page, not the plain
// text of net/http.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", PageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", cacheNoStore)
	f, pattern := h.mux.Handler(r)
	if h.metrics != nil {
		sw := &statusWriter{ResponseWriter: w}
		defer func() { h.metrics.Web(pattern, sw.code()) }()
		w = sw
	}
	if pattern == "" {
		h.unrouted(w, r, f)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// statusWriter keeps the status a handler answered, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// unrouted answers a request no route pattern matches. f is what the
// mux would do: a 404, a 405 with its Allow field, or a redirect to the
// canonical path. The errors get the forum's page; anything else is
// served as the mux would.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request, f http.Handler) {
	probe := &statusOnly{header: http.Header{}}
	f.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusNotFound:
		h.notice(w, http.StatusNotFound, templates.NoticeNotFound)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		h.notice(w, http.StatusMethodNotAllowed, templates.NoticeMethodNotAllowed)
	default:
		f.ServeHTTP(w, r)
	}
}

// statusOnly is a ResponseWriter that keeps the status and header a
// handler writes and drops the body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }

func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *statusOnly) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}

// stylesheet serves the CSS every page links (pages have no inline
// style); pages link it under its hash (hashedStylesheet), /style.css
// stays for pages rendered before.
func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	writeStylesheet(w, cacheStatic)
}

// writeStylesheet answers with the stylesheet, cached as cache says.
func writeStylesheet(w http.ResponseWriter, cache string) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", cache)
	_, _ = w.Write(templates.Stylesheet())
}

// health is liveness: 200 "ok" while the process answers and reaches
// the database, then a line per IMAP mailbox saying whether it is
// connected (a mailbox down is readiness's concern, not liveness's).
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	if err := h.store.Pool().Ping(r.Context()); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	var b strings.Builder
	b.WriteString("ok\n")
	if h.mailboxes != nil {
		boxes := h.mailboxes()
		labels := slices.Sorted(maps.Keys(boxes))
		for _, l := range labels {
			state := "connected"
			if !boxes[l] {
				state = "not connected"
			}
			fmt.Fprintf(&b, "imap %s %s\n", l, state)
		}
	}
	_, _ = w.Write([]byte(b.String()))
}

// notice answers with the page of notice n and status.
func (h *Handler) notice(w http.ResponseWriter, status int, n templates.Notice) {
	h.render(w, status, templates.NoticePage(n))
}

// render answers with page p (page/message.html.tmpl) and status.
func (h *Handler) render(w http.ResponseWriter, status int, p templates.MessagePage) {
	h.writePage(w, status, "message", p)
}

// writePage answers with the page name rendered with data, and status. A
// page that does not render is logged and answered with the error page
// (500) rendered when the templates were parsed.
func (h *Handler) writePage(w http.ResponseWriter, status int, name string, data any) {
	html, err := h.tmpl.Page(name, data)
	if err != nil {
		h.log.Error("render page", "page", name, "err", err)
		status, html = http.StatusInternalServerError, h.tmpl.ErrorPage()
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
	h.linkForm(w, r, "unsubscribe", templates.NoticeBadUnsubscribe, func(tok string) (templates.MessagePage, error) {
		kind, err := h.store.UnsubscribeLinkKind(tok)
		return templates.StopForm(pagePaths.UnsubscribePage(tok),
			kind == threads.LinkStopsFollows, kind == threads.LinkStopsAll), err
	})
}

// unsubscribe handles the RFC 8058 one-click POST (body
// "List-Unsubscribe=One-Click": what the token names) and the confirm
// form (scope=all: everything). The page says exactly what stopped.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		h.log.Info("unsubscribe request not readable", "err", err)
		h.notice(w, http.StatusBadRequest, templates.NoticeBadRequest)
		return
	}
	all := r.PostForm.Get("scope") == "all"
	if h.guessBlocked(w, r) {
		return
	}
	st, err := h.store.UnsubscribeWithToken(r.Context(), r.PathValue("token"), all)
	switch {
	case errors.Is(err, threads.ErrBadToken):
		h.log.Info("unsubscribe link not valid", "err", err)
		h.badGuess(r)
		h.notice(w, http.StatusNotFound, templates.NoticeBadUnsubscribe)
	case err != nil:
		h.log.Error("unsubscribe failed", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainUnsubscribe)
	default:
		h.render(w, http.StatusOK, templates.Stopped(st))
	}
}

// confirmForm answers the confirmation link's GET with a button: a GET
// never confirms (mail scanners open links). A link that does not verify
// gets no button.
func (h *Handler) confirmForm(w http.ResponseWriter, r *http.Request) {
	h.linkForm(w, r, "confirmation", templates.NoticeBadConfirm, func(tok string) (templates.MessagePage, error) {
		follow, err := h.store.ConfirmLinkIsFollow(tok)
		return templates.ConfirmForm(pagePaths.ConfirmPage(tok), follow), err
	})
}

// linkForm answers the GET of a link carrying a token: form checks the
// token and builds the page with its button. A token that does not verify
// is logged as "WHAT link not valid" and gets the bad notice, status 404.
func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request, what string, bad templates.Notice, form func(tok string) (templates.MessagePage, error)) {
	if h.guessBlocked(w, r) {
		return
	}
	page, err := form(r.PathValue("token"))
	if err != nil {
		h.log.Info(what+" link not valid", "err", err)
		h.badGuess(r)
		h.notice(w, http.StatusNotFound, bad)
		return
	}
	h.render(w, http.StatusOK, page)
}

// confirm handles the confirmation form's POST. The page says what it
// did; it promises nothing about later messages, which are published
// only with evidence that the member sent them.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if h.guessBlocked(w, r) {
		return
	}
	follow, _ := h.store.ConfirmLinkIsFollow(tok) // a bad token fails below
	n, err := h.store.ConfirmWithToken(r.Context(), tok,
		threads.ConfirmedReasons{Published: templates.InboundPublishedConfirmed, Queued: templates.InboundQueuedConfirmed})
	switch {
	case errors.Is(err, threads.ErrBadToken):
		h.badGuess(r)
		h.notice(w, http.StatusNotFound, templates.NoticeBadConfirm)
	case err != nil:
		h.log.Error("confirm failed", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainConfirm)
	case follow:
		h.followConfirmed(w, r, tok)
	case n == 0:
		h.notice(w, http.StatusOK, templates.NoticeConfirmed)
	default:
		h.notice(w, http.StatusOK, templates.NoticeConfirmedPublished)
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
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainFollow)
	case active:
		h.notice(w, http.StatusOK, templates.NoticeFollowConfirmed)
	default:
		h.notice(w, http.StatusOK, templates.NoticeFollowEnded)
	}
}

// attachment serves a file of a visible post as a download: never rendered
// inline, never sniffed.
func (h *Handler) attachment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.notice(w, http.StatusNotFound, templates.NoticeNotFound)
		return
	}
	a, data, err := h.store.GetAttachment(r.Context(), id)
	if errors.Is(err, threads.ErrNotFound) {
		h.notice(w, http.StatusNotFound, templates.NoticeNotFound)
		return
	}
	if err != nil {
		h.log.Error("attachment", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	w.Header().Set("Content-Security-Policy", DownloadCSP)
	w.Header().Set("Cache-Control", cacheDownload)
	_, _ = w.Write(data)
}

// guessBlocked answers 429 when r's network tried too many links whose
// token did not verify (see New); true when it answered.
func (h *Handler) guessBlocked(w http.ResponseWriter, r *http.Request) bool {
	if !h.guesses.Blocked(h.clientKey(r)) {
		return false
	}
	h.log.Info("link refused", "reason", "too many bad tokens from this network")
	h.metrics.RateLimited("bad_token")
	w.Header().Set("Retry-After", "3600")
	h.notice(w, http.StatusTooManyRequests, templates.NoticeTooManyGuesses)
	return true
}

// badGuess counts a link of r whose token did not verify.
func (h *Handler) badGuess(r *http.Request) { h.guesses.Fail(h.clientKey(r)) }
