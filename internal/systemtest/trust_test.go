package systemtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/threads"
)

// trustApp is a test app that trusts the networks nets (testAppWith
// trusts loopback; "" trusts nothing, as serve's default), with more
// settings from adjust.
func trustApp(t *testing.T, relay *sink, nets string, adjust func(*Config)) *app {
	t.Helper()
	a, _ := testAppWith(t, relay, func(c *Config) {
		c.Auth.TrustedNetworks = mustNetworks(t, nets)
		if adjust != nil {
			adjust(c)
		}
	})
	return a
}

// trustOutcome is what became of the inbound message with Message-ID mid.
type trustOutcome struct {
	state, reason, evidence, postState string
	post                               int64
}

func outcomeOf(t *testing.T, a *app, mid string) trustOutcome {
	t.Helper()
	var o trustOutcome
	err := a.pool.QueryRow(context.Background(), `SELECT i.state, i.reason, i.evidence, coalesce(i.post_id, 0), coalesce(p.state, '')
		FROM inbound i LEFT JOIN posts p ON p.id = i.post_id WHERE i.message_id = $1`, mid).
		Scan(&o.state, &o.reason, &o.evidence, &o.post, &o.postState)
	if err != nil {
		t.Fatalf("outcome of %s: %v", mid, err)
	}
	return o
}

// confirmations returns the confirmation requests the relay received for
// addr.
func confirmations(relay *sink, addr string) [][]byte {
	var out [][]byte
	for _, m := range relay.all() {
		if len(m.To) == 1 && m.To[0] == addr && bytes.Contains(m.Data, []byte("Please confirm your message")) {
			out = append(out, m.Data)
		}
	}
	return out
}

// question is a new question from the mailbox from, with Message-ID mid.
func question(from, mid, title string, extra ...string) string {
	return strings.Join(extra, "") + "From: " + from + "\r\nTo: ask@forum.test\r\nSubject: " + title +
		"\r\nMessage-ID: <" + mid + ">\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n" + title + ", and more words about it.\r\n"
}

// signDKIM signs raw for domain with selector sel.
func signDKIM(t *testing.T, raw, domain, sel string, key ed25519.PrivateKey) string {
	t.Helper()
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: sel, Signer: key}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantOutcome checks the post state and evidence of message mid.
func wantOutcome(t *testing.T, a *app, mid, postState, evidence string) trustOutcome {
	t.Helper()
	o := outcomeOf(t, a, mid)
	if o.state != "processed" || o.postState != postState || o.evidence != evidence {
		t.Errorf("%s: %+v; want post %s with evidence %s", mid, o, postState, evidence)
	}
	return o
}

// TestWhoCanPostAsWhom: Postern is the MX (it verifies DKIM and SPF
// against a fake DNS) and trusts no network, so mail from loopback over
// real SMTP is from an untrusted network. A confirmed member's message is
// published under their name with an aligned DKIM pass, an aligned SPF
// pass, or as a reply to their own reply token from their own envelope
// address; a message with From: a member and any other envelope (to ask@
// or to the member's token), and a fully forged one (envelope and From
// the member's, no DKIM, SPF not passing), are held, and exactly one
// confirmation goes to the member's real address. Confirming publishes
// that post only, not another one held under their name.
func TestWhoCanPostAsWhom(t *testing.T) {
	t.Parallel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dns := fakeDNS{
		"sel._domainkey.example.org": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
		"example.org":                {"v=spf1 ip4:192.0.2.0/24 -all"}, // not loopback
		"_dmarc.example.org":         {"v=DMARC1; p=none"},
		"spf.example":                {"v=spf1 ip4:127.0.0.0/8 -all"},
	}
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.Auth.Verify, c.resolver = true, dns })
	const alice, bob, dave = "alice@example.org", "bob@spf.example", "dave@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	member(t, a, relay, bob, "Bob", "Bob asks")
	member(t, a, relay, dave, "Dave", "Dave asks")
	posted, _ := relay.waitFor(t, alice, subjectHas("] Alice asks"))
	aliceToken := strings.Trim(header(posted, "Reply-To"), "<>")
	if !strings.HasPrefix(aliceToken, "reply+") {
		t.Fatalf("posted note Reply-To %q", aliceToken)
	}

	// Evidence: each is published at once.
	sendMail(t, a, alice, []string{"ask@forum.test"}, signDKIM(t, question("Alice <"+alice+">", "dkim@client.example", "Signed question"), "example.org", "sel", key))
	sendMail(t, a, bob, []string{"ask@forum.test"}, question("Bob <"+bob+">", "spf@client.example", "SPF question"))
	sendMail(t, a, alice, []string{aliceToken}, "From: Alice <"+alice+">\r\nTo: "+aliceToken+"\r\nSubject: Re: Alice asks\r\nMessage-ID: <token@client.example>\r\n\r\nMore details from me.\r\n")
	// No evidence: held, and the member is asked.
	mallory := "mallory@evil.example"
	sendMail(t, a, mallory, []string{"ask@forum.test"}, question("Alice <"+alice+">", "forged-ask@client.example", "Forged question"))
	sendMail(t, a, mallory, []string{aliceToken}, "From: Alice <"+alice+">\r\nTo: "+aliceToken+"\r\nSubject: Re: Alice asks\r\nMessage-ID: <forged-token@client.example>\r\n\r\nA forged comment.\r\n")
	sendMail(t, a, mallory, []string{"ask@forum.test"}, question("Dave <"+dave+">", "forged-dave@client.example", "Forged Dave question"))
	mtSettle(t, a)
	before := len(confirmations(relay, dave))
	sendMail(t, a, dave, []string{"ask@forum.test"}, question("Dave <"+dave+">", "full-forgery@client.example", "Fully forged question"))
	mtSettle(t, a)

	wantOutcome(t, a, "dkim@client.example", "visible", "dkim")
	wantOutcome(t, a, "spf@client.example", "visible", "spf")
	wantOutcome(t, a, "token@client.example", "visible", "reply-token")
	for _, mid := range []string{"forged-ask@client.example", "forged-token@client.example", "forged-dave@client.example", "full-forgery@client.example"} {
		o := wantOutcome(t, a, mid, "held", "none")
		if !strings.Contains(o.reason, "no evidence") || !strings.Contains(o.reason, "confirmation sent to the member") {
			t.Errorf("%s: reason %q does not say why it is held", mid, o.reason)
		}
	}
	// `postern inbound list` shows why each was held or published.
	list, err := a.store.ListInbound(context.Background(), threads.InboundAll, 100)
	if err != nil {
		t.Fatal(err)
	}
	// It shows Message-IDs redacted (they look like addresses): find the
	// rows by id.
	shown := map[int64]string{}
	for _, m := range list {
		shown[m.ID] = m.Evidence + " | " + m.Reason
	}
	for mid, want := range map[string]string{"dkim@client.example": "dkim | published (evidence: dkim)",
		"full-forgery@client.example": "none | held until the member confirms (no evidence"} {
		id := int64(Count(t, a, `SELECT id FROM inbound WHERE message_id = $1`, mid))
		if !strings.HasPrefix(shown[id], want) {
			t.Errorf("inbound list shows %s as %q, want %q...", mid, shown[id], want)
		}
	}
	// One confirmation per held message, to the member only: Alice had
	// one as a newcomer, then one per forgery.
	if n := len(confirmations(relay, alice)); n != 3 {
		t.Errorf("alice received %d confirmation requests, want 3 (newcomer + 2 forgeries)", n)
	}
	conf := confirmations(relay, dave)
	if len(conf) != before+1 {
		t.Fatalf("the fully forged message sent %d confirmation requests to dave, want 1", len(conf)-before)
	}
	if text := decodedText(t, conf[len(conf)-1]); !strings.Contains(text, "came under your name") || !strings.Contains(text, "fully forged question") {
		t.Errorf("confirmation to a member does not explain itself:\n%s", text)
	}
	for _, m := range relay.all() {
		if len(m.To) > 0 && m.To[0] == mallory {
			t.Errorf("mail sent to the forger: %q", m.Data)
		}
	}

	// Dave confirms the last request: that post is published, the other
	// one held under his name stays held.
	req, _ := relay.waitFor(t, dave, subjectHas("Please confirm your message: Fully forged question"))
	confirmByReply(t, a, dave, req)
	wantOutcome(t, a, "full-forgery@client.example", "visible", "none")
	wantOutcome(t, a, "forged-dave@client.example", "held", "none")
}

// lmtpSend is one LMTP transaction; it fails unless every recipient gets
// 250.
func lmtpSend(addr, from string, to []string, raw string) error {
	return smtptest.Dialer{LMTP: true, Helo: "mx.forum.test"}.Send(addr, smtptest.Mail{From: from, To: to, Data: []byte(raw)})
}

// TestTrustedAuthResultsOverLMTP: behind a front MTA (LMTP, whose peer is
// the MTA on loopback, not a trusted network), a member's message is
// published on the MTA's own Authentication-Results (its authserv-id);
// results under another id and no results at all are held.
func TestTrustedAuthResultsOverLMTP(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.Auth.TrustedID = "mx.forum.test" })
	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	send := func(mid, results string) {
		t.Helper()
		if err := lmtpSend(a.lmtpAddr.String(), alice, []string{"ask@forum.test"}, question("Alice <"+alice+">", mid, "Question "+mid, results)); err != nil {
			t.Fatalf("LMTP %s: %v", mid, err)
		}
	}
	send("trusted@client.example", "Authentication-Results: mx.forum.test; dkim=pass header.d=example.org; spf=fail smtp.mailfrom=example.org; dmarc=pass header.from=example.org\r\n")
	send("spf-only@client.example", "Authentication-Results: mx.forum.test; dkim=none; spf=pass smtp.mailfrom=bounces.example.org\r\n")
	send("other-id@client.example", "Authentication-Results: evil.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n")
	send("none@client.example", "")
	mtSettle(t, a)
	wantOutcome(t, a, "trusted@client.example", "visible", "dkim")
	wantOutcome(t, a, "spf-only@client.example", "visible", "spf")
	wantOutcome(t, a, "other-id@client.example", "held", "none")
	wantOutcome(t, a, "none@client.example", "held", "none")
}

// TestTrustedNetworks: with 127.0.0.0/8 trusted, the fully forged message
// of TestWhoCanPostAsWhom is published (the operator vouches for the
// network), over SMTP and over LMTP (whose peer, the MTA, is listed).
func TestTrustedNetworks(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := trustApp(t, relay, "127.0.0.0/8", nil)
	const dave = "dave@example.org"
	member(t, a, relay, dave, "Dave", "Dave asks")
	sendMail(t, a, dave, []string{"ask@forum.test"}, question("Dave <"+dave+">", "smtp@client.example", "From a trusted network"))
	if err := lmtpSend(a.lmtpAddr.String(), dave, []string{"ask@forum.test"}, question("Dave <"+dave+">", "lmtp@client.example", "Through a trusted MTA")); err != nil {
		t.Fatal(err)
	}
	mtSettle(t, a)
	wantOutcome(t, a, "smtp@client.example", "visible", "trusted-network")
	wantOutcome(t, a, "lmtp@client.example", "visible", "trusted-network")
	if n := len(confirmations(relay, dave)); n != 1 {
		t.Errorf("dave received %d confirmation requests, want only the newcomer's", n)
	}
}

// TestLimitCountsCreditedPerson: the hourly question limit counts the
// person a post is credited to (From), not the envelope sender: a burst
// of 12 questions under Alice's name, each with another envelope sender,
// publishes no more than her 10 an hour; the rest are refused with the
// reason.
func TestLimitCountsCreditedPerson(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := trustApp(t, relay, "127.0.0.0/8", nil)
	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Question 0")
	for i := 1; i <= 12; i++ {
		sendMail(t, a, fmt.Sprintf("sender%d@example.net", i), []string{"ask@forum.test"},
			question("Alice <"+alice+">", fmt.Sprintf("burst%d@client.example", i), fmt.Sprintf("Question %d", i)))
	}
	mtSettle(t, a)
	published := mtCount(t, a, `SELECT count(*) FROM posts p JOIN people u ON u.id = p.author_id
		WHERE u.display_name = 'Alice' AND p.kind = 'question' AND p.state = 'visible'`)
	if published != 10 {
		t.Errorf("%d questions published under Alice's name within the hour, want the limit, 10", published)
	}
	refused := mtCount(t, a, `SELECT count(*) FROM inbound WHERE state = 'failed' AND reason LIKE '%limit of 10 questions an hour%'`)
	if refused != 3 {
		t.Errorf("%d questions refused with the limit's reason, want 3", refused)
	}
}

// TestNotificationReplyEvidence: many clients reply to a notification's
// From (notifications@), so the reply carries no reply token, only the
// notification's Message-ID in In-Reply-To/References. From an untrusted
// network with no DKIM or SPF pass, a member's reply naming a
// notification sent to that member, from their own envelope address, is
// published; the same naming another member's notification, or from
// another envelope address, is held (and the member asked).
func TestNotificationReplyEvidence(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.Auth.Verify, c.resolver = true, fakeDNS{} })
	const alice, bob = "alice@example.org", "bob@example.net"
	member(t, a, relay, alice, "Alice", "Alice asks")
	member(t, a, relay, bob, "Bob", "Bob asks")
	aliceNote, _ := relay.waitFor(t, alice, subjectHas("] Alice asks"))
	bobNote, _ := relay.waitFor(t, bob, subjectHas("] Bob asks"))
	toFrom := func(_ *mail.Reader, mid, refs, text string) string {
		return "From: Alice <" + alice + ">\r\nTo: notifications@forum.test\r\nSubject: Re: notification\r\nMessage-ID: <" + mid +
			">\r\n" + refs + "\r\n" + text + "\r\n"
	}
	if from := header(aliceNote, "From"); !strings.Contains(from, "notifications@forum.test") {
		t.Fatalf("posted note From %q, want notifications@", from)
	}
	own := header(aliceNote, "Message-Id")
	sendMail(t, a, alice, []string{"notifications@forum.test"}, toFrom(aliceNote, "own@client.example", "In-Reply-To: "+own+"\r\n", "More about my question."))
	sendMail(t, a, alice, []string{"notifications@forum.test"}, toFrom(aliceNote, "refs@client.example", "References: <elsewhere@client.example> "+own+"\r\n", "And one more thing."))
	sendMail(t, a, alice, []string{"notifications@forum.test"}, toFrom(bobNote, "others@client.example", "In-Reply-To: "+header(bobNote, "Message-Id")+"\r\n", "A reply to Bob's note."))
	sendMail(t, a, "mallory@evil.example", []string{"notifications@forum.test"}, toFrom(aliceNote, "envelope@client.example", "In-Reply-To: "+own+"\r\n", "Forged with Alice's id."))
	mtSettle(t, a)
	wantOutcome(t, a, "own@client.example", "visible", "notification-reply")
	wantOutcome(t, a, "refs@client.example", "visible", "notification-reply")
	for _, mid := range []string{"others@client.example", "envelope@client.example"} {
		if o := wantOutcome(t, a, mid, "held", "none"); !strings.Contains(o.reason, "no evidence") {
			t.Errorf("%s: reason %q", mid, o.reason)
		}
	}
}

// dkimDNS is a fake DNS publishing an ed25519 DKIM key for example.org
// (selector sel) and a DMARC policy, and no SPF record; it returns the
// signing key.
func dkimDNS(t *testing.T) (fakeDNS, ed25519.PrivateKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return fakeDNS{
		"sel._domainkey.example.org": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
		"_dmarc.example.org":         {"v=DMARC1; p=none"},
	}, key
}

// TestServeVerifiesByDefault: with serve's defaults (only the DNS is
// faked), Postern as the MX verifies DKIM itself, so a confirmed member
// who asks twice from an untrusted network with their provider's
// signature is published each time, and gets no confirmation request
// beyond the newcomer's.
func TestServeVerifiesByDefault(t *testing.T) {
	t.Parallel()
	dns, key := dkimDNS(t)
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.resolver = dns })
	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	for _, mid := range []string{"monday@client.example", "thursday@client.example"} {
		sendMail(t, a, alice, []string{"ask@forum.test"}, signDKIM(t, question("Alice <"+alice+">", mid, "Question of "+mid), "example.org", "sel", key))
	}
	mtSettle(t, a)
	wantOutcome(t, a, "monday@client.example", "visible", "dkim")
	wantOutcome(t, a, "thursday@client.example", "visible", "dkim")
	if n := len(confirmations(relay, alice)); n != 1 {
		t.Errorf("alice received %d confirmation requests, want only the newcomer's", n)
	}
}

// slowDNS never answers: each lookup waits until its context ends.
type slowDNS struct{}

func (slowDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true, IsTemporary: true}
}
func (slowDNS) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true, IsTemporary: true}
}
func (slowDNS) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: "timeout", Name: host, IsTimeout: true, IsTemporary: true}
}
func (slowDNS) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	<-ctx.Done()
	return nil, &net.DNSError{Err: "timeout", Name: addr, IsTimeout: true, IsTemporary: true}
}

// TestDNSTimeoutIsNoEvidence: when DNS never answers, verifying a signed
// message (SPF, the DKIM key, DMARC) ends at the per-message bound: the
// message is processed once, as held for lack of evidence with the reason
// saying the lookups failed, and the member is asked; it neither fails
// nor waits for ever.
func TestDNSTimeoutIsNoEvidence(t *testing.T) {
	t.Parallel()
	_, key := dkimDNS(t)
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.resolver, c.Auth.DNSTimeout = slowDNS{}, 500*time.Millisecond })
	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	start := time.Now()
	sendMail(t, a, alice, []string{"ask@forum.test"}, signDKIM(t, question("Alice <"+alice+">", "dns-down@client.example", "While DNS is down"), "example.org", "sel", key))
	waitProcessed(t, a)
	took := time.Since(start)
	o := wantOutcome(t, a, "dns-down@client.example", "held", "none")
	if !strings.Contains(o.reason, "timed out") || !strings.Contains(o.reason, "confirmation sent to the member") {
		t.Errorf("reason %q does not say the lookups timed out and the member was asked", o.reason)
	}
	if took > 5*time.Second {
		t.Errorf("processing took %v with a 500ms DNS bound", took)
	}
	t.Logf("processed in %v with DNS never answering (bound 500ms)", took)
	if n := mtCount(t, a, `SELECT count(*) FROM river_job WHERE kind = 'postern.process' AND (attempt > 1 OR coalesce(array_length(errors, 1), 0) > 0)`); n != 0 {
		t.Errorf("%d processing jobs failed or were retried", n)
	}
}

// TestHeldPostsWhenConfirmationCapped: a confirmed member's unverified
// posts are held; once the member's daily confirmation requests are used
// up, the next one is held with a reason saying no request was sent, and
// `postern inbound list --held` lists every held post for the operator.
func TestHeldPostsWhenConfirmationCapped(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := trustApp(t, relay, "", nil)
	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	mids := []string{"one@client.example", "two@client.example", "three@client.example"}
	for _, mid := range mids {
		sendMail(t, a, alice, []string{"ask@forum.test"}, question("Alice <"+alice+">", mid, "Unsigned "+mid))
		mtSettle(t, a)
	}
	for i, mid := range mids {
		o := wantOutcome(t, a, mid, "held", "none")
		capped := strings.Contains(o.reason, "confirmation NOT sent: per-address limit (3 a day)")
		if capped != (i == 2) {
			t.Errorf("%s: reason %q (capped: %v, want %v)", mid, o.reason, capped, i == 2)
		}
	}
	if n := len(confirmations(relay, alice)); n != 3 {
		t.Errorf("alice received %d confirmation requests, want 3 (the cap)", n)
	}
	var out, errb bytes.Buffer
	if err := runCLI(t, context.Background(), []string{"inbound", "list", "--held", "--json", "--database-url", a.cfg.Store.DatabaseURL, "--domain", "forum.test"}, &out, &errb); err != nil {
		t.Fatalf("inbound list --held: %v %s", err, errb.String())
	}
	var held []threads.InboundSummary
	if err := json.Unmarshal(out.Bytes(), &held); err != nil {
		t.Fatalf("inbound list --held --json: %v\n%s", err, out.String())
	}
	// Message-IDs are shown redacted (they look like addresses): match
	// the rows by id.
	got := map[int64]bool{}
	for _, m := range held {
		got[m.ID] = m.PostState == "held" && !strings.Contains(m.MessageID, "@")
	}
	for _, mid := range mids {
		if !got[int64(Count(t, a, `SELECT id FROM inbound WHERE message_id IN ($1, '<' || $1 || '>')`, mid))] {
			t.Errorf("inbound list --held lacks %s:\n%s", mid, out.String())
		}
	}
	if len(held) != len(mids) {
		t.Errorf("inbound list --held lists %d messages, want %d:\n%s", len(held), len(mids), out.String())
	}
}

// TestForgeryAttempts reads the evidence rules as an attacker would, over
// real SMTP from an untrusted network, Postern verifying DKIM against a
// fake DNS where example.org is a shared provider that signs for all its
// users (Mallory has a mailbox there too):
//   - Mallory's own signed mail with a second From (Alice's) added on
//     top: DKIM signs the bottom From, Postern would credit the top one;
//   - a message under Alice's name signed by another domain (d=
//     evil.example, not aligned);
//   - Alice's reply token, with Alice's envelope, but From: Bob;
//   - a message Alice signed for a friend (To: the friend), replayed to
//     ask@ (DKIM result "policy");
//   - a stop under Bob's address (unsubscribe@, envelope Mallory's), and
//     a stop through Alice's List-Unsubscribe mailto sent from Mallory's
//     address.
//
// The first three are held (no evidence); the stops act (anyone may stop
// mail) but are never silent: Bob and Alice are each told what happened
// and how to undo it, and Mallory receives nothing.
func TestForgeryAttempts(t *testing.T) {
	t.Parallel()
	dns, key := dkimDNS(t)
	evilPub, evilKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dns["sel._domainkey.evil.example"] = []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(evilPub)}
	relay := startSink(t)
	a := trustApp(t, relay, "", func(c *Config) { c.resolver = dns })
	const alice, bob, mallory = "alice@example.org", "bob@example.net", "mallory@example.org"
	member(t, a, relay, alice, "Alice", "Alice asks")
	member(t, a, relay, bob, "Bob", "Bob asks")
	follow(t, a, relay, bob)
	posted, _ := relay.waitFor(t, alice, subjectHas("] Alice asks"))
	aliceToken := strings.Trim(header(posted, "Reply-To"), "<>")
	_, aliceStop := listUnsub(t, posted)

	own := signDKIM(t, question("Mallory <"+mallory+">", "two-from@client.example", "Two From fields"), "example.org", "sel", key)
	sendMail(t, a, mallory, []string{"ask@forum.test"}, "From: Alice <"+alice+">\r\n"+own)
	sendMail(t, a, mallory, []string{"ask@forum.test"}, signDKIM(t, question("Alice <"+alice+">", "unaligned@client.example", "Signed by another domain"), "evil.example", "sel", evilKey))
	sendMail(t, a, alice, []string{aliceToken}, "From: Bob <"+bob+">\r\nTo: "+aliceToken+"\r\nSubject: Re: Alice asks\r\nMessage-ID: <token-other-from@client.example>\r\n\r\nUnder Bob's name with Alice's token.\r\n")
	toFriend := strings.Replace(question("Alice <"+alice+">", "replayed@client.example", "A private letter"), "To: ask@forum.test", "To: Friend <friend@elsewhere.example>", 1)
	sendMail(t, a, mallory, []string{"ask@forum.test"}, signDKIM(t, toFriend, "example.org", "sel", key))
	mtSettle(t, a)
	for _, mid := range []string{"two-from@client.example", "unaligned@client.example", "token-other-from@client.example", "replayed@client.example"} {
		wantOutcome(t, a, mid, "held", "none")
	}

	sendMail(t, a, mallory, []string{"unsubscribe@forum.test"}, "From: Bob <"+bob+">\r\nTo: unsubscribe@forum.test\r\nSubject: unsubscribe\r\nMessage-ID: <stop-bob@client.example>\r\n\r\nunsubscribe\r\n")
	sendMail(t, a, mallory, []string{aliceStop}, "From: Mallory <"+mallory+">\r\nTo: "+aliceStop+"\r\nSubject: unsubscribe\r\nMessage-ID: <stop-alice@client.example>\r\n\r\nunsubscribe\r\n")
	mtSettle(t, a)
	for mid, who := range map[string]string{"stop-bob@client.example": bob, "stop-alice@client.example": alice} {
		o := outcomeOf(t, a, mid)
		if o.state != "processed" || !strings.Contains(o.reason, "member told") {
			t.Errorf("%s: %+v; want the stop done and the member told", mid, o)
		}
		told := false
		for _, m := range relay.all() {
			if len(m.To) == 1 && m.To[0] == who {
				text := decodedText(t, m.Data)
				told = told || strings.Contains(text, "if it was not you")
			}
		}
		if !told {
			t.Errorf("%s: %s was not told of the stop", mid, who)
		}
	}
	if n := mtCount(t, a, `SELECT count(*) FROM subscriptions s JOIN people p ON p.id = s.person_id WHERE p.display_name = 'Bob' AND s.ended_at IS NULL`); n != 0 {
		t.Errorf("Bob still has %d follows: the stop did not act", n)
	}
	for _, m := range relay.all() {
		if len(m.To) > 0 && m.To[0] == mallory {
			t.Errorf("mail sent to the forger: %q", m.Data)
		}
	}
}
