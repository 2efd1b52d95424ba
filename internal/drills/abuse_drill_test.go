package drills

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtptest"
)

// TestDrillAbuse (drill 7): open-relay probes, a forged From with a
// stolen reply token, brute-forced tokens over SMTP and HTTP, a
// confirmation flood towards one victim, and two auto-responders that
// set no Auto-Submitted answering each other's notifications.
func TestDrillAbuse(t *testing.T) {
	start := time.Now()
	w := newWorld(t)
	// The limits on; only 127.0.0.1 trusted (the members' and the
	// responders' mail comes from there), so that the attackers' other
	// loopback addresses are no evidence.
	in := w.startInstance("a", "--rate-limits", "on", "--trusted-networks", "127.0.0.1/32", "--rate-bad-tokens-per-ip", "20")
	rec := &mailLog{replyTo: map[string]string{}, count: map[string]int{}}
	w.relay.SetData(func(m smtptest.Message) *smtp.SMTPError { rec.add(m); return w.ids.data(m) })
	w.confirmMembers(in)
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	tried := 0

	tried += relayProbes(in.smtp, "127.0.1.1", fail)
	tried += stolenToken(w, in, rec, fail)
	tried += bruteForce(in, fail)
	tried += confirmFlood(w, in, rec, fail)
	loop := responderLoop(w, in, rec, fail)
	tried += loop
	w.drain(2 * time.Minute)
	for _, p := range problems {
		t.Error(p)
	}
	if !in.running() {
		t.Fatalf("the instance died:\n%s", in.logText())
	}
	received, dups := w.ids.counts()
	w.record(result{Drill: "7 abuse", Load: "the askers' first questions; two auto-responders",
		Faults:   fmt.Sprintf("%d hostile inputs: relay probes, a stolen reply token under a forged From, brute-forced tokens (SMTP, HTTP), a confirmation flood, an auto-responder loop (%d auto-replies)", tried, loop),
		Received: received, Duplicates: dups, Took: time.Since(start)}, in)
}

// record adds r, with the instance's stored and processed rows and its
// panics, to the table.
func (w *world) record(r result, in *instance) {
	w.t.Helper()
	ctx := context.Background()
	_ = w.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state <> 'accepted') FROM inbound`).Scan(&r.Stored, &r.Processed)
	r.Panics = strings.Count(in.logText(), "panic")
	if r.Panics > 0 {
		w.t.Errorf("%d panics in the instance's log", r.Panics)
	}
	record(r)
}

// relayProbes tries recipients an open relay would take: each must be
// refused with 5xx.
func relayProbes(addr, local string, fail func(string, ...any)) int {
	probes := []string{
		"victim@other.example", "victim%other.example@" + Domain, "@" + Domain + ":victim@other.example",
		`"victim@other.example"@` + Domain, "other.example!victim@" + Domain, "victim@other.example@" + Domain,
		"victim@[192.0.2.1]", "postmaster@other.example", "victim@" + Domain + ".other.example",
	}
	r, err := mailFrom(addr, local, "spammer@evil.example")
	if err != nil {
		fail("relay probes: %v", err)
		return 0
	}
	defer r.Conn().Close()
	for _, p := range probes {
		reply, err := r.Cmd("RCPT TO:<"+p+">", 5*time.Second)
		if code, _ := smtptest.ReplyCode(reply); code < 500 || code > 599 {
			fail("relay probe <%s>: %q (%v), want 5xx", p, reply, err)
		}
	}
	return len(probes)
}

// stolenToken sends, from another envelope sender, a reply to a
// member's own reply token under their From: it must not be published
// under their name.
func stolenToken(w *world, in *instance, rec *mailLog, fail func(string, ...any)) int {
	victim := asker(1)
	tok := rec.reply(victim)
	if tok == "" {
		fail("stolen token: no reply address was sent to %s", victim)
		return 0
	}
	raw := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nMessage-ID: <forged@evil.example>\r\nSubject: Re: x\r\n\r\nThis is not really %s writing.\r\n", victim, tok, victim)
	if err := sendFrom(in.smtp, "127.0.1.3", "thief@evil.example", tok, raw); err != nil {
		fail("stolen token: %v", err)
		return 1
	}
	w.drain(time.Minute)
	var shown int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM posts WHERE body LIKE 'This is not really%' AND state IN ('visible', 'closed')`).Scan(&shown)
	if shown != 0 {
		fail("stolen token: the forged reply is published under the member's name")
	}
	return 1
}

// mailLog keeps, per recipient, the relay's count of mails and the last
// reply address sent (the relay discards the mail itself).
type mailLog struct {
	mu      sync.Mutex
	replyTo map[string]string
	count   map[string]int
}

func (l *mailLog) add(m smtptest.Message) {
	if len(m.To) != 1 {
		return
	}
	to := ""
	if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
		to = strings.Trim(msg.Header.Get("Reply-To"), "<>")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count[m.To[0]]++
	if strings.HasPrefix(to, "reply+") {
		l.replyTo[m.To[0]] = to
	}
}

func (l *mailLog) reply(rcpt string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replyTo[rcpt]
}

func (l *mailLog) sent(rcpt string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count[rcpt]
}

// bruteForce tries random reply tokens over SMTP and random links over
// HTTP from one network each: past the limit (20), SMTP answers 450 and
// HTTP 429 even for a good address.
func bruteForce(in *instance, fail func(string, ...any)) int {
	r, err := mailFrom(in.smtp, "127.0.1.2", "guesser@evil.example")
	if err != nil {
		fail("brute force: %v", err)
		return 0
	}
	defer r.Conn().Close()
	codes := map[int]int{}
	for i := range 25 {
		reply, _ := r.Cmd(fmt.Sprintf("RCPT TO:<reply+%026d@%s>", i, Domain), 5*time.Second)
		code, _ := smtptest.ReplyCode(reply)
		codes[code]++
	}
	if reply, _ := r.Cmd("RCPT TO:<ask@"+Domain+">", 5*time.Second); !strings.HasPrefix(reply, "450") {
		fail("brute force over SMTP: a good address after 25 bad tokens got %q, want 450", reply)
	}
	if codes[550] != 20 || codes[450] != 5 {
		fail("brute force over SMTP: replies %v, want 20 × 550 then 450", codes)
	}
	statuses := map[int]int{}
	for i := range 25 {
		resp, err := http.Get(fmt.Sprintf("http://%s/confirm/%026d", in.http, i))
		if err != nil {
			fail("brute force over HTTP: %v", err)
			break
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[404] != 20 || statuses[429] != 5 {
		fail("brute force over HTTP: statuses %v, want 20 × 404 then 429", statuses)
	}
	return 50
}

// confirmFlood sends 30 questions under a victim's From, from 30
// networks: the victim is sent at most the daily cap of confirmation
// requests (3).
func confirmFlood(w *world, in *instance, rec *mailLog, fail func(string, ...any)) int {
	victim := "victim@flood.test"
	for i := range 30 {
		raw := fmt.Sprintf("From: <%s>\r\nTo: ask@%s\r\nMessage-ID: <flood-%d@evil.example>\r\nSubject: Flood %d\r\n\r\nPlease confirm this.\r\n", victim, Domain, i, i)
		// The per-sender hourly limit defers (450) the flood's later
		// messages at RCPT: that is one of the caps at work.
		if err := sendFrom(in.smtp, fmt.Sprintf("127.0.2.%d", 1+i), victim, "ask@"+Domain, raw); err != nil && !strings.Contains(err.Error(), `"450 `) {
			fail("confirmation flood: %v", err)
			return i
		}
	}
	w.drain(time.Minute)
	if got := rec.sent(victim); got > 3 || got == 0 {
		fail("confirmation flood: the victim was sent %d mails, want 1 to 3", got)
	}
	return 30
}

// responderLoop makes asker(2) and asker(3) auto-responders that answer
// every notification with the same text and no Auto-Submitted; asker(3)
// answers asker(2)'s question. Each auto-reply is posted at most once:
// the repeats are ignored as automatic, and the exchange stops. It
// returns the auto-replies sent.
func responderLoop(w *world, in *instance, rec *mailLog, fail func(string, ...any)) int {
	a, b := asker(2), asker(3)
	var replies atomic.Int64
	w.relay.SetData(func(m smtptest.Message) *smtp.SMTPError {
		rec.add(m)
		res := w.ids.data(m)
		if len(m.To) != 1 || (m.To[0] != a && m.To[0] != b) || replies.Load() > 20 {
			return res
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		to := ""
		if err == nil {
			to = strings.Trim(msg.Header.Get("Reply-To"), "<>")
		}
		if !strings.HasPrefix(to, "reply+") {
			return res
		}
		replies.Add(1)
		raw := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nMessage-ID: <auto-%d@away.test>\r\nIn-Reply-To: %s\r\nSubject: Re: your message\r\n\r\n"+
			"Thank you for your message. I read my mail once a week and will answer when I can.\r\n", m.To[0], to, replies.Load(), msg.Header.Get("Message-ID"))
		_ = smtptest.Send(in.smtp, smtptest.Mail{From: m.To[0], To: []string{to}, Data: []byte(raw)})
		return res
	})
	defer w.relay.SetData(func(m smtptest.Message) *smtp.SMTPError { rec.add(m); return w.ids.data(m) })
	var qmid string
	if err := w.pool.QueryRow(context.Background(), `SELECT p.message_id FROM posts p JOIN people a ON a.id = p.author_id
		WHERE p.kind = 'question' AND a.display_name = 'Asker 2' ORDER BY p.id LIMIT 1`).Scan(&qmid); err != nil {
		fail("responder loop: asker 2's question: %v", err)
		return 0
	}
	raw := fmt.Sprintf("From: Asker 3 <%s>\r\nTo: notifications@%s\r\nMessage-ID: <answer-b@load.test>\r\nReferences: <%s>\r\nSubject: Re: question\r\n\r\nTry a walk before bed.\r\n", b, Domain, qmid)
	if err := smtptest.Send(in.smtp, smtptest.Mail{From: b, To: []string{"notifications@" + Domain}, Data: []byte(raw)}); err != nil {
		fail("responder loop: %v", err)
		return 0
	}
	w.drainOr(2*time.Minute, func() { w.t.Logf("instance log:\n%s", lastLines(in.logText(), 40)) })
	var posted, ignored int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM posts WHERE body LIKE 'Thank you for your message.%'`).Scan(&posted)
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound WHERE state = 'ignored' AND reason LIKE '%same text%'`).Scan(&ignored)
	if n := replies.Load(); n > 20 || posted > 2 || ignored == 0 {
		fail("responder loop: %d auto-replies, %d posted, %d ignored as repeats; want the exchange to stop, at most one post per responder", n, posted, ignored)
	}
	return int(replies.Load())
}

// mailFrom connects from local, greets and starts a transaction from
// sender.
func mailFrom(addr, local, sender string) (*smtptest.Raw, error) {
	r, err := greeted(addr, local)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"EHLO probe.example", "MAIL FROM:<" + sender + ">"} {
		if reply, err := r.Cmd(c, 5*time.Second); !strings.HasPrefix(reply, "250") {
			r.Conn().Close()
			return nil, fmt.Errorf("%s: %q (%v)", c, reply, err)
		}
	}
	return r, nil
}

// sendFrom sends raw (CRLF lines, no line a lone dot) from sender to
// rcpt over a connection from local.
func sendFrom(addr, local, sender, rcpt, raw string) error {
	r, err := mailFrom(addr, local, sender)
	if err != nil {
		return err
	}
	defer r.Conn().Close()
	for _, c := range []struct{ line, want string }{{"RCPT TO:<" + rcpt + ">", "250"}, {"DATA", "354"}, {raw + ".", "250"}} {
		if reply, err := r.Cmd(c.line, 10*time.Second); !strings.HasPrefix(reply, c.want) {
			return fmt.Errorf("%s: %q (%v)", strings.SplitN(c.line, "\r", 2)[0], reply, err)
		}
	}
	return nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
