package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// archiveStats describes a generated mailbox.
type archiveStats struct {
	messages, bytes              int64
	roots, withRefs, subjectOnly int64
	outOfOrder, noMessageID      int64
}

// archivePeople is how many different senders a generated archive has.
const archivePeople = 2000

// writeArchive writes a mailing-list archive of n messages to path, as
// mboxrd: threads of varied depth interleaved in time (about 50 open at
// once, a new one every seventh message or so), replies of 2-4 KB with
// their own text first, an attribution line naming the quoted sender,
// quoted text and the list footer. Most replies carry In-Reply-To and
// References; about one in ten has only a "Re:" subject; about one in
// fifty comes before its parent; one in two hundred has no Message-ID.
// The same seed gives the same archive.
func (g *generator) writeArchive(path string, n int, seed uint64) (archiveStats, error) {
	f, err := os.Create(path)
	if err != nil {
		return archiveStats{}, fmt.Errorf("create archive: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	a := &archiveGen{g: g, r: mrand.New(mrand.NewPCG(seed, 11)), at: time.Date(2019, 1, 1, 8, 0, 0, 0, time.UTC)}
	var held []byte // a reply written after the message that follows it
	for i := 0; i < n; i++ {
		a.at = a.at.Add(time.Duration(30+a.r.IntN(600)) * time.Second)
		name, addr := a.person()
		m := archiveMsg{id: fmt.Sprintf("a%d.%s@mail%d.example", i, g.nonce, i%13), from: addr}
		th, parent := a.place(&m)
		out := a.render(&m, parent, name, addr)
		a.st.messages++
		a.st.bytes += int64(len(out))
		th.msgs = append(th.msgs, m)
		if parent != nil && held == nil && i+1 < n && a.r.IntN(50) == 0 {
			// Hold this reply until after the next message, a reply to
			// it: a child comes before its parent.
			held, a.force = []byte(out), th
			a.st.outOfOrder++
			continue
		}
		if _, err := w.WriteString(out); err != nil {
			return a.st, fmt.Errorf("write archive: %w", err)
		}
		if held != nil {
			if _, err := w.Write(held); err != nil {
				return a.st, fmt.Errorf("write archive: %w", err)
			}
			held = nil
		}
	}
	if held != nil {
		if _, err := w.Write(held); err != nil {
			return a.st, fmt.Errorf("write archive: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return a.st, fmt.Errorf("write archive: %w", err)
	}
	return a.st, f.Close()
}

// archiveMsg is one message of a generated archive, as later replies see it.
type archiveMsg struct {
	id, subject, from string
	refs              []string
}

// archiveThread is one thread of a generated archive.
type archiveThread struct {
	topic int
	msgs  []archiveMsg
	left  int // replies still to come
}

// archiveGen is writeArchive's state. Its methods draw from r in a fixed
// order, so that the same seed gives the same archive.
type archiveGen struct {
	g      *generator
	r      *mrand.Rand
	st     archiveStats
	open   []*archiveThread
	topics int
	at     time.Time
	b      strings.Builder
	force  *archiveThread // the next message replies to the held one, in this thread
}

// person picks a sender.
func (a *archiveGen) person() (name, addr string) {
	p := a.r.IntN(archivePeople)
	return fmt.Sprintf("Person %04d", p), fmt.Sprintf("person%04d@members%d.example", p, p%37)
}

// place puts m in a thread (a new one or an open one, or the forced one
// after a held reply), sets its subject and returns the thread and the
// message m replies to (nil for a thread's first message).
func (a *archiveGen) place(m *archiveMsg) (th *archiveThread, parent *archiveMsg) {
	r := a.r
	if a.force != nil {
		th, parent = a.force, &a.force.msgs[len(a.force.msgs)-1]
		m.subject = "Re: " + th.msgs[0].subject
		a.force = nil
	} else if len(a.open) < 20 || r.IntN(7) == 0 {
		a.topics++
		th = &archiveThread{topic: a.topics, left: 1 + r.IntN(2*archiveThreadMean)}
		a.open = append(a.open, th)
		m.subject = fmt.Sprintf("[bench-list] %s (topic %d)", strings.TrimSuffix(paragraph(r, 3+r.IntN(5)), "."), a.topics)
		a.st.roots++
	} else {
		k := r.IntN(len(a.open))
		th = a.open[k]
		// Recent messages get most replies: threads grow deep.
		j := len(th.msgs) - 1 - min(int(r.ExpFloat64()*2), len(th.msgs)-1)
		parent = &th.msgs[j]
		m.subject = "Re: " + th.msgs[0].subject
		th.left--
		if th.left <= 0 {
			a.open = append(a.open[:k], a.open[k+1:]...)
		}
	}
	return th, parent
}

// render writes m (from name <addr>, replying to parent when not nil) as
// one mboxrd entry: headers, its own text, the quoted parent and the list
// footer. It sets m.refs.
func (a *archiveGen) render(m *archiveMsg, parent *archiveMsg, name, addr string) string {
	r, g, b, st, at := a.r, a.g, &a.b, &a.st, a.at
	b.Reset()
	fmt.Fprintf(b, "From %s %s\n", addr, at.Format("Mon Jan _2 15:04:05 2006"))
	fmt.Fprintf(b, "From: %s <%s>\n", name, addr)
	b.WriteString("To: bench-list@lists.example\n")
	fmt.Fprintf(b, "Subject: %s\n", m.subject)
	fmt.Fprintf(b, "Date: %s\n", at.Format(time.RFC1123Z))
	if r.IntN(200) == 0 {
		st.noMessageID++
	} else {
		fmt.Fprintf(b, "Message-ID: <%s>\n", m.id)
	}
	if parent != nil {
		if r.IntN(10) == 0 {
			st.subjectOnly++
		} else {
			m.refs = append(append([]string{}, parent.refs...), parent.id)
			if len(m.refs) > 10 {
				m.refs = m.refs[len(m.refs)-10:]
			}
			fmt.Fprintf(b, "In-Reply-To: <%s>\n", parent.id)
			fmt.Fprintf(b, "References: <%s>\n", strings.Join(m.refs, ">\n <"))
			st.withRefs++
		}
	}
	b.WriteString("List-Id: Bench list <bench-list.lists.example>\nPrecedence: list\nMIME-Version: 1.0\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	v := r.IntN(len(g.written))
	own := strings.ReplaceAll(g.written[v], "\r\n", "\n")
	own = own[:min(len(own), 300+r.IntN(500))]
	b.WriteString(own + "\n")
	if r.IntN(40) == 0 {
		b.WriteString("From my experience, it depends.\n") // escaped below (mboxrd)
	}
	size := 2048 + r.IntN(2048)
	if parent != nil {
		fmt.Fprintf(b, "\nOn %s, Person <%s> wrote:\n", at.Add(-time.Hour).Format("Mon, 2 Jan 2006 at 15:04"), parent.from)
		q := g.quotes[v]
		for k := r.IntN(len(q)); b.Len() < size-120; k++ {
			b.WriteString(strings.ReplaceAll(q[k%len(q)], "\r\n", "\n") + "\n")
		}
	}
	b.WriteString("\n-- \nbench-list mailing list\nbench-list@lists.example\nhttps://lists.example/listinfo/bench-list\n\n")
	return escapeFromLines(b.String())
}

// archiveThreadMean is the mean number of replies of a generated thread.
const archiveThreadMean = 8

// escapeFromLines escapes, mboxrd style, the body lines of one mailbox
// entry (its first line is the From_ line) that would read as From_ lines.
func escapeFromLines(entry string) string {
	first, rest, _ := strings.Cut(entry, "\n")
	lines := strings.SplitAfter(rest, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
			lines[i] = ">" + l
		}
	}
	return first + "\n" + strings.Join(lines, "")
}

// importRun is one `postern import mbox` measured.
type importRun struct {
	wall    time.Duration
	maxRSS  int64 // bytes
	summary struct {
		Read       int64            `json:"read"`
		Imported   int64            `json:"imported"`
		Threads    int64            `json:"threads"`
		Reparented int64            `json:"reparented"`
		Moved      int64            `json:"moved"`
		Duplicates int64            `json:"duplicates"`
		Skipped    map[string]int64 `json:"skipped"`
		People     int64            `json:"people_created"`
	}
}

func (r importRun) rate() float64 { return float64(r.summary.Read) / r.wall.Seconds() }

// runImport imports path into a fresh database dbname (created and
// migrated first) with a `postern import mbox` subprocess, and measures
// its wall time and peak resident set.
func (b *bench) runImport(ctx context.Context, dbname, path string) (importRun, error) {
	var res importRun
	if _, err := b.pool.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{dbname}.Sanitize()); err != nil {
		return res, fmt.Errorf("create database %s: %w", dbname, err)
	}
	env := append(b.posternEnv("127.0.0.1:0"), "POSTERN_DATABASE_URL="+b.pg.URL(dbname))
	migrate := exec.CommandContext(ctx, b.bin, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return res, fmt.Errorf("postern migrate: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := b.checkpoint(ctx); err != nil {
		return res, err
	}
	logPath := filepath.Join(b.dir, dbname+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return res, fmt.Errorf("import log: %w", err)
	}
	defer logf.Close()
	var out strings.Builder
	cmd := exec.CommandContext(ctx, b.bin, "import", "mbox", "--json", path)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("postern import mbox: %w", err)
	}
	// The peak resident set is read from /proc while it runs (VmHWM): the
	// rusage of a child started by fork and exec reports the parent's
	// peak when that is higher (Linux carries the high-water mark across
	// exec), here the harness's own.
	stop := make(chan struct{})
	polled := make(chan int64)
	go func() {
		var peak int64
		for {
			if _, p, err := vmMemory(cmd.Process.Pid); err == nil {
				peak = max(peak, p)
			}
			select {
			case <-stop:
				polled <- peak
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	res.wall = time.Since(t0)
	close(stop)
	res.maxRSS = <-polled
	if err != nil {
		return res, fmt.Errorf("postern import mbox: %w (see %s)", err, logPath)
	}
	if err := json.Unmarshal([]byte(out.String()), &res.summary); err != nil {
		return res, fmt.Errorf("import summary %q: %w", out.String(), err)
	}
	b.log.Info("import measured", "database", dbname, "messages", res.summary.Read, "imported", res.summary.Imported,
		"threads", res.summary.Threads, "took", res.wall.Round(time.Millisecond), "msg_per_s", int(res.rate()), "max_rss", mb(res.maxRSS))
	return res, nil
}

// copyCeiling is the import's ceiling: PostgreSQL's COPY rate for n rows
// of size bytes into a plain table, in transactions of 1000 rows (the
// import's batch), with pgx CopyFrom.
func (b *bench) copyCeiling(ctx context.Context, n int, size int) (float64, error) {
	if _, err := b.pool.Exec(ctx, `CREATE TABLE bench_import_ceiling (id bigserial PRIMARY KEY, body text NOT NULL)`); err != nil {
		return 0, fmt.Errorf("ceiling table: %w", err)
	}
	defer func() {
		if _, err := b.pool.Exec(context.Background(), `DROP TABLE bench_import_ceiling`); err != nil {
			b.log.Warn("drop the import ceiling table", "err", err)
		}
	}()
	if err := b.checkpoint(ctx); err != nil {
		return 0, err
	}
	// Text as varied as the archive's, so compression costs the same.
	r := mrand.New(mrand.NewPCG(3, 4))
	bodies := make([]string, 64)
	for i := range bodies {
		var s strings.Builder
		for s.Len() < size {
			s.WriteString(sentenceLine(r, 70) + "\n")
		}
		bodies[i] = s.String()[:size]
	}
	const batch = 1000
	t0 := time.Now()
	for done := 0; done < n; done += batch {
		rows := make([][]any, 0, batch)
		for i := done; i < min(done+batch, n); i++ {
			rows = append(rows, []any{bodies[i%len(bodies)]})
		}
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_import_ceiling"}, []string{"body"}, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("copy ceiling: %w", err)
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// scenarioImport is scenario 6: `postern import mbox` of a generated
// archive, then of one ten times smaller, each into a fresh database.
func scenarioImport(ctx context.Context, b *bench, r *report) error {
	n := b.opts.importMsgs
	big, small := filepath.Join(b.dir, "archive-big.mbox"), filepath.Join(b.dir, "archive-small.mbox")
	t := time.Now()
	bst, err := b.gen.writeArchive(big, n, 1)
	if err != nil {
		return err
	}
	sst, err := b.gen.writeArchive(small, n/10, 2)
	if err != nil {
		return err
	}
	b.log.Info("archives written", "messages", bst.messages, "bytes", bst.bytes, "roots", bst.roots, "with_references", bst.withRefs,
		"subject_only", bst.subjectOnly, "out_of_order", bst.outOfOrder, "no_message_id", bst.noMessageID, "took", time.Since(t).Round(time.Millisecond))
	defer os.Remove(big)
	defer os.Remove(small)

	rs, err := b.runImport(ctx, "import_small", small)
	if err != nil {
		return err
	}
	rb, err := b.runImport(ctx, "import_big", big)
	if err != nil {
		return err
	}
	avg := int(bst.bytes / max(bst.messages, 1))
	ceil, err := b.copyCeiling(ctx, n, avg)
	if err != nil {
		return err
	}
	describe := func(run importRun) string {
		s := run.summary
		skipped := int64(0)
		for _, c := range s.Skipped {
			skipped += c
		}
		return fmt.Sprintf("%.0f msg/s (%d messages, %s, in %s); peak RSS %s; %d posts in %d threads (%d moved under a parent found later), %d people, %d skipped",
			run.rate(), s.Read, mb(bst.bytes*s.Read/max(bst.messages, 1)), run.wall.Round(time.Millisecond), mb(run.maxRSS),
			s.Imported, s.Threads, s.Reparented+s.Moved, s.People, skipped)
	}
	r.add(row{scen: 6, name: "Import", cas: fmt.Sprintf("mbox of %d messages (%s, avg %d B; %d%% only a Re: subject, %d out of order)",
		bst.messages, mb(bst.bytes), avg, 100*bst.subjectOnly/max(bst.messages, 1), bst.outOfOrder),
		postern: describe(rb),
		ceiling: fmt.Sprintf("PG COPY %.0f rows/s (%d rows of %d B, 1000 per transaction, plain table)", ceil, n, avg),
		ratio:   pctOf(rb.rate(), ceil) + " of COPY",
		target:  "≥ 3000 msg/s", met: metText(rb.rate() >= 3000 && rb.summary.Read == bst.messages)})
	ratio := float64(rb.maxRSS) / float64(max(rs.maxRSS, 1))
	r.add(row{scen: 6, name: "Import", cas: fmt.Sprintf("peak RSS, %d vs %d messages", bst.messages, sst.messages),
		postern: fmt.Sprintf("%s for %d messages", mb(rb.maxRSS), bst.messages),
		ceiling: fmt.Sprintf("%s for %d messages (%s)", mb(rs.maxRSS), sst.messages, describe(rs)),
		ratio:   fmt.Sprintf("%.2f× for 10× the messages", ratio),
		target:  "RSS independent of size (≤ 1.25×)", met: metText(ratio <= 1.25)})
	for _, db := range []string{"import_small", "import_big"} {
		if _, err := b.pool.Exec(ctx, `DROP DATABASE `+pgx.Identifier{db}.Sanitize()); err != nil {
			b.log.Warn("drop import database", "database", db, "err", err)
		}
	}
	return nil
}
