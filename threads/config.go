package threads

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/postern/postern/mailin/auth"
)

// Config is the forum-wide configuration the store needs. The zero value is
// not valid: Domain and Secret are required; WithDefaults fills the rest.
type Config struct {
	// Domain is the forum's mail domain (required), e.g. "forum.example.org".
	Domain string
	// ForumName is shown in From display names, subjects and List-Id.
	// Default "Postern".
	ForumName string
	// BaseURL is the public web address used in links. Default
	// "http://localhost:8080".
	BaseURL string
	// LocalParts names the forum's addresses. Defaults in DefaultLocalParts.
	LocalParts LocalParts
	// Secret is the server secret (at least 32 bytes) from which token,
	// hash and encryption keys are derived (required).
	Secret []byte
	// HeldTTL is how long a post from an unconfirmed address waits for
	// its author's confirmation before it is discarded. Default 7 days.
	HeldTTL time.Duration
	// RawRetention is how long a raw inbound message (which contains
	// addresses) is kept after processing. Default 30 days.
	RawRetention time.Duration
	// ConfirmPerAddress caps confirmation requests to one address per 24
	// hours. Default 3.
	ConfirmPerAddress int
	// ConfirmPerIP caps confirmation requests caused by mail from one
	// client IP per hour. Default 20.
	ConfirmPerIP int
	// Rates are the per-hour posting limits checked at RCPT time.
	Rates RateLimits
	// CloseOnSelect closes a question when its asker selects a best
	// answer. Default false.
	CloseOnSelect bool
	// ModeratePointsBelow queues posts from people with fewer points (and
	// not moderators) for a moderator's approval; 0 (default) is off.
	// Everyone starts with 100 points, as in Question2Answer.
	ModeratePointsBelow int
	// BlockedWords are censored (replaced by asterisks) in notifications
	// and pages.
	BlockedWords []string
	// MaxAttachmentBytes is the largest file kept with a post; larger ones
	// are dropped with a note. Default 10 MiB.
	MaxAttachmentBytes int
	// MaxPostAttachmentBytes caps the files kept with one post. Default
	// 25 MiB.
	MaxPostAttachmentBytes int
	// ProcessMemory bounds the memory of messages being processed at once
	// (each counts ProcessWeight times its size, at most the whole
	// budget). Default 192 MiB; a running server shares its one memory
	// budget instead (Store.ShareMemory).
	ProcessMemory int64
	// ProcessMaxAttempts is how many times the processing of one inbound
	// message is tried (River's MaxAttempts of its job) before the message
	// is marked failed, for `postern inbound retry`. River waits about n⁴
	// seconds after the nth error, so n attempts span the sum of k⁴ for k
	// below n: with the default 13, about 16.9 hours (±10%), which a
	// database outage of a night does not exhaust. Default 13.
	ProcessMaxAttempts int
	// Auth says how inbound DKIM/DMARC results are obtained and what they
	// must be for a confirmed sender to post directly.
	Auth AuthConfig
	// PostmasterAddress, when set, receives a copy of every message to
	// postmaster@ or abuse@ the forum domain (through the outgoing mail
	// path); it must be outside the forum domain. Empty (default): such
	// mail is only kept, listed by `postern inbound list`.
	PostmasterAddress string
}

// DefaultAuthTimeout is AuthConfig.Timeout's default: the DNS time one
// message may cost when Postern verifies DKIM, SPF and DMARC itself.
const DefaultAuthTimeout = 5 * time.Second

// AuthConfig configures who may post as whom (see evidence.go): a
// confirmed member's message is published under their name only with
// evidence that they sent it; otherwise it is held and the member is
// asked to confirm it. Results and evidence are recorded on every inbound
// message.
type AuthConfig struct {
	// TrustedID, when set, is the authserv-id of the front MTA whose
	// Authentication-Results headers are trusted (Postern behind Postfix
	// with OpenDKIM/OpenDMARC). Other Authentication-Results are ignored.
	TrustedID string
	// Verify checks DKIM signatures, SPF (for mail received over SMTP)
	// and DMARC itself, with DNS: for when Postern is the MX. Ignored
	// when TrustedID is set.
	Verify bool
	// Resolver answers Verify's DNS queries; nil uses the system's.
	Resolver auth.Resolver
	// Timeout bounds all of Verify's DNS work for one message (SPF, DKIM
	// keys, DMARC); 0 means DefaultAuthTimeout. A lookup that fails or
	// is cut short gives "temperror", which is no evidence: the message
	// is processed at once, as if unsigned (a member's post is held and
	// the member asked), never retried for ever.
	Timeout time.Duration
	// Policy is the evidence a confirmed member's message needs to be
	// published directly: "evidence" (default: an aligned DKIM or SPF
	// pass, DMARC pass, the member's own reply token with their envelope
	// sender, or a trusted network), "dkim" or "dmarc" (only that
	// result). A message without it is held for the member's
	// confirmation.
	Policy string
	// TrustedNetworks are client networks whose mail is taken as sent by
	// its From address without further evidence (an internal relay, a
	// test harness). Over LMTP the peer checked is the front MTA. Empty
	// by default.
	TrustedNetworks []netip.Prefix
}

// RateLimits are Question2Answer's per-hour limits, per person and per
// client IP. At RCPT time the person is the envelope sender (a cheap first
// filter); at processing time posts are counted against the person they
// are credited to (the From address). Off disables them (benchmarks, or a
// trusted front relay that limits already).
type RateLimits struct {
	Off                                  bool
	QuestionsPerPerson, RepliesPerPerson int // defaults 10 and 45 (answers 25 + comments 20)
	QuestionsPerIP, RepliesPerIP         int // defaults 20 and 90 (answers 50 + comments 40)
}

// LocalParts are the local parts of the forum's addresses. Each may carry a
// "+DETAIL" suffix where documented.
type LocalParts struct {
	Ask         string // "ask": new question; ask+SLUG: in category SLUG
	Reply       string // "reply": reply+TOKEN replies to a post
	Bounce      string // "bounce": bounce+TOKEN is the VERP envelope sender
	Notify      string // "notifications": From of notifications; replies routed by headers
	Subscribe   string // "subscribe": follow every new question
	Unsubscribe string // "unsubscribe": stop notifications (unsubscribe+TOKEN for one)
	Confirm     string // "confirm": confirm+TOKEN confirms an address or a follow
	Help        string // "help": answers with the guide to every address and command
	Moderate    string // "moderate": From of moderation mail; replies routed by headers
}

// DefaultLocalParts are the local parts used when a field is empty.
var DefaultLocalParts = LocalParts{
	Ask:         "ask",
	Reply:       "reply",
	Bounce:      "bounce",
	Notify:      "notifications",
	Subscribe:   "subscribe",
	Unsubscribe: "unsubscribe",
	Confirm:     "confirm",
	Help:        "help",
	Moderate:    "moderate",
}

// WithDefaults returns a copy of c with empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.ForumName == "" {
		c.ForumName = "Postern"
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost:8080"
	}
	if c.MaxAttachmentBytes == 0 {
		c.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if c.MaxPostAttachmentBytes == 0 {
		c.MaxPostAttachmentBytes = DefaultMaxPostAttachmentBytes
	}
	if c.ProcessMemory == 0 {
		c.ProcessMemory = 192 << 20
	}
	if c.ProcessMaxAttempts == 0 {
		c.ProcessMaxAttempts = DefaultProcessMaxAttempts
	}
	if c.HeldTTL == 0 {
		c.HeldTTL = 7 * 24 * time.Hour
	}
	if c.RawRetention == 0 {
		c.RawRetention = 30 * 24 * time.Hour
	}
	if c.ConfirmPerAddress == 0 {
		c.ConfirmPerAddress = 3
	}
	if c.ConfirmPerIP == 0 {
		c.ConfirmPerIP = 20
	}
	r := &c.Rates
	if r.QuestionsPerPerson == 0 {
		r.QuestionsPerPerson = 10
	}
	if r.RepliesPerPerson == 0 {
		r.RepliesPerPerson = 45
	}
	if r.QuestionsPerIP == 0 {
		r.QuestionsPerIP = 20
	}
	if r.RepliesPerIP == 0 {
		r.RepliesPerIP = 90
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	lp := &c.LocalParts
	d := DefaultLocalParts
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&lp.Ask, d.Ask}, {&lp.Reply, d.Reply}, {&lp.Bounce, d.Bounce},
		{&lp.Notify, d.Notify}, {&lp.Subscribe, d.Subscribe}, {&lp.Unsubscribe, d.Unsubscribe},
		{&lp.Confirm, d.Confirm}, {&lp.Help, d.Help}, {&lp.Moderate, d.Moderate},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
		*f.dst = strings.ToLower(*f.dst)
	}
	return c
}

// Validate reports the first problem with c, naming the setting.
func (c Config) Validate() error {
	if c.Domain == "" {
		return errors.New("domain is required (POSTERN_DOMAIN)")
	}
	if strings.ContainsAny(c.Domain, "@ /") || !strings.Contains(c.Domain, ".") && c.Domain != "localhost" {
		return fmt.Errorf("domain %q is not a mail domain", c.Domain)
	}
	if len(c.Secret) < 32 {
		return fmt.Errorf("secret is %d bytes, need at least 32 (POSTERN_SECRET_FILE)", len(c.Secret))
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base URL %q must be an http(s) URL", c.BaseURL)
	}
	if a := c.PostmasterAddress; a != "" {
		at := strings.LastIndexByte(a, '@')
		if at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " <>\r\n,") {
			return errors.New("postmaster address is not a plain address (POSTERN_POSTMASTER_ADDRESS)")
		}
		if strings.EqualFold(a[at+1:], c.Domain) {
			return errors.New("postmaster address must be outside the forum domain: mail to it would loop (POSTERN_POSTMASTER_ADDRESS)")
		}
	}
	if c.ProcessMaxAttempts < 1 {
		return fmt.Errorf("process max attempts is %d, need at least 1 (POSTERN_PROCESS_MAX_ATTEMPTS)", c.ProcessMaxAttempts)
	}
	seen := map[string]bool{}
	lp := c.LocalParts
	for _, p := range []string{lp.Ask, lp.Reply, lp.Bounce, lp.Notify, lp.Subscribe, lp.Unsubscribe, lp.Confirm, lp.Help, lp.Moderate} {
		if p == "" || strings.ContainsAny(p, "+@ ") {
			return fmt.Errorf("local part %q is empty or contains '+', '@' or a space", p)
		}
		if seen[p] {
			return fmt.Errorf("local part %q is used for two addresses", p)
		}
		seen[p] = true
	}
	return nil
}
