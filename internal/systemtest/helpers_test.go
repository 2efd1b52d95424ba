package systemtest

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// The tests were written against these names (in cmd/postern, before
// they moved here); they are the harness's.
type (
	app     = App
	sink    = Sink
	logSink = Logs
)

var (
	testAppWith   = Start
	startSink     = StartSink
	sendMail      = SendMail
	waitProcessed = WaitProcessed
	waitDrained   = WaitDrained
	member        = Member
	mtCount       = Count
	pgDump        = PgDump
)

// testApp is Start with the default configuration.
func testApp(t *testing.T, relay *sink) *app {
	t.Helper()
	a, _ := Start(t, relay, nil)
	return a
}

// postern builds cmd/postern once per test (into its TempDir, with -race
// when this test binary has it) and returns the binary's path.
var postern = func() func(t *testing.T) string {
	var mu sync.Mutex
	built := map[*testing.T]string{}
	return func(t *testing.T) string {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if bin, ok := built[t]; ok {
			return bin
		}
		bin := filepath.Join(t.TempDir(), "postern")
		args := []string{"build", "-o", bin}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		out, err := exec.Command("go", append(args, "github.com/postern/postern/cmd/postern")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go build cmd/postern: %v\n%s", err, out)
		}
		built[t] = bin
		t.Cleanup(func() {
			mu.Lock()
			delete(built, t)
			mu.Unlock()
		})
		return bin
	}
}()

// runCLI runs `postern args...` as an operator would against the running
// forum, its output to stdout and stderr; an error when it exits with a
// status other than 0.
func runCLI(t *testing.T, ctx context.Context, args []string, stdout, stderr io.Writer) error {
	t.Helper()
	cmd := exec.CommandContext(ctx, postern(t), args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("postern %s: %w", args[0], err)
	}
	return nil
}

// askSleepDiary sends erin's first question, "My sleep diary", with a
// text attachment, and returns the confirmation link of the request it
// gets (the question is held until erin confirms).
func askSleepDiary(t *testing.T, a *app, relay *sink, erin string) string {
	t.Helper()
	sendMail(t, a, erin, []string{"ask@forum.test"}, `From: Erin <`+erin+`>
To: ask@forum.test
Subject: My sleep diary
Message-ID: <diary@e.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8

Here is my diary of the last week.
--XX
Content-Type: text/plain; name="diary.txt"
Content-Disposition: attachment; filename="diary.txt"

Mon 4am, Tue 3am, Wed 5am.
--XX--
`)
	req, _ := relay.waitFor(t, erin, subjectHas("Please confirm"))
	text, _ := bodyText(t, req)
	link := regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(text)
	if link == "" {
		t.Fatalf("no confirmation link in:\n%s", text)
	}
	return link
}
