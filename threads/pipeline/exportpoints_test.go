package pipeline

import (
	"context"
	"testing"

	"github.com/postern/postern/threads"
)

// TestExportPointsAreComputed: `postern user export` prints the points a
// member has from what they did (100 to start, 2 for a published
// question), the same figure the pages use, not a column nothing updates.
func TestExportPointsAreComputed(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "zoe@example.org", "Zoe")
	deliver(t, st, "zoe@example.org", []string{"ask@forum.test"}, "From: <zoe@example.org>\r\nTo: ask@forum.test\r\nSubject: Sleep\r\nMessage-ID: <q1@z.example>\r\n\r\nHow do I sleep?\r\n")
	exp, err := st.ExportPerson(ctx, "zoe@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if want := threads.PointsBase + threads.PointsPostQuestion; exp.Points != want {
		t.Fatalf("exported points %d, want %d", exp.Points, want)
	}
}
