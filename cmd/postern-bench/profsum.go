package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// profileParts are the parts of Postern a CPU profile is summarised by:
// each names the function whose cumulative share (its callees included)
// stands for that part. Parts can overlap (database calls happen inside
// processing); the table says what each costs, not a partition.
var profileParts = []struct{ label, fn string }{
	{"SMTP sessions (intake, all of it)", "github.com/emersion/go-smtp.(*Conn).handle"},
	{"  RCPT checks (reply token, rate limits)", "github.com/postern/postern/mailin.(*session).Rcpt"},
	{"  reading DATA into memory", "github.com/postern/postern/mailin.(*session).readMessage"},
	{"  intake transactions (group commit)", "github.com/postern/postern/threads.(*Store).insertInbound"},
	{"processing (parse, trim, route, store)", "github.com/postern/postern/threads/pipeline.(*ProcessWorker).Work"},
	{"  parsing MIME", "github.com/postern/postern/mailin/parse.Parse"},
	{"  trimming quotes", "github.com/postern/postern/mailin/trim.Text"},
	{"sending notifications", "github.com/postern/postern/mailout.(*NotifyWorker).Work"},
	{"  rendering templates", "github.com/postern/postern/templates.(*Set).Mail"},
	{"  SMTP to the relay", "github.com/postern/postern/mailout.(*Relay).Send"},
	{"River: fetching jobs", "github.com/riverqueue/river.(*producer).dispatchWork"},
	{"database driver (pgx, all queries)", "github.com/jackc/pgx/v5/pgconn.(*PgConn).ExecStatement"},
	{"system calls (network I/O)", "internal/runtime/syscall/linux.Syscall6"},
	{"garbage collection", "runtime.gcBgMarkWorker"},
}

// summarizeProfile reads a CPU profile with `go tool pprof` and returns
// one line per profileParts entry found: its share of Postern's CPU.
func summarizeProfile(ctx context.Context, path string) (total string, lines []string, err error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=2000", path).Output()
	if err != nil {
		return "", nil, fmt.Errorf("go tool pprof %s: %w", path, err)
	}
	cum := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Duration:") {
			total = strings.TrimSpace(line)
		}
		f := strings.Fields(line)
		// flat flat% sum% cum cum% name...
		if len(f) < 6 || !strings.HasSuffix(f[4], "%") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err != nil {
			continue
		}
		name := strings.Join(f[5:], " ")
		if strings.HasSuffix(name, "(inline)") {
			name = strings.TrimSpace(strings.TrimSuffix(name, "(inline)"))
		}
		cum[name] = max(cum[name], v)
	}
	for _, p := range profileParts {
		if v, ok := cum[p.fn]; ok {
			lines = append(lines, fmt.Sprintf("%-44s %5.1f%%", p.label, v))
		}
	}
	return total, lines, nil
}
