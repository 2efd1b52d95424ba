package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/drain"
	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/threads"
)

// bigKind is the shape of a generated large message.
type bigKind int

const (
	bigText       bigKind = iota // one text/plain body of the whole size
	bigAttachment                // a short text and one attachment too large to keep
	bigKept                      // a short text and two attachments that are kept
)

// writeBig writes a message of about size bytes of kind k to w, generated
// as it goes (the test holds none of it).
func writeBig(w io.Writer, head string, k bigKind, size int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	rng := rand.New(rand.NewPCG(seed, 1))
	written := 0
	put := func(s string) {
		n, _ := bw.WriteString(s)
		written += n
	}
	put(strings.ReplaceAll(head, "\n", "\r\n"))
	put("MIME-Version: 1.0\r\n")
	words := []string{"sleep", "night", "waking", "early", "tired", "routine", "light", "coffee", "tea", "dream"}
	textLines := func(until int) {
		for written < until {
			var sb strings.Builder
			for sb.Len() < 70 {
				sb.WriteString(words[rng.IntN(len(words))])
				sb.WriteByte(' ')
			}
			put(sb.String() + "\r\n")
		}
	}
	b64 := func(until int) {
		raw := make([]byte, 57)
		line := make([]byte, 76)
		for written < until {
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			base64.StdEncoding.Encode(line, raw)
			put(string(line) + "\r\n")
		}
	}
	switch k {
	case bigText:
		put("Content-Type: text/plain; charset=utf-8\r\n\r\nMy sleep log follows.\r\n\r\n")
		textLines(size - 2)
	default:
		put("Content-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n--BIG\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy sleep log is attached.\r\n")
		files := []string{"trace.bin"}
		if k == bigKept {
			files = []string{"scan1.pdf", "scan2.pdf"}
		}
		per := (size - written) / len(files)
		for i, f := range files {
			put("--BIG\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + f + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
			b64(written + per - 64 - i)
		}
		put("--BIG--\r\n")
	}
	return bw.Flush()
}

// sendBigRetrying delivers a generated message as a sending MTA would:
// a temporary refusal (451: the memory budget is taken) is tried again
// after a pause, up to a few minutes. It returns how many tries were
// refused.
func sendBigRetrying(addr, from, to, head string, k bigKind, size int, seed uint64) (int, error) {
	for refused := 0; ; refused++ {
		err := sendBig(addr, from, to, head, k, size, seed)
		var se *smtp.SMTPError
		if err == nil || !errors.As(err, &se) || se.Code/100 != 4 || refused == 60 {
			return refused, err
		}
		time.Sleep(2 * time.Second) // paces the retries, as a sending MTA does
	}
}

// settleLong waits, up to timeout, until every inbound message is
// processed and no notification is pending (large messages under the
// race detector take a while).
func settleLong(t *testing.T, a *app, timeout time.Duration) {
	t.Helper()
	drain.Wait(t, a.pool, timeout, workKinds...)
}

// sendBig delivers a generated message over SMTP, streaming it from
// writeBig.
func sendBig(addr, from, to, head string, k bigKind, size int, seed uint64) error {
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		pw.CloseWithError(writeBig(pw, head, k, size, seed))
	}()
	err := smtptest.Send(addr, smtptest.Mail{From: from, To: []string{to}, Body: pr, Size: int64(size)})
	pr.Close() // ends writeBig if the server refused before DATA
	<-wrote
	return err
}

// memPeak samples the Go runtime's memory until stopped: the heap's
// objects (live and not yet swept) and everything the runtime holds from
// the OS (what RSS sees of Go), at their highest.
type memPeak struct {
	heap, total, live atomic.Uint64
	stop              chan struct{}
	done              sync.WaitGroup
}

func startMemPeak() *memPeak {
	p := &memPeak{stop: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			heap := samples[0].Value.Uint64()
			total := samples[1].Value.Uint64() - samples[2].Value.Uint64()
			if live := samples[3].Value.Uint64(); live > p.live.Load() {
				p.live.Store(live)
			}
			if heap > p.heap.Load() {
				p.heap.Store(heap)
			}
			if total > p.total.Load() {
				p.total.Store(total)
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *memPeak) end() (heap, total, live uint64) {
	close(p.stop)
	p.done.Wait()
	return p.heap.Load(), p.total.Load(), p.live.Load()
}

const mib = 1 << 20

// TestConcurrentLargeMessagesStayInBudget sends six 24 MB messages at once
// (long text, an attachment too large to keep, attachments that are kept)
// as new questions with two followers, and measures the process's Go
// memory from intake to the last notification sent, with serve's default
// budget (POSTERN_MEMORY_BUDGET, which intake, processing and composing
// share) and soft limit (POSTERN_MEMORY_LIMIT).
//
// The live heap is what the budget bounds; it is read at each collection
// (/gc/heap/live), which counts what was allocated during the collection
// too, so it may pass the budget by that floating garbage: a quarter of
// the budget is allowed for it. What the runtime holds from the system
// (RSS) must stay near the soft limit. Before the shared budget and the
// cut of long texts, the live heap reached 680 MiB and each notification
// of the long-text posts was 49 MB.
func TestConcurrentLargeMessagesStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 144 MB of mail")
	}
	relay := startSinkMax(t, 64<<20)
	a, _ := testAppWith(t, relay, nil)
	cfg := a.cfg
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(cfg.Memory.Limit)))
	asker := "fran@example.com"
	mtAskConfirmed(t, a, relay, asker, "Fran", "First question", "Hello.")
	mtFollow(t, a, relay, "gil@example.com", "Gil")
	mtFollow(t, a, relay, "hal@example.com", "Hal")
	mtSettle(t, a)
	before := len(relay.all())
	debug.FreeOSMemory()
	base := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(base)
	baseLive := base[0].Value.Uint64()

	const size = 24_000_000
	kinds := []bigKind{bigText, bigAttachment, bigKept, bigText, bigAttachment, bigKept}
	peak := startMemPeak()
	start := time.Now()
	errs := make([]error, len(kinds))
	refused := make([]int, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head := fmt.Sprintf("From: Fran <%s>\nTo: ask@forum.test\nSubject: Large message %d\nMessage-ID: <big-%d@client.test>\n", asker, i, i)
			refused[i], errs[i] = sendBigRetrying(a.smtpAddr.String(), asker, "ask@forum.test", head, k, size, uint64(i))
		}()
	}
	wg.Wait()
	settleLong(t, a, 5*time.Minute)
	heap, total, live := peak.end()
	t.Logf("6 × 24 MB: peak live heap %d MiB (%d MiB before), heap %d MiB, Go memory %d MiB; budget %d MiB, soft limit %d MiB; %s, tries refused %v",
		live/mib, baseLive/mib, heap/mib, total/mib, cfg.Memory.Budget/mib, cfg.Memory.Limit/mib, time.Since(start).Round(time.Millisecond), refused)
	for i, err := range errs {
		if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if limit := baseLive + uint64(cfg.Memory.Budget)*5/4; live > limit {
		t.Errorf("peak live heap %d MiB, over the %d MiB budget (+25%%)", live/mib, cfg.Memory.Budget/mib)
	}
	if limit := uint64(cfg.Memory.Limit) * 6 / 5; total > limit {
		t.Errorf("the runtime held %d MiB, over the %d MiB soft limit (+20%%)", total/mib, cfg.Memory.Limit/mib)
	}
	notes := relay.all()[before:]
	if len(notes) != 3*len(kinds) {
		t.Errorf("%d notifications, want %d (the asker and two followers for each)", len(notes), 3*len(kinds))
	}
	for _, m := range notes {
		if len(m.Data) > 256<<10 {
			t.Errorf("a notification of %d bytes: notifications carry at most %d bytes of text", len(m.Data), threads.MaxPostTextBytes)
		}
	}
}

// startSinkMax is startSink with a larger message limit and a minute's
// timeouts.
func startSinkMax(t *testing.T, maxBytes int64) *sink {
	t.Helper()
	return &sink{smtptest.Start(t, smtptest.Options{MaxMessageBytes: maxBytes, MaxRecipients: 10, Timeout: time.Minute})}
}

// TestLargePostNotificationsAreSmall: a question with a long text and a
// large attachment (over 4 MB, so received in chunks) is notified to its asker and a follower in small mails
// that carry no file: they list the attachment and the whole text
// (message.txt) with links to the running web server, which answers each
// with its bytes.
func TestLargePostNotificationsAreSmall(t *testing.T) {
	t.Parallel()
	relay := startSinkMax(t, 64<<20)
	a := testApp(t, relay)
	ctx := context.Background()
	ivy, jon := "ivy@example.com", "jon@example.com"
	mtAskConfirmed(t, a, relay, ivy, "Ivy", "First question", "Hello.")
	mtFollow(t, a, relay, jon, "Jon")

	var text strings.Builder
	for i := 0; text.Len() < 300<<10; i++ {
		fmt.Fprintf(&text, "Night %d: woke at 4am, read for an hour, slept again at 5.\n", i)
	}
	scan := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range scan {
		scan[i] = byte(rng.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(scan)
	var b64 strings.Builder
	for len(enc) > 76 {
		b64.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b64.WriteString(enc + "\n")
	sendMail(t, a, ivy, []string{"ask@forum.test"}, "From: Ivy <"+ivy+">\nTo: ask@forum.test\nSubject: Large post\nMessage-ID: <large@client.test>\n"+
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"L\"\n\n--L\nContent-Type: text/plain; charset=utf-8\n\n"+text.String()+
		"--L\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"scan.pdf\"\nContent-Transfer-Encoding: base64\n\n"+b64.String()+"--L--\n")
	mtSettle(t, a)

	var body string
	var chunks int
	if err := a.pool.QueryRow(ctx, `SELECT p.body, coalesce(i.chunks, 0) FROM posts p JOIN inbound i ON i.post_id = p.id WHERE i.message_id = 'large@client.test'`).Scan(&body, &chunks); err != nil {
		t.Fatal(err)
	}
	// Over threads.StreamFrom: received in chunks, processed from them.
	if chunks < 4 {
		t.Errorf("the message was stored in %d chunks, want 4 or more", chunks)
	}
	if len(body) > threads.MaxPostTextBytes+1024 || !strings.Contains(body, "message.txt") {
		t.Errorf("post body of %d bytes, ending %q", len(body), body[max(0, len(body)-200):])
	}
	base := "http://" + a.httpAddr.String()
	for _, rcpt := range []string{ivy, jon} {
		r, raw := relay.waitFor(t, rcpt, subjectHas("Large post"))
		if len(raw) > 256<<10 {
			t.Errorf("notification to %s is %d bytes", rcpt, len(raw))
		}
		var plain string
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ct := p.Header.Get("Content-Type")
			if _, isFile := p.Header.(*mail.AttachmentHeader); isFile || !strings.HasPrefix(ct, "text/") {
				t.Errorf("notification to %s carries a %q part", rcpt, ct)
			}
			if strings.HasPrefix(ct, "text/plain") {
				b, _ := io.ReadAll(p.Body)
				plain = string(b)
			}
		}
		for name, want := range map[string][]byte{"scan.pdf": scan, "message.txt": []byte(text.String())} {
			m := regexp.MustCompile(regexp.QuoteMeta(name) + ` \([^)]*\): (https?://\S+/a/\d+)`).FindStringSubmatch(plain)
			if m == nil {
				t.Errorf("notification to %s lists no link to %s:\n%s", rcpt, name, plain[max(0, len(plain)-1500):])
				continue
			}
			u, _ := url.Parse(m[1])
			if !strings.HasPrefix(m[1], a.cfg.Forum.BaseURL+"/a/") {
				t.Errorf("link %s is not under the base URL", m[1])
			}
			resp, err := http.Get(base + u.Path)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("GET %s: %d, %d bytes; want 200 and the %d bytes of %s", u.Path, resp.StatusCode, len(got), len(want), name)
			}
		}
	}
}
