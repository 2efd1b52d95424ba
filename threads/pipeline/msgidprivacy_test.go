package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/postern/postern/threads"
)

// TestReadCommandsHideAddressMessageID checks that a client Message-ID
// shaped like an address, kept as received for the author's own
// threading, is shown redacted by what `postern inbound list` and
// `postern user export` print.
func TestReadCommandsHideAddressMessageID(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "yan@example.org", "Yan")
	deliver(t, st, "yan@example.org", []string{"ask@forum.test"}, "From: <yan@example.org>\r\nTo: ask@forum.test\r\nSubject: Q\r\nMessage-ID: <dave@example.com>\r\n\r\nHow?\r\n")
	list, err := st.ListInbound(ctx, threads.InboundAll, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("list inbound: %v, %v", list, err)
	}
	exp, err := st.ExportPerson(ctx, "yan@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]any{"inbound list": list, "user export": exp} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, "@") || !strings.Contains(s, "[address removed]") {
			t.Errorf("%s: %s", what, s)
		}
	}
}
