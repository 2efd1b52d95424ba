package main

import (
	"testing"
	"time"

	"github.com/postern/postern/threads"
)

// TestThreadTimesInUTC: `postern thread` (and --json) shows UTC, as the
// web page does, whatever the process's time zone.
func TestThreadTimesInUTC(t *testing.T) {
	zone := time.FixedZone("X", 5*3600)
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, zone)
	th := &threads.Thread{CreatedAt: at, Answers: []threads.Answer{{CreatedAt: at, Comments: []threads.Comment{{CreatedAt: at}}}}}
	th.EditedAt = &at
	inUTC(th)
	for _, got := range []time.Time{th.CreatedAt, *th.EditedAt, th.Answers[0].CreatedAt, th.Answers[0].Comments[0].CreatedAt} {
		if got.Location() != time.UTC || !got.Equal(at) {
			t.Errorf("time %v, want %v in UTC", got, at.UTC())
		}
	}
}
