package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-message/mail"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/systemtest"
)

// forum is a running Postern with its relay.
type forum struct {
	a     *systemtest.App
	relay *systemtest.Sink
	used  map[string]bool // sign-in links opened (signIn)
}

func startForum(t *testing.T) *forum {
	t.Helper()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	return &forum{a: a, relay: relay, used: map[string]bool{}}
}

// base is the forum's HTTP address.
func (f *forum) base() string { return "http://" + f.a.HTTPAddr().String() }

// waitFor returns the first mail to rcpt alone whose raw text holds want.
func (f *forum) waitFor(t *testing.T, rcpt, want string) (*mail.Reader, []byte) {
	t.Helper()
	m := f.relay.WaitFor(t, 0, func(m smtptest.Message) bool {
		return len(m.To) == 1 && m.To[0] == rcpt && bytes.Contains(m.Data, []byte(want))
	})
	r, err := mail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mail does not parse: %v", err)
	}
	return r, m.Data
}

// reply sends body from addr as a reply to notification n.
func (f *forum) reply(t *testing.T, addr string, n *mail.Reader, body string) {
	t.Helper()
	to := strings.Trim(n.Header.Get("Reply-To"), "<>")
	systemtest.SendMail(t, f.a, addr, []string{to}, fmt.Sprintf("From: <%s>\nTo: %s\nSubject: Re: notification\nMessage-ID: <r%d@client.example>\nIn-Reply-To: %s\n\n%s\n",
		addr, to, time.Now().UnixNano(), n.Header.Get("Message-Id"), body))
	systemtest.WaitProcessed(t, f.a)
}

// confirm answers addr's confirmation request by reply.
func (f *forum) confirm(t *testing.T, addr string) {
	t.Helper()
	req, _ := f.waitFor(t, addr, "Please confirm")
	f.reply(t, addr, req, "yes")
}

// answerAsNewcomer posts body from addr (a newcomer: confirmed) as an
// answer to the question of forum Message-ID qmid.
func (f *forum) answerAsNewcomer(t *testing.T, addr, name, qmid, body string) {
	t.Helper()
	systemtest.SendMail(t, f.a, addr, []string{"notifications@forum.test"}, fmt.Sprintf("From: %s <%s>\nTo: notifications@forum.test\nSubject: Re: question\nMessage-ID: <a%d@client.example>\nReferences: <%s>\n\n%s\n",
		name, addr, time.Now().UnixNano(), qmid, body))
	f.confirm(t, addr)
}

// questionMessageID is the forum Message-ID of question id.
func (f *forum) questionMessageID(t *testing.T, id int64) string {
	t.Helper()
	var mid string
	if err := f.a.Pool().QueryRow(context.Background(), `SELECT message_id FROM posts WHERE id = $1`, id).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	return mid
}

// sleepForum builds the forum of the tests: alice asks in category Sleep
// with tags; carol and dave answer; alice votes +1 on dave's answer,
// accepts carol's and comments on it. It returns the question page's link
// from the notification of dave's answer to alice.
func sleepForum(t *testing.T, f *forum) string {
	t.Helper()
	if _, err := f.a.Store().AddCategory(context.Background(), "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	alice, carol, dave := "alice@example.org", "carol@example.com", "dave@example.info"
	systemtest.SendMail(t, f.a, alice, []string{"ask+sleep@forum.test"}, "From: Alice <"+alice+">\nTo: ask+sleep@forum.test\nSubject: Waking at 4am #insomnia\nMessage-ID: <q1@a.example>\n\nTags: night\n\nEvery night at 4am I am awake. What helps?\n\nOn Monday, Bob wrote:\n> an old quote\n")
	f.confirm(t, alice)
	qmid := f.questionMessageID(t, 1)
	f.answerAsNewcomer(t, carol, "Carol", qmid, "No screens after 9pm. See https://example.org/sleep for more.")
	carolAns, _ := f.waitFor(t, alice, "No screens after 9pm")
	f.answerAsNewcomer(t, dave, "Dave", qmid, "Magnesium before bed.")
	daveAns, raw := f.waitFor(t, alice, "Magnesium before bed")
	f.reply(t, alice, daveAns, "+1")
	f.reply(t, alice, carolAns, "accept")
	f.reply(t, alice, carolAns, "Thanks, trying it tonight.")
	systemtest.WaitDrained(t, f.a)
	link := regexp.MustCompile(`https?://forum\.test(/q/\d+)`).FindSubmatch(raw)
	if link == nil {
		t.Fatalf("notification carries no question link:\n%s", raw)
	}
	return string(link[1])
}

// tab is a tab of the package's browser that records console errors
// and warnings, uncaught exceptions, error log entries and dialogs (a
// dialog is dismissed).
type tab struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newTab(t *testing.T, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	if browser == nil {
		t.Fatal("no browser: " + chromiumPath + " is missing (run `make ensure-chromium`)")
	}
	ctx, cancel := chromedp.NewContext(browser, opts...)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	// Subscribed before anything loads: the iterators buffer events.
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, log.EntryAdded)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				tb.report("console " + string(ev.Type))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			tb.report("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
				tb.report("log: " + ev.Entry.Text)
			}
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.report("dialog: " + ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) report(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errors = append(tb.errors, s)
}

// do runs steps in the tab, each within a minute.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// value runs a in the tab and returns its value.
func value[T any](t *testing.T, tb *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// expectError removes the one error report holding want (a page the test
// expected to answer 4xx), failing t when there is none.
func (tb *tab) expectError(t *testing.T, want string) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for i, e := range tb.errors {
		if strings.Contains(e, want) {
			tb.errors = append(tb.errors[:i], tb.errors[i+1:]...)
			return
		}
	}
	t.Errorf("the browser reported no %q (reports: %q)", want, tb.errors)
}

// noErrors fails t when the browser reported an error or a dialog.
func (tb *tab) noErrors(t *testing.T) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errors) > 0 {
		t.Errorf("browser reported: %q", tb.errors)
	}
}

// get returns the body of GET url, failing unless the status is 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b)
}
