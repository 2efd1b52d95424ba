package drills

import (
	"fmt"
	"time"

	"github.com/postern/postern/internal/smtptest"
)

// askers is how many members send the load's questions.
const askers = 10

// asker is the address of member i.
func asker(i int) string { return fmt.Sprintf("asker%d@load.test", i%askers) }

// confirmMembers makes the askers confirmed members, as a person does: a
// first question is held and a confirmation sent; the reply to it
// confirms the address and publishes the question. Mail from a trusted
// network then shows they sent it, so the load's questions are published
// at once, each with its notification to the asker.
func (w *world) confirmMembers(in *instance) {
	w.t.Helper()
	for i := range askers {
		raw := fmt.Sprintf("From: Asker %d <%s>\r\nTo: ask@%s\r\nMessage-ID: <first-%d@load.test>\r\nSubject: My first question, number %d\r\n\r\nHello, how does this work?\r\n",
			i, asker(i), Domain, i, i)
		if err := smtptest.Send(in.smtp, smtptest.Mail{From: asker(i), To: []string{"ask@" + Domain}, Data: []byte(raw)}); err != nil {
			w.t.Fatal(err)
		}
	}
	for i := range askers {
		var addr string
		for deadline := time.Now().Add(time.Minute); addr == ""; time.Sleep(20 * time.Millisecond) {
			if addr = w.ids.confirmAddress(asker(i)); addr == "" && time.Now().After(deadline) {
				w.t.Fatalf("no confirmation request reached %s", asker(i))
			}
		}
		raw := fmt.Sprintf("From: Asker %d <%s>\r\nTo: %s\r\nMessage-ID: <confirm-%d@load.test>\r\nSubject: Re: confirm\r\n\r\nYes, it is me.\r\n", i, asker(i), addr, i)
		if err := smtptest.Send(in.smtp, smtptest.Mail{From: asker(i), To: []string{addr}, Data: []byte(raw)}); err != nil {
			w.t.Fatal(err)
		}
	}
	w.drain(time.Minute)
}
