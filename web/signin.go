package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// Sign-in by email (threads/websession.go holds the rules): the sign-in
// form mails a link, the link's page has a button, its POST opens a
// session kept in a cookie. Every POST of the signed-in side is checked
// as the post forms are (csrf.go); the session cookie is HttpOnly and
// SameSite Lax, so that a link followed from a mail finds the member
// signed in, while no other site can post with it.

// sessionCookie holds the browser's session.
const sessionCookie = "postern_session"

// Purposes of the signed-in side's form tokens.
const (
	purposeSignIn   = "signin"
	purposeSettings = "settings"
	purposeAct      = "act" // the question page's votes and best-answer forms, the edit form
)

// member returns the member signed in by r's session cookie; ok false
// when none is (a database error counts as not signed in, and is
// logged).
func (h *Handler) member(r *http.Request) (m threads.Member, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return m, false
	}
	m, err = h.store.SessionMember(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, threads.ErrNotFound) {
			h.log.Error("load session", "err", err)
		}
		return m, false
	}
	return m, true
}

// setSession sets (value "": clears) the session cookie on w.
func (h *Handler) setSession(w http.ResponseWriter, value string) {
	c := &http.Cookie{Name: sessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(h.store.Config().BaseURL, "https:"), MaxAge: int(threads.SessionTTL.Seconds())}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// signInForm shows the sign-in form (links.SignInForm).
func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	h.writePage(w, http.StatusOK, "signin", h.signInPage(w, r, "", nil))
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, addr string, errs []string) templates.SignInPage {
	return templates.SignInPage{Action: pagePaths.SignInPage(), Address: addr, Errors: errs, MaxAddress: templates.MaxFormAddress,
		Token: h.formToken(purposeSignIn, h.formCookieValue(w, r), h.now())}
}

// signIn takes the sign-in form (links.SignIn): a plain address gets the
// "check your email" page whether or not it is a member's (the store
// mails the link only to a member who may be written to).
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		h.notice(w, http.StatusBadRequest, templates.NoticeBadRequest)
		return
	}
	addr := strings.TrimSpace(r.PostFormValue("address"))
	if r.PostFormValue("website") != "" || !h.checkForm(r, purposeSignIn) {
		h.log.Info("sign-in form refused", "reason", "anti-forgery check or honeypot")
		h.writePage(w, http.StatusForbidden, "signin", h.signInPage(w, r, addr, []string{templates.FormError(templates.FormExpired, "", 0)}))
		return
	}
	s := submission{form: templates.PostForm{Address: addr, Notify: true}}
	s.checkAddress(h.store.Addresses().Domain())
	if addr == "" || templates.TooLong(addr, templates.MaxFormAddress) {
		s.problems = []string{templates.SignInNeedAddress}
	}
	if len(s.problems) > 0 {
		h.writePage(w, http.StatusBadRequest, "signin", h.signInPage(w, r, addr, s.problems[:1]))
		return
	}
	err := h.store.RequestSignIn(r.Context(), addr, h.clientKey(r))
	switch {
	case errors.Is(err, threads.ErrSignInLimited):
		h.log.Info("sign-in refused", "reason", "rate limit")
		h.metrics.RateLimited("web_signin")
		h.writePage(w, http.StatusTooManyRequests, "signin", h.signInPage(w, r, addr, []string{templates.SignInLimited}))
	case err != nil:
		h.log.Error("sign-in request", "err", err)
		h.writePage(w, http.StatusServiceUnavailable, "signin", h.signInPage(w, r, addr, []string{templates.SignInTryAgain}))
	default:
		h.render(w, http.StatusOK, templates.SignInSentPage(h.store.Addresses().Subscribe()))
	}
}

// signInLinkForm answers the mailed link's GET with a button (a GET never
// signs in: mail scanners open links).
func (h *Handler) signInLinkForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if h.guessBlocked(w, r) {
		return
	}
	if !h.store.SignInLinkValid(tok) {
		h.log.Info("sign-in link not valid")
		h.badGuess(r)
		h.notice(w, http.StatusNotFound, templates.NoticeBadSignIn)
		return
	}
	h.render(w, http.StatusOK, templates.SignInLinkPage(pagePaths.SignInLinkPage(tok)))
}

// signInLink opens the session of the link's button (links.SignInLink)
// and goes to the member's settings. The token in the path is the
// credential; the POST must come from the forum's own page.
func (h *Handler) signInLink(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(r) {
		h.notice(w, http.StatusForbidden, templates.NoticeFormExpired)
		return
	}
	if h.guessBlocked(w, r) {
		return
	}
	session, m, err := h.store.SignIn(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, threads.ErrSignInLink):
		h.log.Info("sign-in link refused", "err", err)
		h.badGuess(r)
		h.notice(w, http.StatusNotFound, templates.NoticeBadSignIn)
	case err != nil:
		h.log.Error("sign in", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainAction)
	default:
		h.log.Info("signed in", "person", m.ID)
		h.setSession(w, session)
		http.Redirect(w, r, pagePaths.SettingsPage(), http.StatusSeeOther)
	}
}

// settings shows a signed-in member's settings (links.Settings); without
// a session, the sign-in form.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	m, ok := h.member(r)
	if !ok {
		http.Redirect(w, r, pagePaths.SignInPage(), http.StatusSeeOther)
		return
	}
	h.settingsPage(w, r, m, false)
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, m threads.Member, saved bool) {
	st, err := h.store.MemberSettings(r.Context(), m)
	if err != nil {
		h.log.Error("settings", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	h.writePage(w, http.StatusOK, "settings", templates.SettingsPage{
		Name: m.DisplayName, Action: pagePaths.SettingsPage(), Saved: saved,
		Token:         h.formToken(purposeSettings, h.formCookieValue(w, r), h.now()),
		SignOutAction: pagePaths.SignOutAction(), EverywhereAction: pagePaths.SignOutEverywhereAction(),
		MyQuestions: st.MyQuestions, MyAnswers: st.MyAnswers, AfterMyComments: st.AfterMyComments, Confirmations: st.CommandConfirmations,
	})
}

// signedInPost checks a POST of the signed-in side's form for purpose:
// its body read, its token and origin checked, a member signed in. ok
// false when it answered already.
func (h *Handler) signedInPost(w http.ResponseWriter, r *http.Request, purpose string) (m threads.Member, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.notice(w, http.StatusBadRequest, templates.NoticeBadRequest)
		return m, false
	}
	if !h.checkForm(r, purpose) {
		h.log.Info("signed-in form refused", "form", purpose, "reason", "anti-forgery check")
		h.notice(w, http.StatusForbidden, templates.NoticeFormExpired)
		return m, false
	}
	if m, ok = h.member(r); !ok {
		h.notice(w, http.StatusForbidden, templates.NoticeSignInFirst)
	}
	return m, ok
}

// saveSettings takes the settings form (links.SaveSettings).
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request) {
	m, ok := h.signedInPost(w, r, purposeSettings)
	if !ok {
		return
	}
	on := func(k string) bool { return r.PostFormValue(k) != "" }
	st := threads.Settings{MyQuestions: on("questions"), MyAnswers: on("answers"), AfterMyComments: on("comments"), CommandConfirmations: on("confirmations")}
	if err := h.store.SaveSettings(r.Context(), m, st); err != nil {
		h.log.Error("save settings", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainAction)
		return
	}
	h.settingsPage(w, r, m, true)
}

// signOut ends the browser's session (links.SignOut).
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.signedInPost(w, r, purposeSettings); !ok {
		return
	}
	c, _ := r.Cookie(sessionCookie) // there: signedInPost found the member
	if err := h.store.SignOut(r.Context(), c.Value); err != nil {
		h.log.Error("sign out", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainAction)
		return
	}
	h.setSession(w, "")
	h.notice(w, http.StatusOK, templates.NoticeSignedOut)
}

// signOutEverywhere ends every session of the member (links.SignOutEverywhere).
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	m, ok := h.signedInPost(w, r, purposeSettings)
	if !ok {
		return
	}
	if err := h.store.SignOutEverywhere(r.Context(), m); err != nil {
		h.log.Error("sign out everywhere", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainAction)
		return
	}
	h.log.Info("signed out everywhere", "person", m.ID)
	h.setSession(w, "")
	h.notice(w, http.StatusOK, templates.NoticeSignedOutEverywhere)
}
