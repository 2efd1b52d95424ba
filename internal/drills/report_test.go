package drills

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// result is one drill's line of the table.
type result struct {
	Drill, Load, Faults                  string
	Sent, OK, Stored, Processed          int
	NotifyExpected, NotifySent, Received int
	Duplicates, Lost, Refused5xx, Panics int
	Retried                              int // 4xx replies and dropped connections, retried
	Took                                 time.Duration
}

var (
	resultsMu sync.Mutex
	results   []result
)

func record(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

// resultsTable is the Markdown table of the drills run, "" when none ran.
func resultsTable() string {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| drill | load | faults injected | sent | 250s | retried (4xx, dropped) | stored | processed | notifications expected | sent (relay received) | duplicates | lost | 5xx | panics | took |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d (%d) | %d | %d | %d | %d | %v |\n",
			r.Drill, r.Load, r.Faults, r.Sent, r.OK, r.Retried, r.Stored, r.Processed, r.NotifyExpected, r.NotifySent, r.Received,
			r.Duplicates, r.Lost, r.Refused5xx, r.Panics, r.Took.Round(time.Second))
	}
	return b.String()
}

// Markers around the generated table in the report file.
const (
	beginMarker = "<!-- drills table: begin (written by make drills) -->"
	endMarker   = "<!-- drills table: end -->"
)

// writeReport replaces the table between the markers of path with table,
// with the date and size of the run.
func writeReport(path, table string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read report: %w", err)
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("report %s lacks the drills table markers", path)
	}
	size := "CI size"
	if full {
		size = "full size (POSTERN_DRILLS=full)"
	}
	head := fmt.Sprintf("Run of %s UTC, %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04"), size)
	s = s[:i+len(beginMarker)] + "\n" + head + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
