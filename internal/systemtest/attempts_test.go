package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcessGivesUp: a message whose processing fails every time (a
// trigger refuses its post, with an address in the error) is tried
// POSTERN_PROCESS_MAX_ATTEMPTS times (2 here), then marked failed with a
// reason that holds no address, while another message is processed;
// `postern inbound list --failed` shows it, and once the cause is gone
// `postern inbound retry ID` publishes it.
func TestProcessGivesUp(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, logs := testAppWith(t, relay, func(c *Config) { c.Process.MaxAttempts = 2 })
	ctx := context.Background()
	alice := "alice@example.org"
	member(t, a, relay, alice, "Alice", "First night")
	if _, err := a.pool.Exec(ctx, `
		CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.title = 'Poison pill' THEN RAISE EXCEPTION 'post refused for alice@example.org'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_poison BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION refuse_poison();`); err != nil {
		t.Fatal(err)
	}
	ask := func(title, mid string) {
		sendMail(t, a, alice, []string{"ask@forum.test"}, fmt.Sprintf("From: Alice <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: <%s>\n\nAbout %s.\n", alice, title, mid, title))
	}
	ask("Poison pill", "poison@a.example")
	ask("Healthy sleep", "healthy@a.example")

	var id int64
	var state, reason string
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := a.pool.QueryRow(ctx, `SELECT id, state, reason FROM inbound WHERE message_id = 'poison@a.example'`).Scan(&id, &state, &reason); err != nil {
			t.Fatal(err)
		}
		if state != "accepted" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state != "failed" || !strings.Contains(reason, "processing failed 2 times") || !strings.Contains(reason, "post refused") {
		t.Fatalf("poison message: %s (%s), want failed after 2 attempts", state, reason)
	}
	if strings.Contains(reason, "@") {
		t.Errorf("failure reason holds an address: %q", reason)
	}
	// The job's end is recorded by River's completer, after the row.
	var attempts, maxAttempts int
	var jobState string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := a.pool.QueryRow(ctx, `SELECT attempt, max_attempts, state FROM river_job WHERE kind = 'postern.process' AND (args->>'inbound_id')::bigint = $1`, id).
			Scan(&attempts, &maxAttempts, &jobState); err != nil {
			t.Fatal(err)
		}
		if jobState != "running" || time.Now().After(deadline) {
			break
		}
	}
	if attempts != 2 || maxAttempts != 2 || jobState != "discarded" {
		t.Errorf("poison job: attempt %d of %d, %s; want 2 of 2, discarded", attempts, maxAttempts, jobState)
	}
	if st, r, post := mtOutcome(t, a, "healthy@a.example"); st != "processed" || post == 0 {
		t.Errorf("the other message: %s (%s), post %d", st, r, post)
	}

	db := []string{"--database-url", a.cfg.Store.DatabaseURL, "--domain", "forum.test"}
	var out, errb bytes.Buffer
	if err := runCLI(t, ctx, append([]string{"inbound", "list"}, append(db, "--failed")...), &out, &errb); err != nil {
		t.Fatalf("inbound list --failed: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), strconv.FormatInt(id, 10)+" ") || !strings.Contains(out.String(), "processing failed 2 times") || strings.Contains(out.String(), "@") {
		t.Errorf("inbound list --failed:\n%s", out.String())
	}

	if _, err := a.pool.Exec(ctx, `DROP TRIGGER refuse_poison ON posts`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runCLI(t, ctx, append([]string{"inbound", "retry"}, append(db, strconv.FormatInt(id, 10))...), &out, &errb); err != nil {
		t.Fatalf("inbound retry: %v %s", err, errb.String())
	}
	waitProcessed(t, a)
	if st, r, post := mtOutcome(t, a, "poison@a.example"); st != "processed" || post == 0 {
		t.Errorf("retried message: %s (%s), post %d", st, r, post)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !strings.Contains(logs.buf.String(), "inbound message failed after its last processing attempt") {
		t.Errorf("the failure was not logged")
	}
	if strings.Contains(logs.buf.String(), alice) {
		t.Errorf("an address was logged")
	}
	if n := mtCount(t, a, `SELECT count(*) FROM river_job WHERE errors::text LIKE '%'||$1||'%'`, alice); n != 0 {
		t.Errorf("%d jobs keep an address in their errors", n)
	}
}
