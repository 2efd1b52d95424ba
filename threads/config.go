package threads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/postern/postern/internal/config"
)

// Config is the store's view of the configuration. It holds no defaults:
// ConfigFrom fills it from internal/config (whose Default is the one place
// defaults are written) and the secret; Domain and Secret are required.
type Config struct {
	// Domain is the forum's mail domain (required), e.g. "forum.example.org".
	Domain string
	// ForumName is shown in From display names, subjects and List-Id.
	ForumName string
	// BaseURL is the public web address used in links.
	BaseURL string
	// LocalParts names the forum's addresses; an empty one is
	// DefaultLocalParts' (they are the address scheme, not settings).
	LocalParts LocalParts
	// Secret is the server secret (at least 32 bytes) from which token,
	// hash and encryption keys are derived (required).
	Secret []byte
	// HeldTTL is how long a post from an unconfirmed address waits for
	// its author's confirmation before it is discarded.
	HeldTTL time.Duration
	// RawRetention is how long a raw inbound message (which contains
	// addresses) is kept after processing.
	RawRetention time.Duration
	// ConfirmPerAddress caps confirmation requests to one address per 24
	// hours.
	ConfirmPerAddress int
	// ConfirmPerIP caps confirmation requests caused by mail from one
	// client IP per hour.
	ConfirmPerIP int
	// Rates are the per-hour posting limits checked at RCPT time.
	Rates RateLimits
	// CloseOnSelect closes a question when its asker selects a best
	// answer.
	CloseOnSelect bool
	// WebGuests publishes web posts without an address as guests'
	// (PostAsGuest); off, the forms ask for an address.
	WebGuests bool
	// ModeratePointsBelow queues posts from people with fewer points (and
	// not moderators) for a moderator's approval; 0 is off.
	// Everyone starts with 100 points, as in Question2Answer.
	ModeratePointsBelow int
	// BlockedWords are censored (replaced by asterisks) in notifications
	// and pages.
	BlockedWords []string
	// MaxAttachmentBytes is the largest file kept with a post; larger ones
	// are dropped with a note.
	MaxAttachmentBytes int
	// MaxPostAttachmentBytes caps the files kept with one post.
	MaxPostAttachmentBytes int
	// ProcessMemory bounds the memory of messages being processed at once
	// (each counts ProcessWeight times its size, at most the whole
	// budget) when the Store has no shared budget (Options.Memory); a
	// running server shares its one memory budget instead.
	ProcessMemory int64
	// ProcessMaxAttempts is how many times the processing of one inbound
	// message is tried (River's MaxAttempts of its job) before the message
	// is marked failed, for `postern inbound retry`. River waits about n⁴
	// seconds after the nth error, so n attempts span the sum of k⁴ for k
	// below n: with the default 13, about 16.9 hours (±10%), which a
	// database outage of a night does not exhaust.
	ProcessMaxAttempts int
	// Auth says how inbound DKIM/DMARC results are obtained and what they
	// must be for a confirmed sender to post directly.
	Auth AuthConfig
	// PostmasterAddress, when set, receives a copy of every message to
	// postmaster@ or abuse@ the forum domain (through the outgoing mail
	// path); it must be outside the forum domain. Empty: such mail is
	// only kept, listed by `postern inbound list`.
	PostmasterAddress string
}

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
	Resolver Resolver
	// Timeout bounds all of Verify's DNS work for one message (SPF, DKIM
	// keys, DMARC). A lookup that fails or is cut short gives
	// "temperror", which is no evidence: the message
	// is processed at once, as if unsigned (a member's post is held and
	// the member asked), never retried for ever.
	Timeout time.Duration
	// Policy is the evidence a confirmed member's message needs to be
	// published directly: "evidence" (an aligned DKIM or SPF
	// pass, DMARC pass, the member's own reply token with their envelope
	// sender, or a trusted network), "dkim" or "dmarc" (only that
	// result). A message without it is held for the member's
	// confirmation.
	Policy string
	// TrustedNetworks are client networks whose mail is taken as sent by
	// its From address without further evidence (an internal relay, a
	// test harness). Over LMTP the peer checked is the front MTA.
	TrustedNetworks []netip.Prefix
}

// Resolver answers the DNS queries of AuthConfig.Verify: the method set of
// mailin/auth's Resolver (which a *net.Resolver has), declared here so
// that the store does not import the mail readers.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// RateLimits are Question2Answer's per-hour limits, per person and per
// client IP. At RCPT time the person is the envelope sender (a cheap first
// filter); at processing time posts are counted against the person they
// are credited to (the From address). Off disables them (benchmarks, or a
// trusted front relay that limits already).
type RateLimits struct {
	Off                                  bool
	QuestionsPerPerson, RepliesPerPerson int
	QuestionsPerIP, RepliesPerIP         int
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

// ConfigFrom returns the store's part of c, with secret, the server
// secret read from c.Store.SecretFile.
func ConfigFrom(c config.Config, secret []byte) Config {
	f := c.Forum
	return Config{
		Domain: f.Domain, ForumName: f.ForumName, BaseURL: f.BaseURL, Secret: secret,
		HeldTTL: f.HeldTTL, RawRetention: f.RawRetention,
		ConfirmPerAddress: f.ConfirmPerAddress, ConfirmPerIP: f.ConfirmPerIP,
		Rates: RateLimits{Off: !bool(f.Rates.Limits),
			QuestionsPerPerson: f.Rates.QuestionsPerPerson, RepliesPerPerson: f.Rates.RepliesPerPerson,
			QuestionsPerIP: f.Rates.QuestionsPerIP, RepliesPerIP: f.Rates.RepliesPerIP},
		CloseOnSelect: f.CloseOnSelect, WebGuests: f.WebGuests, ModeratePointsBelow: f.ModeratePointsBelow,
		BlockedWords:       slices.Clone([]string(f.BlockedWords)),
		MaxAttachmentBytes: int(f.MaxAttachment), MaxPostAttachmentBytes: int(f.MaxPostAttachments),
		ProcessMemory: int64(c.Memory.Budget), ProcessMaxAttempts: c.Process.MaxAttempts,
		Auth: AuthConfig{TrustedID: c.Auth.TrustedID, Verify: c.Auth.Verify, Timeout: c.Auth.DNSTimeout,
			Policy: string(c.Auth.Policy), TrustedNetworks: slices.Clone([]netip.Prefix(c.Auth.TrustedNetworks))},
		PostmasterAddress: f.PostmasterAddress,
	}
}

// normalized returns c with the domain in lower case, the base URL
// without a trailing slash and every local part set (DefaultLocalParts'
// for an empty one) and in lower case.
func (c Config) normalized() Config {
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

// Validate reports the first problem with what only the store can check:
// the domain and secret are there and the local parts are usable. The
// settings themselves are checked by internal/config's Validate.
func (c Config) Validate() error {
	c = c.normalized()
	if c.Domain == "" {
		return errors.New("domain is required (POSTERN_DOMAIN)")
	}
	if len(c.Secret) < 32 {
		return fmt.Errorf("secret is %d bytes, need at least 32 (POSTERN_SECRET_FILE)", len(c.Secret))
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
