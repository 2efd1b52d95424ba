package classify

import (
	"testing"

	"github.com/postern/postern/mailin/parse"
)

func TestParseDSNCorpus(t *testing.T) {
	cases := []struct {
		file     string
		hard     bool
		recips   []DSNRecipient
		origID   bool // an original Message-ID is expected
		noRecips bool
	}{
		{file: "bounced_email.eml", hard: true, recips: []DSNRecipient{{FinalRecipient: "linux-admin@b-s-c.co.jp", OriginalRecipient: "linux-admin@b-s-c.co.jp", Action: "failed", Status: "5.1.1"}}},
		{file: "bounced_email_multiple_status_codes.eml", hard: true},
		{file: "hard_bounce_via_verp.eml", hard: true, recips: []DSNRecipient{{Action: "failed", Status: "5.1.1"}}},
		{file: "hard_bounce_via_verp_2.eml", hard: true, recips: []DSNRecipient{{Action: "failed", Status: "5.1.1"}}},
		{file: "verp_bounce_different_final_recipient.eml", hard: false, recips: []DSNRecipient{{FinalRecipient: "catchall@b-s-c.co.jp", OriginalRecipient: "linux-admin@b-s-c.co.jp", Action: "failed", Status: "4.1.1"}}},
		{file: "bounced_email_2.eml", hard: false, noRecips: true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m := fixture(t, c.file)
			d, ok := ParseDSN(m)
			if !ok {
				t.Fatal("not recognised as a DSN")
			}
			if d.Hard() != c.hard {
				t.Errorf("Hard() = %v, want %v (%+v)", d.Hard(), c.hard, d.Recipients)
			}
			if c.noRecips && len(d.Recipients) != 0 {
				t.Errorf("recipients %+v, want none", d.Recipients)
			}
			if !c.noRecips && len(d.Recipients) == 0 {
				t.Errorf("no recipients")
			}
			for i, want := range c.recips {
				if i >= len(d.Recipients) {
					t.Fatalf("missing recipient %d", i)
				}
				got := d.Recipients[i]
				if got.Action != want.Action || got.Status != want.Status ||
					(want.FinalRecipient != "" && got.FinalRecipient != want.FinalRecipient) ||
					(want.OriginalRecipient != "" && got.OriginalRecipient != want.OriginalRecipient) {
					t.Errorf("recipient %d = %+v, want %+v", i, got, want)
				}
				if got.Diagnostic == "" {
					t.Errorf("recipient %d: empty diagnostic", i)
				}
			}
		})
	}
	// Multiple per-recipient blocks.
	d, _ := ParseDSN(fixture(t, "bounced_email_multiple_status_codes.eml"))
	if d == nil || len(d.Recipients) < 2 {
		t.Errorf("multiple status codes: %+v", d)
	}
	// Human mail is not a DSN.
	if _, ok := ParseDSN(fixture(t, "text_reply.eml")); ok {
		t.Error("text_reply.eml recognised as a DSN")
	}
}

func TestParseDSNNonStandard(t *testing.T) {
	raw := "From: Mail Delivery Subsystem <mailer-daemon@mx.example.net>\n" +
		"Subject: Delivery Status Notification (Failure)\nX-Failed-Recipients: gone@example.org\n\n" +
		"Delivery to the following recipient failed permanently:\n\n     gone@example.org\n\n" +
		"Technical details of permanent failure:\nThe email account that you tried to reach does not exist. 550 5.1.1 user unknown\n"
	m, err := parse.Parse([]byte(raw), parse.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ParseDSN(m)
	if !ok || len(d.Recipients) != 1 || d.Recipients[0].FinalRecipient != "gone@example.org" ||
		d.Recipients[0].Status != "5.1.1" || !d.Hard() {
		t.Fatalf("non-standard bounce: ok=%v %+v", ok, d)
	}
	if v := Classify(m, "", "forum.example.org"); v.Kind != Bounce {
		t.Errorf("Classify = %+v, want Bounce", v)
	}

	rfc := "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n" +
		"--B\nContent-Type: text/plain\n\nSorry.\n--B\nContent-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a@example.org\nAction: delayed\nStatus: 4.4.1\n" +
		"Diagnostic-Code: smtp; 451 4.4.1 try later\n\nFinal-Recipient: rfc822;b@example.org\nAction: failed\nStatus: 5.2.2\n" +
		"--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig-1@forum.example.org>\nSubject: hi\n--B--\n"
	m, err = parse.Parse([]byte(rfc), parse.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d, ok = ParseDSN(m)
	if !ok || len(d.Recipients) != 2 || d.OriginalMessageID != "orig-1@forum.example.org" || !d.Hard() ||
		d.Recipients[0].Diagnostic != "451 4.4.1 try later" || d.Recipients[1].FinalRecipient != "b@example.org" {
		t.Fatalf("rfc 3464: ok=%v %+v", ok, d)
	}
}
