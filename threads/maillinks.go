package threads

import (
	"github.com/postern/postern/threads/token"
	"github.com/postern/postern/web/links"
)

// This file builds every token-bearing address and link a notification
// carries, in one place: tokens come from the Addresses' keys, addresses
// from the Addresses, URLs from package links (so a link names a route
// the web server serves). The dispatcher asks for them; it builds none.

// StopLinks are a notification's ways to unsubscribe, all from one token:
// the footer link and the List-Unsubscribe field (RFC 2369, RFC 8058).
type StopLinks struct {
	Address string // unsubscribe+TOKEN@DOMAIN
	Mailto  string // the mailto: URI of Address, for List-Unsubscribe
	URL     string // the web page of the token: GET shows a form, a POST (one-click included) stops
	Token   string // the token itself (the render cache substitutes it)
}

// Links returns the builder of the forum's web addresses.
func (a *Addresses) Links() links.Links { return links.New(a.cfg.BaseURL) }

// stopLinks returns the StopLinks of tok.
func (a *Addresses) stopLinks(tok string) StopLinks {
	addr := a.at(a.cfg.LocalParts.Unsubscribe + "+" + tok)
	return StopLinks{Address: addr, Mailto: links.UnsubscribeMailto(addr), URL: a.Links().UnsubscribePage(tok), Token: tok}
}

// StopQuestion returns the StopLinks that mute question for person (0:
// that stop every email).
func (a *Addresses) StopQuestion(question, person, epoch int64) StopLinks {
	return a.stopLinks(a.UnsubscribeToken(question, person, epoch))
}

// StopFollows returns the StopLinks of the new-question mail of question
// to person: they end the follows that sent it (token.UnsubscribeFollow).
func (a *Addresses) StopFollows(question, person, epoch int64) StopLinks {
	return a.stopLinks(a.UnsubscribeFollowToken(question, person, epoch))
}

// SignInLink is the web sign-in link mailed in notification to person
// under epoch (token.SignIn).
func (a *Addresses) SignInLink(notification, person, epoch int64) string {
	tok := a.keys.Tokens.Encode(token.Token{Purpose: token.SignIn, Subject: notification, Person: person, Epoch: epoch})
	return a.Links().SignInLinkPage(tok)
}

// ConfirmLinks returns the confirm+TOKEN address and the web link of one
// confirmation request (purpose token.Confirm: of person's address, for
// held post subject; token.ConfirmSub: of follow subject), one token.
func (a *Addresses) ConfirmLinks(purpose token.Purpose, subject, person, epoch int64) (address, url string) {
	tok := a.ConfirmToken(purpose, subject, person, epoch)
	return a.at(a.cfg.LocalParts.Confirm + "+" + tok), a.Links().ConfirmPage(tok)
}
