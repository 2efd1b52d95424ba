package mailout

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads/mailkind"
)

// renderCache renders each mail of a batch once per (kind, post) and
// substitutes the per-recipient fields into the result: a fan-out to
// thousands of followers runs the templates once per job instead of once
// per follower.
//
// The templates are run with random markers in place of the two fields
// that differ between the recipients of one post (RecipientName, and the
// unsubscribe token inside UnsubscribeURL); the markers are then replaced
// in the subject and text with the values as they are, and in the HTML
// with the name escaped as html/template escapes element text (the token
// is lower-case base32, which no context escapes). Whether each field is
// empty is part of the cache key, since templates leave out the greeting
// and the unsubscribe link when it is. Every other field must be the same
// for equal keys: they come from the post and its question, loaded once
// per batch. TestRenderCacheMatchesDirect checks the result byte for byte
// against rendering each recipient's mail directly, for every kind.
//
// A renderCache belongs to one job (one goroutine); its markers are new
// for each, so text in a post cannot guess and imitate them.
type renderCache struct {
	tmpl     *templates.Set
	nameMark string // stands for RecipientName
	tokMark  string // stands for the unsubscribe token in UnsubscribeURL
	m        map[renderKey]renderedMail
}

// renderKey is what, besides the per-recipient fields, decides a mail's
// rendering within a batch.
type renderKey struct {
	kind                            mailkind.Kind
	note, actionURL, threadURL      string
	category, stopAll, stopCategory string // welcome mail is about a follow, not a post
	post, question                  int64
	named, unsub, web               bool
}

// renderedMail is a rendering with the markers still in it.
type renderedMail struct {
	subject, text, html string
}

// newRenderCache returns an empty cache with fresh random markers.
func newRenderCache(tmpl *templates.Set) (*renderCache, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("render markers: %w", err)
	}
	// Letters and digits only: neither html/template nor a URL
	// normaliser changes them.
	return &renderCache{
		tmpl:     tmpl,
		nameMark: "xpsnm" + hex.EncodeToString(b[:8]),
		tokMark:  "xpstk" + hex.EncodeToString(b[8:]),
		m:        make(map[renderKey]renderedMail),
	}, nil
}

// mail renders data (as templates.Set.Mail would) for a recipient of post
// and question, whose unsubscribe URL is unsubPrefix followed by unsubTok
// (both empty when the mail has no unsubscribe link). data.UnsubscribeURL
// is ignored; data.RecipientName is the recipient's name.
func (c *renderCache) mail(kind mailkind.Kind, post, question int64, data templates.MailData, unsubPrefix, unsubTok string) (subject, text, html string, err error) {
	name := data.RecipientName
	key := renderKey{kind: kind, note: data.Reason, actionURL: data.ActionURL, web: data.FromWeb, threadURL: data.ThreadURL,
		category: data.CategoryName, stopAll: data.UnsubscribeAddress, stopCategory: data.UnsubscribeCategoryAddress,
		post: post, question: question, named: name != "", unsub: unsubTok != ""}
	r, ok := c.m[key]
	if !ok {
		if key.named {
			data.RecipientName = c.nameMark
		}
		data.UnsubscribeURL = ""
		if key.unsub {
			data.UnsubscribeURL = unsubPrefix + c.tokMark
		}
		if r.subject, r.text, r.html, err = c.tmpl.Mail(kind, data); err != nil {
			return "", "", "", err
		}
		c.m[key] = r
	}
	// Neither value can contain a marker: they are random, made for this
	// job.
	subject = c.substitute(r.subject, name, unsubTok)
	if subject != r.subject {
		// As Mail does: one line, runs of white space collapsed.
		subject = strings.Join(strings.Fields(subject), " ")
	}
	text = c.substitute(r.text, name, unsubTok)
	html = c.substitute(r.html, htmlTextEscaper.Replace(name), unsubTok)
	return subject, text, html, nil
}

// substitute puts name and tok in place of the markers in s, in one pass
// and one allocation (s itself when it has no marker).
func (c *renderCache) substitute(s, name, tok string) string {
	nName, nTok := strings.Count(s, c.nameMark), strings.Count(s, c.tokMark)
	if nName+nTok == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + nName*(len(name)-len(c.nameMark)) + nTok*(len(tok)-len(c.tokMark)))
	for {
		i, j := strings.Index(s, c.nameMark), strings.Index(s, c.tokMark)
		mark, val := c.nameMark, name
		if i < 0 || (j >= 0 && j < i) {
			i, mark, val = j, c.tokMark, tok
		}
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(val)
		s = s[i+len(mark):]
	}
}

// htmlTextEscaper escapes text as html/template does in element content
// (its htmlReplacementTable), so that substituted names come out as a
// direct rendering would have them.
var htmlTextEscaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)
