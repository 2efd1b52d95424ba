package systemtest

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMetrics: the metrics listener (never the public one) counts the
// sessions, messages by outcome, processing, notifications and web
// requests by route, reports the queues and the Go runtime, and no line
// carries an address, a token or a subject.
func TestMetrics(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	member(t, a, relay, "gus@example.org", "Gus", "Why do I dream at noon?")
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
