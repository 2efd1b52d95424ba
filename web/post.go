package web

import (
	"errors"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// maxFormBytes bounds a form's request body: the longest fields in
// UTF-8, URL-encoded, with room to spare.
const maxFormBytes = 256 << 10

// submission is what a web form sent, read and checked.
type submission struct {
	form templates.PostForm
	// member is the signed-in member posting (nil: the form's address).
	member *threads.Member
	// guest: no address was given and guest posts are on.
	guest    bool
	problems []string
	status   int // the status to answer with when problems is not empty
}

// readForm reads the fields of r, a POST of the form for purpose, into a
// submission: the anti-forgery check, the honeypot and the limits. A
// request whose body cannot be read gives ok false (answered already).
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request, purpose string) (s submission, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.notice(w, http.StatusBadRequest, templates.NoticeBadRequest)
		return s, false
	}
	f := &s.form
	f.Ask, f.Title, f.Body = purpose == purposeAsk, strings.TrimSpace(r.PostFormValue("title")), strings.TrimSpace(r.PostFormValue("body"))
	f.Name, f.Address = strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("address"))
	f.Tags, f.Category, f.Notify = strings.TrimSpace(r.PostFormValue("tags")), r.PostFormValue("category"), r.PostFormValue("notify") != ""
	switch {
	case r.PostFormValue("website") != "":
		// The honeypot: a field people never see, which form-filling
		// robots fill in.
		h.log.Info("web form refused", "form", purpose, "reason", "honeypot")
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormExpired, "", 0))
		return s, true
	case !h.checkForm(r, purpose):
		h.log.Info("web form refused", "form", purpose, "reason", "anti-forgery check")
		s.fail(http.StatusForbidden, templates.FormError(templates.FormExpired, "", 0))
		return s, true
	}
	s.checkLimits()
	if f.Ask && f.Title == "" {
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormMissingTitle, "", 0))
	}
	if !f.Ask && f.Body == "" {
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormMissingBody, "", 0))
	}
	if m, ok := h.member(r); ok {
		s.member = &m
		f.SignedIn, f.Member, f.Name, f.Address = true, m.DisplayName, "", ""
	} else if f.Guests = h.store.Config().WebGuests; f.Guests && (!f.Notify || f.Address == "") {
		s.guest, f.Address = true, ""
	} else {
		s.checkAddress(h.store.Addresses().Domain())
	}
	return s, true
}

// fail adds a problem and the status that answers it (the first wins).
func (s *submission) fail(status int, msg string) {
	if len(s.problems) == 0 {
		s.status = status
	}
	s.problems = append(s.problems, msg)
}

// checkLimits checks every field's length.
func (s *submission) checkLimits() {
	f := s.form
	for _, c := range []struct {
		label, v string
		max      int
	}{
		{"The title", f.Title, templates.MaxFormTitle}, {"The text", f.Body, templates.MaxFormBody},
		{"The name", f.Name, templates.MaxFormName}, {"The tags", f.Tags, templates.MaxFormTags},
		{"The email address", f.Address, templates.MaxFormAddress},
	} {
		if templates.TooLong(c.v, c.max) {
			s.fail(http.StatusRequestEntityTooLarge, templates.FormError(templates.FormTooLong, c.label, c.max))
		}
	}
}

// checkAddress requires a plain address (a post without one is a
// guest's, when they are on: readForm), not one of the forum's own.
func (s *submission) checkAddress(domain string) {
	f := s.form
	if !f.Notify || f.Address == "" {
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormNeedAddress, "", 0))
		return
	}
	a, err := mail.ParseAddress(f.Address)
	if err != nil || a.Address != f.Address || a.Name != "" || strings.ContainsAny(f.Address, " <>\"") ||
		strings.HasSuffix(strings.ToLower(f.Address), "@"+strings.ToLower(domain)) {
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormBadAddress, "", 0))
	}
}

// answer takes the answer form of question id (links.Answer): a checked
// form becomes a message from the address given, replying to the
// question, accepted through the intake port; the page then says to
// check the mail. A form with problems is shown again, under the
// question, with what the person typed and each problem.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	id, t, info, ok := h.shownQuestion(w, r)
	if !ok {
		return
	}
	s, ok := h.readForm(w, r, purposeAnswer)
	if !ok {
		return
	}
	if t.State == "closed" && len(s.problems) == 0 {
		s.fail(http.StatusConflict, templates.FormError(templates.FormClosed, "", 0))
	}
	if len(s.problems) == 0 && s.guest {
		g := threads.GuestPost{Question: id, Name: s.form.Name, Body: s.form.Body}
		if h.postAsGuest(w, r, &s, g) {
			return
		}
	}
	if len(s.problems) == 0 && !s.guest {
		msg := webMessage{Name: s.form.Name, Address: s.form.Address, Subject: "Answer written on the web",
			InReplyTo: info.MessageID, Body: s.form.Body, Domain: h.store.Addresses().Domain()}
		if h.acceptWeb(w, r, &s, msg, h.store.Addresses().Ask(), threads.RcptReply) {
			h.posted(w, &s, false, pagePaths.QuestionPage(id))
			return
		}
	}
	p := questionPage(t, info, h.now())
	if !p.Closed {
		fresh := h.answerForm(w, r, id)
		s.form.Action, s.form.Token, s.form.Errors = fresh.Action, fresh.Token, s.problems
		p.Form = &s.form
	}
	if s.member != nil {
		h.withMember(w, r, &p, *s.member)
	}
	h.writePage(w, s.status, "question", p)
}

// posted answers a stored web post: a signed-in member's is published
// (back to page, the question's or the home page); one with an address
// waits for its confirmation.
func (h *Handler) posted(w http.ResponseWriter, s *submission, question bool, page string) {
	if s.member != nil {
		h.render(w, http.StatusOK, templates.WebPostedMemberPage(question, page))
		return
	}
	h.render(w, http.StatusOK, templates.WebPostedPage(question, h.store.Config().HeldTTL))
}

// acceptWeb checks the posting limits of s's address and network and
// stores msg for rcpt through the intake port; false (with the problem
// added to s) when it was not stored.
func (h *Handler) acceptWeb(w http.ResponseWriter, r *http.Request, s *submission, msg webMessage, rcpt string, kind threads.RecipientKind) bool {
	client := h.clientKey(r)
	var err error
	if s.member != nil {
		msg.Name = s.member.DisplayName
		msg.Address, err = h.store.MemberAddress(r.Context(), *s.member)
	}
	limited := false
	if err == nil {
		limited, err = h.store.RateLimited(r.Context(), msg.Address, client, kind)
	}
	if err == nil && limited {
		h.log.Info("web form refused", "reason", "rate limit")
		h.metrics.RateLimited("web_post")
		s.fail(http.StatusTooManyRequests, templates.FormError(templates.FormRateLimited, "", 0))
		return false
	}
	if err == nil {
		cookie, _ := r.Cookie(formCookie) // checked by readForm
		env := threads.Envelope{MailFrom: msg.Address, Rcpt: []string{rcpt}, RemoteAddr: client, Source: threads.SourceWeb}
		var acc threads.Accepted
		if s.member != nil {
			acc, err = h.store.AcceptAsMember(r.Context(), *s.member, env, msg.raw(cookie.Value, h.now()))
		} else {
			acc, err = h.store.Accept(r.Context(), env, msg.raw(cookie.Value, h.now()))
		}
		if err == nil {
			h.log.Info("web post accepted", "inbound_id", acc.InboundID, "duplicate", acc.Duplicate)
			return true
		}
	}
	h.log.Error("web post not stored", "err", err)
	s.fail(http.StatusServiceUnavailable, templates.FormError(templates.FormTryAgain, "", 0))
	return false
}

// clientKey is the network a web client connects from, as IP:port with
// port 0: its IPv4 address, or the /64 of its IPv6 address (one
// subscriber's network: a host can take any address in it), so that
// limits by IP count networks. The client is the peer, or, when the peer
// is one of the trusted reverse proxies, the last address of
// X-Forwarded-For that is not one of them (the one the nearest trusted
// proxy saw; what a client writes in the header itself comes before it).
func (h *Handler) clientKey(r *http.Request) string {
	ip := peerIP(r.RemoteAddr)
	if ip.IsValid() && inPrefixes(h.proxies, ip) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a hop that does not parse: trust no further
			}
			if ip = hop.Unmap(); !inPrefixes(h.proxies, ip) {
				break
			}
		}
	}
	if !ip.IsValid() {
		return ""
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return netip.AddrPortFrom(ip, 0).String()
}

// peerIP is the address of a request's RemoteAddr (host:port), or the
// zero Addr.
func peerIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// inPrefixes reports whether ip is in one of ps.
func inPrefixes(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// answerForm is a fresh answer form for question id (with a new form
// cookie on w when the browser has none).
func (h *Handler) answerForm(w http.ResponseWriter, r *http.Request, id int64) *templates.PostForm {
	return &templates.PostForm{Action: pagePaths.AnswerAction(id), Notify: true, Guests: h.store.Config().WebGuests,
		Token: h.formToken(purposeAnswer, h.formCookieValue(w, r), h.now())}
}

// postAsGuest publishes g, a guest's form (s), and answers with the
// page saying so; false (with the problem added to s) when it was not
// posted.
func (h *Handler) postAsGuest(w http.ResponseWriter, r *http.Request, s *submission, g threads.GuestPost) bool {
	cookie, _ := r.Cookie(formCookie) // checked by readForm
	g.Client = h.clientKey(r)
	g.Dedup = threads.GuestDedup(cookie.Value, strconv.FormatInt(g.Question, 10), g.Name, g.Title, g.Slug, g.Body, strings.Join(g.Tags, ","))
	post, queued, err := h.store.PostAsGuest(r.Context(), g)
	switch {
	case err == nil:
		h.log.Info("guest post published", "post", post, "queued", queued)
		back := pagePaths.HomePage(1)
		if g.Question != 0 {
			back = pagePaths.QuestionPage(g.Question)
		}
		h.render(w, http.StatusOK, templates.GuestPostedPage(g.Question == 0, queued, back))
		return true
	case errors.Is(err, threads.ErrGuestLimited):
		h.log.Info("guest post refused", "reason", "rate limit")
		h.metrics.RateLimited("web_guest")
		s.fail(http.StatusTooManyRequests, templates.FormError(templates.FormRateLimited, "", 0))
	case errors.Is(err, threads.ErrGuestClosed):
		s.fail(http.StatusConflict, templates.FormError(templates.FormClosed, "", 0))
	case errors.Is(err, threads.ErrGuestCategory):
		s.fail(http.StatusBadRequest, templates.FormError(templates.FormUnknownCategory, "", 0))
	default:
		h.log.Error("guest post not stored", "err", err)
		s.fail(http.StatusServiceUnavailable, templates.FormError(templates.FormTryAgain, "", 0))
	}
	return false
}
