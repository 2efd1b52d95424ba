package threads

import (
	"errors"
	"fmt"
	"strings"

	"github.com/postern/postern/threads/token"
)

// RecipientKind is what a forum address is for.
type RecipientKind int

// Recipient kinds, by local part (see LocalParts).
const (
	RcptAsk RecipientKind = iota + 1
	RcptReply
	RcptBounce
	RcptNotify
	RcptSubscribe
	RcptUnsubscribe
	RcptConfirm
	RcptHelp
	RcptModerate
	// RcptPostmaster is postmaster@ or abuse@ the forum domain (RFC 5321
	// section 4.5.1, RFC 2142), or "Postmaster" without a domain: mail
	// for the operators, never a post.
	RcptPostmaster
)

func (k RecipientKind) String() string {
	switch k {
	case RcptAsk:
		return "ask"
	case RcptReply:
		return "reply"
	case RcptBounce:
		return "bounce"
	case RcptNotify:
		return "notify"
	case RcptSubscribe:
		return "subscribe"
	case RcptUnsubscribe:
		return "unsubscribe"
	case RcptConfirm:
		return "confirm"
	case RcptHelp:
		return "help"
	case RcptModerate:
		return "moderate"
	case RcptPostmaster:
		return "postmaster"
	}
	return "unknown"
}

// Recipient is a parsed and, for token addresses, verified forum address.
type Recipient struct {
	Kind   RecipientKind
	Detail string      // the part after "+" (category slug or raw token), lower-cased
	Token  token.Token // verified token for RcptReply, RcptBounce, RcptUnsubscribe with a token
}

// Errors from Addresses.Parse. Their text is safe to show to an SMTP client:
// it never contains the address.
var (
	ErrForeignDomain = errors.New("relay denied: not a domain this server accepts mail for")
	ErrNoSuchAddress = errors.New("no such forum address")
	ErrBadToken      = errors.New("reply address token is invalid or expired")
)

// Addresses parses and builds the forum's addresses. It is immutable and
// safe for concurrent use.
type Addresses struct {
	cfg  Config
	keys *Keys
}

// NewAddresses returns an Addresses for cfg (with defaults applied) and keys.
func NewAddresses(cfg Config, keys *Keys) *Addresses {
	return &Addresses{cfg: cfg.normalized(), keys: keys}
}

// Domain returns the forum's mail domain.
func (a *Addresses) Domain() string { return a.cfg.Domain }

// Parse classifies addr (a bare address, angle brackets allowed; case does
// not matter). postmaster@ and abuse@ the domain, and "postmaster" alone,
// are RcptPostmaster whatever LocalParts says. It
// returns ErrForeignDomain for another domain, ErrNoSuchAddress for an
// unknown local part and ErrBadToken for a token that does not verify. The
// token's epoch is not checked here (that needs the database).
func (a *Addresses) Parse(addr string) (Recipient, error) {
	addr = NormalizeAddress(addr)
	if addr == "postmaster" {
		return Recipient{Kind: RcptPostmaster}, nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return Recipient{}, ErrNoSuchAddress
	}
	local, domain := addr[:at], addr[at+1:]
	if domain != a.cfg.Domain {
		return Recipient{}, ErrForeignDomain
	}
	if local == "postmaster" || local == "abuse" {
		return Recipient{Kind: RcptPostmaster}, nil
	}
	base, detail, _ := strings.Cut(local, "+")
	lp := a.cfg.LocalParts
	r := Recipient{Detail: detail}
	switch base {
	case lp.Ask:
		r.Kind = RcptAsk
	case lp.Notify:
		r.Kind = RcptNotify
	case lp.Subscribe:
		r.Kind = RcptSubscribe
		if detail != "" && !validSlug(detail) {
			return Recipient{}, ErrNoSuchAddress
		}
	case lp.Help:
		r.Kind = RcptHelp
	case lp.Moderate:
		r.Kind = RcptModerate
	case lp.Reply, lp.Bounce:
		r.Kind, r.Token.Purpose = RcptReply, token.Reply
		if base == lp.Bounce {
			r.Kind, r.Token.Purpose = RcptBounce, token.Bounce
		}
		t, err := a.keys.Tokens.Verify(detail, r.Token.Purpose)
		if err != nil {
			return Recipient{}, fmt.Errorf("%w (%v)", ErrBadToken, err)
		}
		r.Token = t
	case lp.Unsubscribe:
		r.Kind = RcptUnsubscribe
		if detail != "" {
			t, err := a.keys.Tokens.Verify(detail, token.Unsubscribe)
			if errors.Is(err, token.ErrPurpose) {
				t, err = a.keys.Tokens.Verify(detail, token.UnsubscribeFollow)
			}
			switch {
			case err == nil:
				r.Token = t
			case validSlug(detail) && len(detail) <= 30:
				// unsubscribe+SLUG: stop following a category.
			default:
				return Recipient{}, fmt.Errorf("%w (%v)", ErrBadToken, err)
			}
		}
	case lp.Confirm:
		r.Kind = RcptConfirm
		t, err := a.keys.Tokens.Verify(detail, token.Confirm)
		if err != nil {
			t, err = a.keys.Tokens.Verify(detail, token.ConfirmSub)
		}
		if err != nil {
			return Recipient{}, fmt.Errorf("%w (%v)", ErrBadToken, err)
		}
		r.Token = t
	default:
		return Recipient{}, ErrNoSuchAddress
	}
	if detail != "" && (r.Kind == RcptNotify || r.Kind == RcptHelp || r.Kind == RcptModerate) {
		return Recipient{}, ErrNoSuchAddress
	}
	return r, nil
}

func (a *Addresses) at(local string) string { return local + "@" + a.cfg.Domain }

// Reply returns the reply+TOKEN address that lets person reply to post.
func (a *Addresses) Reply(postID, personID, epoch int64) string {
	return a.at(a.cfg.LocalParts.Reply + "+" + a.keys.Tokens.Encode(token.Token{Purpose: token.Reply, Subject: postID, Person: personID, Epoch: epoch}))
}

// Bounce returns the VERP envelope sender for notification notifID to person.
func (a *Addresses) Bounce(notifID, personID int64) string {
	return a.at(a.cfg.LocalParts.Bounce + "+" + a.keys.Tokens.Encode(token.Token{Purpose: token.Bounce, Subject: notifID, Person: personID}))
}

// UnsubscribeAll returns unsubscribe@DOMAIN, which stops every email of
// whoever writes to it.
func (a *Addresses) UnsubscribeAll() string { return a.at(a.cfg.LocalParts.Unsubscribe) }

// UnsubscribeCategory returns unsubscribe+SLUG@DOMAIN, which ends the
// writer's follow of category slug.
func (a *Addresses) UnsubscribeCategory(slug string) string {
	return a.at(a.cfg.LocalParts.Unsubscribe + "+" + slug)
}

// UnsubscribeToken returns the token of the unsubscribe links of
// question (0: everything) for person (see StopQuestion).
func (a *Addresses) UnsubscribeToken(questionID, personID, epoch int64) string {
	return a.keys.Tokens.Encode(token.Token{Purpose: token.Unsubscribe, Subject: questionID, Person: personID, Epoch: epoch})
}

// UnsubscribeFollowToken returns the token of the unsubscribe links of
// the new-question mail of questionID to person (see StopFollows).
func (a *Addresses) UnsubscribeFollowToken(questionID, personID, epoch int64) string {
	return a.keys.Tokens.Encode(token.Token{Purpose: token.UnsubscribeFollow, Subject: questionID, Person: personID, Epoch: epoch})
}

// ConfirmToken returns the token confirming person's address (purpose
// token.Confirm) or a follow (token.ConfirmSub, subject = subscription).
func (a *Addresses) ConfirmToken(purpose token.Purpose, subject, personID, epoch int64) string {
	return a.keys.Tokens.Encode(token.Token{Purpose: purpose, Subject: subject, Person: personID, Epoch: epoch})
}

// Notify returns the From address of notifications.
func (a *Addresses) Notify() string { return a.at(a.cfg.LocalParts.Notify) }

// Moderate returns the From address of moderation mail.
func (a *Addresses) Moderate() string { return a.at(a.cfg.LocalParts.Moderate) }

// Ask returns the address for new questions.
func (a *Addresses) Ask() string { return a.at(a.cfg.LocalParts.Ask) }

// AskIn returns ask+SLUG@DOMAIN, which asks in category slug.
func (a *Addresses) AskIn(slug string) string { return a.at(a.cfg.LocalParts.Ask + "+" + slug) }

// Subscribe is the address that follows every new question.
func (a *Addresses) Subscribe() string { return a.at(a.cfg.LocalParts.Subscribe) }

// SubscribeIn returns subscribe+SLUG@DOMAIN, which follows category slug.
func (a *Addresses) SubscribeIn(slug string) string {
	return a.at(a.cfg.LocalParts.Subscribe + "+" + slug)
}

// Help returns the address that answers with the guide.
func (a *Addresses) Help() string { return a.at(a.cfg.LocalParts.Help) }
