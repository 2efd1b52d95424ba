package web

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cross-site request forgery: a form's POST is taken only when
//
//   - net/http's CrossOriginProtection finds it same-origin: the
//     browser's Sec-Fetch-Site says so, or without it its Origin is the
//     host it asked or the forum's base URL (a request with neither is
//     taken: old browsers and tools, which the token below still checks);
//   - it carries the token its form was rendered with: an HMAC, under a
//     key derived from the server secret, of the form's purpose, an
//     expiry and the browser's form cookie (a random value, SameSite
//     Strict and HttpOnly, set with the first form it is shown). A page on
//     another site can neither read the cookie nor compute the token.
//
// The token of a form expires formTokenTTL (up to an hour more) after
// the page was rendered.

const (
	formCookie   = "postern_form"
	formTokenTTL = 24 * time.Hour
)

// Purposes of form tokens: a token signed for one form is refused by
// another.
const (
	purposeAnswer = "answer"
	purposeAsk    = "ask"
)

// formCookieValue returns the browser's form cookie, setting a new one on
// w when r carries none (or a malformed one).
func (h *Handler) formCookieValue(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(formCookie); err == nil && validCookie(c.Value) {
		return c.Value
	}
	var b [18]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: formCookie, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(h.store.Config().BaseURL, "https:"),
		MaxAge: int((30 * 24 * time.Hour).Seconds())})
	return v
}

func validCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 18
}

// formToken returns the token of a form for purpose, for the browser
// whose form cookie is cookie, valid until now+formTokenTTL.
func (h *Handler) formToken(purpose, cookie string, now time.Time) string {
	// The expiry is rounded up to the hour, so that a page rendered
	// twice in an hour is the same page (its ETag matches).
	exp := now.Truncate(time.Hour).Add(formTokenTTL + time.Hour).Unix()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(exp))
	mac := h.store.Keys().FormMAC(purpose, cookie, strconv.FormatInt(exp, 10))
	return base64.RawURLEncoding.EncodeToString(append(b[:], mac[:18]...))
}

// checkForm reports whether r, a POST of the form for purpose, comes from
// the forum's own page (see the rules above).
func (h *Handler) checkForm(r *http.Request, purpose string) bool {
	if !h.sameOrigin(r) {
		return false
	}
	c, err := r.Cookie(formCookie)
	if err != nil || !validCookie(c.Value) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("token"))
	if err != nil || len(raw) != 8+18 {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8]))
	if h.now().Unix() > exp {
		return false
	}
	mac := h.store.Keys().FormMAC(purpose, c.Value, strconv.FormatInt(exp, 10))
	return hmac.Equal(raw[8:], mac[:18])
}

// sameOrigin checks r with net/http's CrossOriginProtection: a browser's
// Sec-Fetch-Site, else its Origin against the Host it asked (or the
// forum's base URL).
func (h *Handler) sameOrigin(r *http.Request) bool {
	return h.cop.Check(r) == nil
}

// crossOrigin returns the protection for a forum served at baseURL.
func crossOrigin(baseURL string) *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		_ = c.AddTrustedOrigin(u.Scheme + "://" + u.Host) // valid by construction
	}
	return c
}
