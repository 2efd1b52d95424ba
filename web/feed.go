package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"time"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// feedSize is how many of the newest questions a feed carries.
const feedSize = 30

// feedContentType is the media type of the Atom feeds (RFC 4287 7).
const feedContentType = "application/atom+xml; charset=utf-8"

// atomFeed is an Atom 1.0 feed document (RFC 4287 4.1.1). Persons carry
// a name only: no feed ever holds an email element or an address.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

// atomLink is an atom:link (RFC 4287 4.2.7).
type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

// atomEntry is an atom:entry (RFC 4287 4.1.2): a question.
type atomEntry struct {
	ID        string     `xml:"id"`
	Title     string     `xml:"title"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Author    atomPerson `xml:"author"`
	Link      atomLink   `xml:"link"`
	Summary   string     `xml:"summary"`
}

// atomPerson is an atom:author with its name alone (RFC 4287 3.2).
type atomPerson struct {
	Name string `xml:"name"`
}

// feed serves the Atom feed of the forum's newest shown questions.
func (h *Handler) feed(w http.ResponseWriter, r *http.Request) {
	l := h.store.Links()
	h.writeFeed(w, r, "", templates.FeedTitle(h.store.Config().ForumName, ""), l.FeedURL(), l.HomePage(1))
}

// categoryFeed serves the Atom feed of a category's newest shown
// questions; an unknown slug is 404.
func (h *Handler) categoryFeed(w http.ResponseWriter, r *http.Request) {
	slug, cat, ok := h.pathCategory(w, r)
	if !ok {
		return
	}
	l := h.store.Links()
	h.writeFeed(w, r, slug, templates.FeedTitle(h.store.Config().ForumName, cat), l.CategoryFeedURL(slug), l.CategoryPage(slug, 1))
}

// writeFeed answers with the feed of the newest questions of category
// slug ("" all), titled title, whose own URL (and id) is self and whose
// page is page. It carries an ETag (a hash of the feed) and
// Last-Modified (its newest entry's update); a revalidation that matches
// is answered 304.
func (h *Handler) writeFeed(w http.ResponseWriter, r *http.Request, slug, title, self, page string) {
	qs, err := h.store.WebFeed(r.Context(), slug, feedSize)
	if err != nil {
		h.log.Error("feed", "err", err)
		h.notice(w, http.StatusServiceUnavailable, templates.NoticeTryAgainRead)
		return
	}
	doc, updated := h.atom(qs, title, self, page)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(doc); err != nil {
		h.log.Error("encode feed", "err", err)
		h.notice(w, http.StatusInternalServerError, templates.NoticeInternalError)
		return
	}
	sum := sha256.Sum256(b.Bytes())
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	hd := w.Header()
	hd.Set("Cache-Control", cacheFeed)
	hd.Set("ETag", etag)
	hd.Set("Last-Modified", updated.Format(http.TimeFormat))
	if notModified(r, etag, updated) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", feedContentType)
	_, _ = w.Write(b.Bytes())
}

// atom is the feed document of qs (newest first) and the time it was
// last updated: its newest entry's update, or the Unix epoch for a feed
// without entries (a fixed time keeps its ETag and Last-Modified
// stable).
func (h *Handler) atom(qs []threads.FedQuestion, title, self, page string) (atomFeed, time.Time) {
	l := h.store.Links()
	updated := time.Unix(0, 0).UTC()
	doc := atomFeed{ID: self, Title: title, Links: []atomLink{
		{Rel: "self", Type: "application/atom+xml", Href: self},
		{Rel: "alternate", Type: "text/html", Href: page},
	}, Entries: make([]atomEntry, 0, len(qs))}
	for _, q := range qs {
		if q.UpdatedAt.After(updated) {
			updated = q.UpdatedAt.UTC()
		}
		u := l.QuestionPage(q.ID)
		doc.Entries = append(doc.Entries, atomEntry{
			ID: u, Title: q.Title,
			Updated: q.UpdatedAt.UTC().Format(time.RFC3339), Published: q.CreatedAt.UTC().Format(time.RFC3339),
			Author:  atomPerson{Name: templates.OrAnonymous(q.Author)},
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: u},
			Summary: describe(q.Body),
		})
	}
	updated = updated.Truncate(time.Second)
	doc.Updated = updated.Format(time.RFC3339)
	return doc, updated
}
