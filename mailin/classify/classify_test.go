package classify

import (
	"testing"

	"github.com/postern/postern/mailin/parse"
)

func TestClassifyCorpus(t *testing.T) {
	cases := []struct {
		file   string
		kind   Kind
		reason string // checked when non-empty
	}{
		// Auto-generated rejections in Discourse.
		{"auto_generated_header.eml", Auto, "auto-submitted: auto-generated"},
		{"auto_generated_precedence.eml", Auto, "precedence: list"},
		{"auto_generated_subject.eml", Auto, "out-of-office subject"},
		{"auto_reply.eml", Auto, "auto-submitted: auto-generated"},
		{"email_to_group_email_username_auto_generated.eml", Auto, "noreply sender"},
		{"no_return_path.eml", Auto, "precedence: list"},
		// Discourse accepts these only because of a site setting
		// (auto_generated_allowlist, blocking auto-generated mail switched
		// off, mailing-list-mirror categories). Postern has no allowlist
		// and no mirror mode, so they are Auto.
		{"auto_generated_allowlisted.eml", Auto, "auto-submitted: auto-generated"},
		{"auto_generated_unblocked.eml", Auto, "auto-submitted: auto-generated"},
		{"mailinglist.eml", Auto, ""},
		{"mailinglist_dmarc_fail.eml", Auto, ""},
		{"mailinglist_short_message.eml", Auto, ""},
		// Mailman / Google Groups relays: Discourse attributes them to the
		// real author in mirror setups; for Postern list traffic is Auto.
		{"mailman_1.eml", Auto, ""},
		{"mailman_2.eml", Auto, ""},
		{"mailman_3.eml", Auto, ""},
		{"mailman_4.eml", Auto, ""},
		{"reply_to_different_to_from.eml", Auto, ""},
		{"bottom_reply.eml", Auto, ""},
		// Bounces.
		{"bounced_email.eml", Bounce, "dsn"},
		{"bounced_email_2.eml", Bounce, "bounce: non-standard"},
		{"bounced_email_multiple_status_codes.eml", Bounce, "dsn"},
		{"hard_bounce_via_verp.eml", Bounce, "dsn"},
		{"hard_bounce_via_verp_2.eml", Bounce, "dsn"},
		{"verp_bounce_different_final_recipient.eml", Bounce, "dsn"},
		// From MAILER-DAEMON without an address, bounce subject: Discourse
		// drops it (no sender); Postern files it as a bounce (never answered).
		{"invalid_from_2.eml", Bounce, ""},
		// Normal replies, new topics and group messages.
		{"quirks_exchange_xars.eml", Human, ""},
		{"text_reply.eml", Human, ""},
		{"html_reply.eml", Human, ""},
		{"android_gmail.eml", Human, ""},
		{"attached_eml_file.eml", Human, ""},
		{"attached_txt_file.eml", Human, ""},
		{"big5.eml", Human, ""},
		{"boundary.eml", Human, ""},
		{"cc.eml", Human, ""},
		{"chinese_reply.eml", Human, ""},
		{"dmarc_fail.eml", Human, ""},
		{"dutch.eml", Human, ""},
		{"email_reply_1.eml", Human, ""},
		{"email_reply_2.eml", Human, ""},
		{"email_reply_3.eml", Human, ""},
		{"email_reply_4.eml", Human, ""},
		{"email_to_group_email_username_1.eml", Human, ""},
		{"encoded_display_name.eml", Human, ""},
		{"exchange_html_body.eml", Human, ""},
		{"existing_user.eml", Human, ""},
		{"from_the_future.eml", Human, ""},
		{"gmail_html_reply.eml", Human, ""},
		{"gmail_web.eml", Human, ""},
		{"group_existing_user.eml", Human, ""},
		{"hebrew.eml", Human, ""},
		{"hebrew_reply.eml", Human, ""},
		{"html_only.eml", Human, ""},
		{"html_paragraphs.eml", Human, ""},
		{"inline_reply.eml", Human, ""},
		{"ios_default.eml", Human, ""},
		{"iphone_signature.eml", Human, ""},
		{"new_user.eml", Human, ""},
		{"newlines.eml", Human, ""},
		{"on_wrote.eml", Human, ""},
		{"original_message.eml", Human, ""},
		{"outlook.eml", Human, ""},
		{"paragraphs.eml", Human, ""},
		{"previous_replies.eml", Human, ""},
		{"reply_above.eml", Human, ""},
		{"reply_user_matching.eml", Human, ""},
		{"reply_with_8bit_encoding.eml", Human, ""},
		{"reply_with_weird_encoding.eml", Human, ""},
		{"text_and_html_reply.eml", Human, ""},
		{"tl4_user.eml", Human, ""},
		{"valid_reply.eml", Human, ""},
		{"via_line.eml", Human, ""},
		{"windows_8_metro.eml", Human, ""},
		{"word_html_reply.eml", Human, ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m := fixture(t, c.file)
			v := Classify(m, envelope(m), "bar.com")
			if v.Kind != c.kind || (c.reason != "" && v.Reason != c.reason) {
				t.Errorf("Classify = %v %q, want %v %q", v.Kind, v.Reason, c.kind, c.reason)
			}
		})
	}
}

func TestClassifyHeaders(t *testing.T) {
	cases := []struct {
		name, raw, env, reason string
		kind                   Kind
	}{
		{"plain human", "From: Ann <ann@example.com>\nSubject: Re: question\n\nhi", "ann@example.com", "", Human},
		{"xars alone", "From: ann@example.com\nX-Auto-Response-Suppress: All\n\nhi", "ann@example.com", "", Human},
		{"auto-submitted no", "From: ann@example.com\nAuto-Submitted: no\n\nhi", "ann@example.com", "", Human},
		{"auto-replied", "From: ann@example.com\nAuto-Submitted: auto-replied\n\nhi", "ann@example.com", "auto-submitted: auto-replied", Auto},
		{"x-autoreply", "From: ann@example.com\nX-Autoreply: yes\n\nhi", "ann@example.com", "x-autoreply", Auto},
		{"x-autorespond", "From: ann@example.com\nX-Autorespond: yes\n\nhi", "ann@example.com", "x-autorespond", Auto},
		{"precedence bulk", "From: ann@example.com\nPrecedence: Bulk\n\nhi", "ann@example.com", "precedence: bulk", Auto},
		{"precedence junk", "From: ann@example.com\nPrecedence: junk\n\nhi", "ann@example.com", "precedence: junk", Auto},
		{"list-id", "From: ann@example.com\nList-Id: <l.example.com>\n\nhi", "ann@example.com", "list-id", Auto},
		{"list-unsubscribe", "From: ann@example.com\nList-Unsubscribe: <mailto:u@example.com>\n\nhi", "ann@example.com", "list-unsubscribe", Auto},
		{"null sender", "From: ann@example.com\n\nhi", "<>", "empty envelope sender", Auto},
		{"empty sender", "From: ann@example.com\n\nhi", "", "empty envelope sender", Auto},
		{"x-loop ours", "From: ann@example.com\nX-Loop: forum.example.org\n\nhi", "ann@example.com", "x-loop", Auto},
		{"x-loop other", "From: ann@example.com\nX-Loop: other.example.net\n\nhi", "ann@example.com", "", Human},
		{"noreply", "From: No Reply <no-reply@shop.example>\n\nhi", "b@shop.example", "noreply sender", Auto},
		{"postmaster", "From: postmaster@shop.example\n\nhi", "b@shop.example", "noreply sender", Auto},
		{"reply about an ooo policy (accepted false positive)", "From: ann@example.com\nSubject: Re: out of office policy\n\nhi", "ann@example.com", "out-of-office subject", Auto},
		{"human discussing absence mid-subject", "From: ann@example.com\nSubject: Question about the absence form\n\nhi", "ann@example.com", "", Human},
		{"read receipt", "From: ann@example.com\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\n\n--x\n\nread\n--x--\n", "ann@example.com", "report", Auto},
	}
	subjects := []string{"Out of Office: Re: hello", "Automatic reply: hello", "Autoreply: hi", "Auto-Reply: hi",
		"Abwesenheitsnotiz: Hallo", "Absence du bureau", "Réponse automatique : bonjour", "Respuesta automática: hola",
		"Risposta automatica: ciao", "Afwezig: hallo", "[AUTO GENERATED] thing", "AW: Automatische Antwort: x", "OOO: back Monday"}
	for _, s := range subjects {
		cases = append(cases, struct {
			name, raw, env, reason string
			kind                   Kind
		}{"subject " + s, "From: ann@example.com\nSubject: " + s + "\n\nhi", "ann@example.com", "out-of-office subject", Auto})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := parse.Parse([]byte(c.raw), parse.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			v := Classify(m, c.env, "forum.example.org")
			if v.Kind != c.kind || v.Reason != c.reason {
				t.Errorf("Classify = %v %q, want %v %q", v.Kind, v.Reason, c.kind, c.reason)
			}
		})
	}
	if v := Classify(nil, "", ""); v.Kind != Auto {
		t.Errorf("nil message: %+v", v)
	}
}
