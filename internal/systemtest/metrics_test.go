package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postern/postern/internal/smtptest"
)

// transactRefused offers rcpts in one transaction from addr (no DATA when
// every one is refused) and counts the 5xx and 4xx replies.
func transactRefused(t *testing.T, addr, from string, rcpts []string) (refused5, deferred int) {
	t.Helper()
	c, err := smtptest.Dialer{Helo: "mx.example.net"}.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errs, _ := c.Transact(smtptest.Mail{From: from, To: rcpts, Data: []byte("Subject: x\r\n\r\nx\r\n"), Partial: true})
	for _, e := range errs {
		switch smtptest.Code(e) / 100 {
		case 4:
			deferred++
		case 5:
			refused5++
		}
	}
	return refused5, deferred
}

// TestMetrics: the metrics listener (never the public one) counts the
// sessions, messages by outcome, processing, notifications and web
// requests by route, reports the queues and the Go runtime, and no line
// carries an address, a token or a subject.
func TestMetrics(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	member(t, a, relay, "gus@example.org", "Gus", "Why do I dream at noon?")
	// A bounce of the last notification (to its VERP envelope sender), a
	// network guessing reply tokens past its limit, a header block too big.
	notes := relay.all()
	verp := notes[len(notes)-1].From
	sendMail(t, a, "", []string{verp}, mtDSN(1, verp))
	big := "From: Gus <gus@example.org>\r\nTo: ask@forum.test\r\nSubject: Big\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("x", 60)+"\r\n", 20000) + "\r\nA header block of 1.4 MB.\r\n"
	if err := smtptest.Send(a.smtpAddr.String(), smtptest.Mail{From: "gus@example.org", To: []string{"ask@forum.test"}, Data: []byte(big)}); smtptest.Code(err) != 552 {
		t.Errorf("a header block of 1.4 MB: %v, want 552", err)
	}
	guesses := make([]string, 31)
	for i := range guesses {
		guesses[i] = fmt.Sprintf("reply+guess%d@forum.test", i)
	}
	if _, deferred := transactRefused(t, a.smtpAddr.String(), "gus@example.org", guesses); deferred == 0 {
		t.Error("31 bad tokens from one network: none deferred")
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, p := range []string{"/q/1", "/q/1", "/no/such/page"} {
		resp, err := c.Get("http://" + a.httpAddr.String() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	pub, err := c.Get("http://" + a.httpAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	pub.Body.Close()
	if pub.StatusCode != 404 {
		t.Errorf("the public listener serves /metrics: %s", pub.Status)
	}
	waitDrained(t, a)
	resp, err := c.Get("http://" + a.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	value := func(series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	for _, c := range []struct {
		series string
		min    float64
	}{
		{`postern_sessions_total{protocol="smtp"}`, 2},
		{`postern_messages_total{outcome="accepted",protocol="smtp"}`, 2},
		{`postern_processed_total{outcome="processed"}`, 2},
		{`postern_notifications_total{outcome="sent"}`, 2},
		{`postern_web_requests_total{route="GET /q/{id}",status="200"}`, 2},
		{`postern_web_requests_total{route="none",status="404"}`, 1},
		{`postern_group_commit_rows_count`, 2},
		{`postern_database_up`, 1},
		{`postern_bounces_recorded{kind="hard"}`, 1},
		{`postern_rate_limited_total{kind="bad_token"}`, 1},
		{`postern_messages_refused_total{code="5.3.4",protocol="smtp"}`, 1},
		{`go_goroutines`, 1},
	} {
		if v := value(c.series); v < c.min {
			t.Errorf("%s = %v, want at least %v", c.series, v, c.min)
		}
	}
	for _, leak := range []string{"@", "dream", "reply+", "confirm/"} {
		if strings.Contains(text, leak) {
			t.Errorf("the metrics carry %q", leak)
		}
	}
}
