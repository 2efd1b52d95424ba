package systemtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
)

// TestBackupRestore runs README's backup routine: `pg_dump -Fc` of a live
// forum (a question, an answer, the notification of it), `pg_restore`
// into a fresh database, and `postern serve` on it with the same secret
// file and sealing keys file. The thread is there, on the web too, and
// a reply to the old notification's Reply-To address (its reply token)
// is accepted and posted as a comment under the answer, whose author is
// told: sealed addresses opened with the restored keys. With another
// secret the same token is refused at RCPT: what is lost without it.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keysFile := filepath.Join(t.TempDir(), "sealing-keys")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(keysFile, []byte("2 "+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	relay := startSink(t)
	a, _ := testAppWith(t, relay, func(c *Config) { c.Store.SealingKeysFile = keysFile })
	ans, qid, answerID := backupForum(t, a, relay)
	replyTo := strings.Trim(header(ans, "Reply-To"), "<>")
	if !strings.HasPrefix(replyTo, "reply+") {
		t.Fatalf("answer notification Reply-To %q", replyTo)
	}

	// The nightly dump, and the restore into a fresh database.
	dump := filepath.Join(t.TempDir(), "postern.dump")
	pgTool(t, "pg_dump", "-Fc", "--file="+dump, "--dbname="+a.Config().Store.DatabaseURL)
	restored := threadstest.URL(t)
	pgTool(t, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname="+restored, dump)

	relay2 := startSink(t)
	b, _ := testAppWith(t, relay2, func(c *Config) {
		c.Store.DatabaseURL = restored
		c.Store.SecretFile = a.Config().Store.SecretFile
		c.Store.SealingKeysFile = keysFile
	})
	th, err := b.store.GetThread(ctx, qid)
	if err != nil || th.Title != "Waking at 4am" || len(th.Answers) != 1 || th.Answers[0].ID != answerID {
		t.Fatalf("restored thread: %+v %v", th, err)
	}
	if code, page := httpGet(t, fmt.Sprintf("http://%s/q/%d", b.httpAddr, qid)); code != http.StatusOK || !strings.Contains(page, "Keep the same wake-up time") {
		t.Errorf("restored thread page: %d, without the answer:\n%s", code, page)
	}

	sendMail(t, b, "alice@example.org", []string{replyTo}, fmt.Sprintf(
		"From: Alice Adams <alice@example.org>\nTo: %s\nSubject: Re: Waking at 4am\nMessage-ID: <alice-c1@a.example>\nIn-Reply-To: %s\n\nThanks Bob, after the restore too.\n",
		replyTo, header(ans, "Message-Id")))
	waitProcessed(t, b)
	if n := mtCount(t, b, `SELECT count(*) FROM posts WHERE kind = 'comment' AND parent_id = $1 AND body LIKE 'Thanks Bob, after the restore too.%'`, answerID); n != 1 {
		t.Fatalf("reply to the old token: %d comments under the answer", n)
	}
	relay2.WaitFor(t, 0, func(m smtptest.Message) bool {
		return slices.Equal(m.To, []string{"bob@example.net"}) && bytes.Contains(m.Data, []byte("after the restore too"))
	})

	// Without the secret: the same dump, another secret, the token refused.
	other := threadstest.URL(t)
	pgTool(t, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname="+other, dump)
	otherSecret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(otherSecret, []byte(strings.Repeat("o", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := testAppWith(t, startSink(t), func(c *Config) {
		c.Store.DatabaseURL = other
		c.Store.SecretFile = otherSecret
		c.Store.SealingKeysFile = keysFile
	})
	err = smtptest.Send(c.smtpAddr.String(), smtptest.Mail{From: "alice@example.org", To: []string{replyTo},
		Data: smtptest.CRLF("From: <alice@example.org>\nSubject: Re\nMessage-ID: <alice-c2@a.example>\n\nhello\n")})
	if err == nil || !strings.Contains(err.Error(), "reply address is invalid") {
		t.Errorf("reply token under another secret: %v, want a refusal", err)
	}
}

// backupForum makes the forum the backup test dumps: alice's question,
// bob's answer (both confirmed members) and the notification of the
// answer to alice, which it returns with the question's and answer's ids.
func backupForum(t *testing.T, a *App, relay *Sink) (ans *mail.Reader, qid, answerID int64) {
	t.Helper()
	member(t, a, relay, "alice@example.org", "Alice Adams", "Waking at 4am")
	member(t, a, relay, "bob@example.net", "Bob Baker", "Naps")
	var mid string
	if err := a.pool.QueryRow(context.Background(), `SELECT id, message_id FROM posts WHERE title = 'Waking at 4am'`).Scan(&qid, &mid); err != nil {
		t.Fatal(err)
	}
	sendMail(t, a, "bob@example.net", []string{"notifications@forum.test"}, fmt.Sprintf(
		"From: Bob Baker <bob@example.net>\nTo: notifications@forum.test\nSubject: Re: Waking at 4am\nMessage-ID: <bob-a1@b.example>\nIn-Reply-To: <%s>\n\nKeep the same wake-up time.\n", mid))
	ans, _ = relay.waitFor(t, "alice@example.org", func(_ *mail.Reader, raw []byte) bool {
		return bytes.Contains(raw, []byte("Keep the same wake-up time"))
	})
	waitDrained(t, a)
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM posts WHERE kind = 'answer' AND question_id = $1`, qid).Scan(&answerID); err != nil {
		t.Fatal(err)
	}
	return ans, qid, answerID
}

// pgTool runs the PostgreSQL client tool name (pg_dump, pg_restore) of
// the installation pgcluster uses ($POSTERN_PG_BINDIR, else the newest
// /usr/lib/postgresql/*/bin, else PATH) with args. They connect over TCP
// with the URL given, so they need no particular system user.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	bin := name
	if d := os.Getenv("POSTERN_PG_BINDIR"); d != "" {
		bin = filepath.Join(d, name)
	} else if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(dirs) > 0 {
		slices.SortFunc(dirs, func(x, y string) int {
			vx, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(x))))
			vy, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(y))))
			return vy - vx
		})
		bin = dirs[0]
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}
