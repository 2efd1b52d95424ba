package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
)

// The Discourse corpus (../shared/corpus/discourse-emails, see its
// MANIFEST.md and docs/CORPUS.md) run through the real pipeline: Accept,
// then Process, against a migrated database, with each fixture's expected
// outcome in discourseCorpus below.

// Outcome kinds of a corpus row.
const (
	wantPost    = "post"    // processed, a visible post
	wantHeld    = "held"    // processed, a post held until the unknown sender confirms
	wantAuto    = "auto"    // ignored, reason "automatic mail: …"
	wantBounce  = "bounce"  // ignored, reason mentions "bounce"
	wantIgnored = "ignored" // ignored for another reason (substring in reason)
	wantFailed  = "failed"  // failed (rejected), substring in reason
	wantNoPost  = "nopost"  // processed without a post (unsubscribe), substring in reason
)

// corpusRow is one fixture's expectation.
type corpusRow struct {
	want    string
	reason  string           // substring of inbound.reason (may be "")
	body    string           // exact post body after TrimSpace ("" = not checked)
	has     []string         // substrings the post body must contain
	lacks   []string         // substrings the post body must not contain
	kind    threads.PostKind // post kind, when checked
	unknown bool             // the sender is not a confirmed member beforehand
	atts    int              // attachments stored with the post (0 = not checked)
	// emptyBody: the post's body must be empty (a title-only question).
	emptyBody bool
}

// Reasons used in several rows.
const (
	rsNoThread = "could not tell which discussion"
	rsEmpty    = "nothing was left of your reply"
	rsHeld     = "held until the sender confirms"
)

const lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."

// discourseCorpus is MANIFEST.md as Postern's expectations. Where Postern
// deliberately differs from Discourse, docs/CORPUS.md says why.
var discourseCorpus = map[string]corpusRow{
	"android_gmail.eml":                       {want: wantPost, has: []string{"### this is a reply from Android 5 gmail", "This is a link to http://example.com"}, lacks: []string{"wrote:"}},
	"attached_eml_file.eml":                   {want: wantPost, body: "Please find the eml file attached.", atts: 1},
	"attached_rb_file.eml":                    {want: wantPost, body: "Please find the source code of Discourse attached.", kind: threads.KindQuestion, atts: 1},
	"attached_txt_file.eml":                   {want: wantPost, body: "Please find some text file attached.", atts: 1},
	"attached_txt_file_2.eml":                 {want: wantPost, body: "Please find the same text file attached.", atts: 1},
	"auto_generated_allowlisted.eml":          {want: wantAuto},
	"auto_generated_header.eml":               {want: wantAuto},
	"auto_generated_precedence.eml":           {want: wantAuto},
	"auto_generated_subject.eml":              {want: wantAuto},
	"auto_generated_unblocked.eml":            {want: wantAuto},
	"auto_reply.eml":                          {want: wantAuto},
	"bad_destinations.eml":                    {want: wantFailed, reason: rsNoThread},
	"base64_encoded_body.eml":                 {want: wantPost, kind: threads.KindQuestion, emptyBody: true},
	"big5.eml":                                {want: wantPost, body: "媽！我上電視了！"},
	"blocked_sender.eml":                      {want: wantPost, kind: threads.KindQuestion},
	"blocklist_allowlist_email.eml":           {want: wantHeld, unknown: true},
	"body_with_image.eml":                     {want: wantPost, body: "This is a GMAIL reply ;)", atts: 1},
	"bottom_reply.eml":                        {want: wantAuto},
	"bounced_email.eml":                       {want: wantBounce},
	"bounced_email_2.eml":                     {want: wantBounce},
	"bounced_email_multiple_status_codes.eml": {want: wantBounce},
	"boundary.eml":                            {want: wantPost, body: "I'll look into it, thanks!"},
	"cc.eml":                                  {want: wantPost, body: "It is more fun with more people."},
	"chinese_reply.eml":                       {want: wantPost, body: "您好！ 你今天好吗？"},
	"dmarc_fail.eml":                          {want: wantPost, body: "Hey, this is a topic from an existing user ;)", kind: threads.KindQuestion},
	"dutch.eml":                               {want: wantPost, body: "Dit is een antwoord in het Nederlands."},
	"email_reply_1.eml":                       {want: wantPost, body: "This is email reply **1**.", kind: threads.KindQuestion},
	"email_reply_2.eml":                       {want: wantPost, body: "This is email reply **2**.", kind: threads.KindAnswer},
	"email_reply_3.eml":                       {want: wantPost, body: "This is email reply **3**.", kind: threads.KindComment},
	"email_reply_4.eml":                       {want: wantPost, body: "This is email reply **4**.", kind: threads.KindComment},
	"email_reply_like.eml":                    {want: wantIgnored, unknown: true, reason: "command from an unconfirmed address"},
	"email_reply_staged.eml":                  {want: wantHeld, unknown: true},
	"email_reply_to_group_email_username.eml": {want: wantPost, body: "This is email reply **1**."},
	"email_to_group_email_username_1.eml":     {want: wantPost, body: "This is the first email.", kind: threads.KindQuestion},
	"email_to_group_email_username_2.eml":     {want: wantPost, body: "Hey thanks for the suggestion, it didn't work.", kind: threads.KindAnswer},
	"email_to_group_email_username_2_as_unknown_sender.eml": {want: wantHeld, unknown: true, body: "No I don't think that did it."},
	"email_to_group_email_username_3.eml":                   {want: wantPost, kind: threads.KindAnswer},
	"email_to_group_email_username_auto_generated.eml":      {want: wantAuto},
	"empty.eml":                                    {want: wantFailed, reason: rsEmpty},
	"encoded_display_name.eml":                     {want: wantHeld, unknown: true, body: "Будьте здоровы!"},
	"encoded_filename.eml":                         {want: wantPost, atts: 1},
	"encoding_undefined_conversion.eml":            {want: wantPost},
	"exchange_html_body.eml":                       {want: wantPost, body: "This is the body of the email."},
	"exchange_html_body_and_reply.eml":             {want: wantPost, body: "This is the body of the email."},
	"exchange_html_reply.eml":                      {want: wantPost, body: "This is the body !! of the email."},
	"existing_user.eml":                            {want: wantPost, body: "Hey, this is a topic from an existing user ;)", kind: threads.KindQuestion},
	"forwarded_by_group_to_inbox.eml":              {want: wantPost, kind: threads.KindQuestion},
	"forwarded_by_group_to_inbox_double_cc.eml":    {want: wantPost, kind: threads.KindQuestion},
	"forwarded_email_1.eml":                        {want: wantPost, has: []string{"@team, can you have a look at this email below?"}, kind: threads.KindQuestion},
	"forwarded_email_2.eml":                        {want: wantPost, kind: threads.KindQuestion},
	"forwarded_email_3.eml":                        {want: wantPost, kind: threads.KindQuestion},
	"forwarded_email_4.eml":                        {want: wantPost, kind: threads.KindQuestion},
	"from_reply_by_email_address.eml":              {want: wantIgnored, reason: "loop"},
	"from_the_future.eml":                          {want: wantPost, body: "Back to the future!"},
	"gmail_html_reply.eml":                         {want: wantPost, body: "This is a GMAIL reply ;)"},
	"gmail_web.eml":                                {want: wantPost, has: []string{"### This is a reply from standard GMail in Google Chrome.", "Here's a link http://example.com"}, lacks: []string{"wrote:"}},
	"group_existing_user.eml":                      {want: wantPost, body: "Hey there, this is an email to a group mailbox from an existing user.", kind: threads.KindQuestion},
	"hard_bounce_via_verp.eml":                     {want: wantBounce, reason: "hard"},
	"hard_bounce_via_verp_2.eml":                   {want: wantBounce, reason: "hard"},
	"hebrew.eml":                                   {want: wantPost, body: "שלום"},
	"hebrew_reply.eml":                             {want: wantPost, body: "שלום! מה שלומך היום?"},
	"html_only.eml":                                {want: wantPost, body: "The EC2 instance - I've seen that there tends to be odd and unrecommended settings on the Bitnami installs that I've checked out."},
	"html_paragraphs.eml":                          {want: wantPost, body: "Awesome!\n\nPleasure to have you here!\n\n:boom:"},
	"html_reply.eml":                               {want: wantPost, body: "This is a HTML reply ;)"},
	"ignored.eml":                                  {want: wantPost, kind: threads.KindQuestion},
	"inactive_sender.eml":                          {want: wantHeld, unknown: true},
	"inline_mixed.eml":                             {want: wantPost},
	"inline_mixed_replies.eml":                     {want: wantPost, has: []string{"And this is *my* reply :+1:", "And this is **another** reply."}},
	"inline_reply.eml":                             {want: wantPost, body: "And this is *my* reply :+1:"},
	"insufficient_trust_level.eml":                 {want: wantHeld, unknown: true},
	"invalid_from_1.eml":                           {want: wantIgnored, reason: "From"},
	"invalid_from_2.eml":                           {want: wantIgnored},
	"ios_default.eml":                              {want: wantPost, has: []string{"### this is a reply from iOS default mail", "Here's a link http://example.com"}},
	"iphone_signature.eml":                         {want: wantPost, body: "This is not the signature you're looking for."},
	"like.eml":                                     {want: wantNoPost, reason: "vote (+1) was recorded"},
	"long_embedded_email_headers.eml":              {want: wantHeld, unknown: true},
	"mailinglist.eml":                              {want: wantAuto},
	"mailinglist_dmarc_fail.eml":                   {want: wantAuto},
	"mailinglist_short_message.eml":                {want: wantAuto},
	"mailinglist_unsubscribe.eml":                  {want: wantNoPost, reason: "unsubscribed from everything"},
	"mailman_1.eml":                                {want: wantAuto},
	"mailman_2.eml":                                {want: wantAuto},
	"mailman_3.eml":                                {want: wantAuto},
	"mailman_4.eml":                                {want: wantAuto},
	"missing_message_id.eml":                       {want: wantPost, body: "Some body"},
	"multiline_wrote.eml":                          {want: wantPost, body: "Thanks!"},
	"multipart.eml":                                {want: wantPost, body: "So presumably all the quoted garbage and my (proper) signature will get\nstripped from my reply?"},
	"multiple_destinations.eml":                    {want: wantPost, has: []string{"I could not disagree more.", "- Jake out"}},
	"mute.eml":                                     {want: wantPost, body: "mute"},
	"new_user.eml":                                 {want: wantHeld, unknown: true, body: "Hey, this is a topic from a complete stranger ;)"},
	"newlines.eml":                                 {want: wantPost, body: "This is my reply.\nIt is my best reply.\nIt will also be my *only* reply."},
	"no_body.eml":                                  {want: wantFailed, reason: "no subject and no text"},
	"no_body_with_image.eml":                       {want: wantPost, atts: 1},
	"no_content_reply.eml":                         {want: wantFailed, reason: rsEmpty},
	"no_date.eml":                                  {want: wantPost, body: "Hey, this is a topic from a complete stranger ;)", kind: threads.KindQuestion},
	"no_from.eml":                                  {want: wantIgnored, reason: "no sender"},
	"no_return_path.eml":                           {want: wantAuto},
	"no_subject.eml":                               {want: wantPost, kind: threads.KindQuestion},
	"null_byte_in_subject.eml":                     {want: wantPost, kind: threads.KindQuestion},
	"old_destination.eml":                          {want: wantFailed, reason: rsNoThread},
	"on_date_contact_wrote.eml":                    {want: wantPost, body: "This is the actual reply."},
	"on_wrote.eml":                                 {want: wantPost, body: "Sure, all you need to do is frobnicate the foobar and you'll be all set!"},
	"original_message.eml":                         {want: wantPost, body: "This is a reply :)"},
	"original_message_context.eml":                 {want: wantPost, body: "This post should not include signature."},
	"outlook.eml":                                  {want: wantPost, body: "Microsoft Outlook 2010"},
	"paragraphs.eml":                               {want: wantPost, body: "Do you like liquorice?\n\nI really like them. One could even say that I am *addicted* to liquorice. And if\nyou can mix it up with some anise, then I'm in heaven ;)"},
	"previous.eml":                                 {want: wantPost, body: "This will not include the previous discussion that is present in this email."},
	"previous_replies.eml":                         {want: wantPost, body: "This will not include the previous discussion that is present in this email."},
	"previous_replies_de.eml":                      {want: wantPost, body: "This will not include the previous discussion that is present in this email."},
	"quirks_exchange_xars.eml":                     {want: wantPost, body: "Some thing."},
	"reply_above.eml":                              {want: wantPost, body: "This will not include the previous discussion that is present in this email."},
	"reply_above_de.eml":                           {want: wantPost, body: "This will not include the previous discussion that is present in this email."},
	"reply_and_forwarded.eml":                      {want: wantPost},
	"reply_to_different_to_from.eml":               {want: wantAuto},
	"reply_to_different_to_from_no_x_original.eml": {want: wantHeld, unknown: true},
	"reply_to_different_to_from_quoted_display_name.eml":  {want: wantAuto},
	"reply_to_different_to_from_x_original_different.eml": {want: wantAuto},
	"reply_user_matching.eml":                             {want: wantPost, body: lorem},
	"reply_user_matching_alternativereplyaddr.eml":        {want: wantPost, body: lorem},
	"reply_user_not_matching.eml":                         {want: wantHeld, unknown: true, body: lorem},
	"reply_user_not_matching_but_known.eml":               {want: wantPost},
	"reply_with_8bit_encoding.eml":                        {want: wantPost, body: "hab vergessen kritische zeichen einzufügen:\näöüÄÖÜß"},
	"reply_with_weird_encoding.eml":                       {want: wantPost, body: "This is a reply with a weird encoding."},
	"screened_email.eml":                                  {want: wantHeld, unknown: true},
	"signature.eml":                                       {want: wantPost, body: "You shall not sign!"},
	"silenced_sender.eml":                                 {want: wantPost, kind: threads.KindQuestion},
	"spam_x_ses_spam_verdict.eml":                         {want: wantPost, kind: threads.KindQuestion},
	"spam_x_spam_flag.eml":                                {want: wantPost, kind: threads.KindQuestion},
	"spam_x_spam_status.eml":                              {want: wantPost, kind: threads.KindQuestion},
	"staged_reply_restricted.eml":                         {want: wantPost},
	"staged_sender.eml":                                   {want: wantHeld, unknown: true},
	"text_and_html_reply.eml":                             {want: wantPost, body: "This is the *text* part."},
	"text_reply.eml":                                      {want: wantPost, body: "This is a text reply :)\n\nEmail parsing should not break because of a UTF-8 character: ’"},
	"tl3_user.eml":                                        {want: wantPost, kind: threads.KindQuestion},
	"tl4_user.eml":                                        {want: wantPost, kind: threads.KindQuestion},
	"too_many_mentions.eml":                               {want: wantPost, body: "@user1 @user2"},
	"too_short.eml":                                       {want: wantNoPost, reason: "vote (+1) was recorded"},
	"too_small.eml":                                       {want: wantPost, body: "Ok!"},
	"track.eml":                                           {want: wantPost, body: "track"},
	"unsubscribe_body.eml":                                {want: wantNoPost, reason: "unsubscribed from one question"},
	"unsubscribe_new_user.eml":                            {want: wantNoPost, unknown: true, reason: "unsubscribed from one question"},
	"unsubscribe_subject.eml":                             {want: wantNoPost, reason: "unsubscribed from one question"},
	"user_not_found.eml":                                  {want: wantHeld, unknown: true},
	"valid_incoming.eml":                                  {want: wantPost, has: []string{"Hey folks,", "Jakie"}, kind: threads.KindQuestion},
	"valid_reply.eml":                                     {want: wantPost, body: "I could not disagree more. I am obviously biased but adventure time is the\ngreatest show ever created. Everyone should watch it.\n\n- Jake out"},
	"verp_bounce_different_final_recipient.eml":           {want: wantBounce, reason: "soft"},
	"via_line.eml":                                        {want: wantPost, body: "Hello this email has content!"},
	"watch.eml":                                           {want: wantPost, body: "watch"},
	"windows_8_metro.eml":                                 {want: wantPost, has: []string{"### reply from default mail client in Windows 8.1 Metro", "This is a link http://example.com"}},
	"word_html_reply.eml":                                 {want: wantPost, has: []string{"This is the body of the email.", "a bullet", "a first step", "That's all folks!"}},
	"wrong_reply_key.eml":                                 {want: wantFailed, reason: rsNoThread},
}

// corpusHarness is the realistic context every fixture is processed in: a
// seeded question, a reply token for it owned by the fixtures' main
// member, and two notifications whose VERP addresses the bounce fixtures
// use.
type corpusHarness struct {
	st          *threads.Store
	questionID  int64
	questionMID string // forum Message-ID of the seeded question
	reply       string // reply+TOKEN@forum.test for the seeded question
	badReply    string // a reply+ address whose token does not verify
	verp        []string
	bouncee     int64
}

func newCorpusHarness(t *testing.T) *corpusHarness {
	t.Helper()
	ctx := context.Background()
	st := newTestStore(t)
	h := &corpusHarness{st: st}
	confirmedPerson(t, st, "asker@example.org", "Asker")
	id := deliver(t, st, "asker@example.org", []string{"ask@" + testDomain},
		"From: Asker <asker@example.org>\nTo: ask@forum.test\nSubject: Seeded question\nMessage-ID: <seed@example.org>\n\nWhat is the best way to test mail?\n")
	if state, reason, post := inboundState(t, st, id); state != threads.StateProcessed || post == 0 {
		t.Fatalf("seed question: %s %s", state, reason)
	} else {
		h.questionID = post
	}
	if err := st.Pool().QueryRow(ctx, `SELECT message_id FROM posts WHERE id = $1`, h.questionID).Scan(&h.questionMID); err != nil {
		t.Fatal(err)
	}
	owner := confirmedPerson(t, st, "discourse@bar.com", "Foo Bar")
	h.reply = st.Addresses().Reply(h.questionID, owner.ID, owner.Epoch)
	h.badReply = "reply+" + strings.Repeat("a", 30) + "@" + testDomain
	h.bouncee = confirmedPerson(t, st, "bouncee@example.net", "Bouncee").ID
	for i := 0; i < 2; i++ {
		var nid int64
		err := st.Pool().QueryRow(ctx, `INSERT INTO notifications (person_id, post_id, kind, message_id, state) VALUES ($1, $2, $4, $3, 'sent') RETURNING id`,
			h.bouncee, h.questionID, fmt.Sprintf("n-seed-%d@%s", i, testDomain), []mailkind.Kind{mailkind.Answer, mailkind.Comment}[i]).Scan(&nid)
		if err != nil {
			t.Fatal(err)
		}
		h.verp = append(h.verp, st.Addresses().Bounce(nid, h.bouncee))
	}
	return h
}

var (
	// Discourse reply-key addresses (reply+KEY, alt+KEY, and the
	// older discourse+KEY / mail+KEY templates) on any domain.
	replyKeyRe = regexp.MustCompile(`(?i)^(reply|alt|discourse|mail|discourse-reply)\+[0-9a-f]{32}@`)
	verpRe     = regexp.MustCompile(`(?i)^foo\+verp-([0-9a-f]{32})@discourse\.org$`)
)

// wrongKeys are the fixture reply keys that match no post upstream.
var wrongKeys = map[string]bool{
	"wrong_reply_key.eml": true,
	"old_destination.eml": true,
}

// intakeAddrs are the Discourse fixtures' addresses for new topics: category
// and group inboxes and mailing-list mirrors. Postern has one intake
// address, ask@.
var intakeAddrs = map[string]bool{
	"category@bar.com": true, "category@foo.com": true, "team@bar.com": true, "meat@bar.com": true,
	"some_group@bar.com": true, "support+team@bar.com": true, "team@somesmtpaddress.com": true,
	"list@example.com": true, "incoming+amazing@appmail.adventuretime.ooo": true, "group-fwd@example.com": true,
}

// keylessReply are Discourse's reply addresses without a key (the site's
// reply_by_email address in the legacy fixtures); the harness treats them
// as the reply address of the seeded question, as the legacy specs did.
var keylessReply = map[string]bool{
	"reply@bar.com": true, "reply@discourse.org": true, "reply@mail.com": true,
	"mail@arpitjalan.com": true, "test@mail.com": true,
}

// mapRcpt maps one fixture recipient to the forum address it stands for
// ("" when it is not one of the forum's).
func (h *corpusHarness) mapRcpt(file, addr string) string {
	a := strings.ToLower(addr)
	switch {
	case replyKeyRe.MatchString(a) || keylessReply[a]:
		if wrongKeys[file] {
			return h.badReply
		}
		return h.reply
	case intakeAddrs[a]:
		return "ask@" + testDomain
	case verpRe.MatchString(a):
		if strings.Contains(a, "b542fb5a") {
			return h.verp[1]
		}
		return h.verp[0]
	case strings.HasSuffix(a, "@bar.com"):
		// Other addresses of the Discourse site's domain (wat@, foofoo@):
		// an unknown local part of the forum's domain.
		return a[:strings.IndexByte(a, '@')] + "@" + testDomain
	}
	return ""
}

// prepare substitutes the fixture's placeholders and returns the raw
// message with its envelope.
func (h *corpusHarness) prepare(t *testing.T, file string, raw []byte) (string, threads.Envelope) {
	t.Helper()
	s := string(raw)
	to := "TO"
	if file == "valid_incoming.eml" {
		to = "category@bar.com"
	} else {
		to = "reply+4f97315cc828096c9cb34c6f1a0d6fe8@bar.com"
	}
	s = regexp.MustCompile(`\bMESSAGE_ID_REPLY_TO\b`).ReplaceAllString(s, h.questionMID)
	s = strings.ReplaceAll(s, ":post_id", fmt.Sprint(h.questionID))
	s = regexp.MustCompile(`(?m)(^(From|Return-Path):.*)\bFROM\b`).ReplaceAllString(s, "${1}jake@adventuretime.ooo")
	s = regexp.MustCompile(`(?m)(^(To|Received|\s).*)\bTO\b`).ReplaceAllString(s, "${1}"+to)
	s = regexp.MustCompile(`(?m)(^Cc:.*)\bCC\b`).ReplaceAllString(s, "${1}finn@adventuretime.ooo")
	s = regexp.MustCompile(`(?m)^Subject: SUBJECT$`).ReplaceAllString(s, "Subject: Re: Seeded question")
	// The forum's own reply address as sender (loop test).
	s = regexp.MustCompile(`(?mi)^(From:.*)<reply@bar\.com>`).ReplaceAllString(s, "${1}<reply@"+testDomain+">")

	m, err := parse.Parse([]byte(s), parse.Limits{})
	env := threads.Envelope{RemoteAddr: "192.0.2.7:4711", Source: threads.SourceSMTP}
	if err != nil {
		return s, env
	}
	seen := map[string]bool{}
	for _, list := range [][]parse.Address{m.To, m.Cc} {
		for _, a := range list {
			if r := h.mapRcpt(file, a.Addr); r != "" && !seen[r] {
				seen[r] = true
				env.Rcpt = append(env.Rcpt, r)
			}
		}
	}
	if len(env.Rcpt) == 0 {
		// No forum address in the header (Bcc, or a placeholder upstream
		// sets in the spec): delivered to ask@, or for a bounce without a
		// VERP address to the notifications address.
		env.Rcpt = []string{"ask@" + testDomain}
		if strings.HasPrefix(file, "bounced_email") {
			env.Rcpt = []string{"notifications@" + testDomain}
		}
	}
	if rp := m.Header.Get("Return-Path"); rp != "" {
		env.MailFrom = strings.Trim(strings.TrimSpace(rp), "<>")
		if v := verpRe.FindStringSubmatch(env.MailFrom); v != nil {
			env.MailFrom = ""
		}
	} else if m.HasFrom {
		env.MailFrom = m.From.Addr
	} else {
		env.MailFrom = "sender@example.net" // some non-null envelope sender
	}
	if strings.Contains(file, "bounce") {
		env.MailFrom = "" // delivery reports come from the null sender
	}
	return s, env
}

func TestDiscourseCorpus(t *testing.T) {
	dir := corpus.Dir(t, "discourse-emails")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := newCorpusHarness(t)
	ctx := context.Background()
	ok := 0
	for _, path := range files {
		file := filepath.Base(path)
		row, found := discourseCorpus[file]
		if !found {
			t.Errorf("%s: no row in discourseCorpus", file)
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, env := h.prepare(t, file, raw)
		if m, err := parse.Parse([]byte(s), parse.Limits{}); err == nil && m.HasFrom && strings.Contains(m.From.Addr, "@") {
			h.setMember(t, m.From.Addr, !row.unknown)
		}
		if problems := h.run(ctx, t, file, s, env, row); len(problems) > 0 {
			t.Errorf("%s: %s", file, strings.Join(problems, "; "))
			continue
		}
		ok++
	}
	t.Logf("discourse corpus: %d/%d as expected", ok, len(files))
}

var anyAddrRe = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

// redactAddrs hides addresses in a failure message.
func redactAddrs(s string) string { return anyAddrRe.ReplaceAllString(s, "<addr>") }

// setMember makes addr a confirmed member (or an unconfirmed one).
func (h *corpusHarness) setMember(t *testing.T, addr string, confirmed bool) {
	t.Helper()
	p := confirmedPerson(t, h.st, addr, "")
	if !confirmed {
		if _, err := h.st.Pool().Exec(context.Background(), `UPDATE people SET confirmed_at = NULL WHERE id = $1`, p.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// run processes one fixture and compares the outcome with row, returning
// the differences (never an address: fixture names identify them).
func (h *corpusHarness) run(ctx context.Context, t *testing.T, file, raw string, env threads.Envelope, row corpusRow) []string {
	t.Helper()
	st := h.st
	acc, err := st.Accept(ctx, env, []byte(raw))
	if err != nil {
		return []string{"accept: " + err.Error()}
	}
	// Each fixture is its own delivery: forget its dedup key, so fixtures
	// that share a Message-ID are not taken for client retries.
	defer func() {
		_, _ = st.Pool().Exec(ctx, `UPDATE inbound SET dedup_key = sha256(dedup_key || int8send(id)) WHERE id = $1`, acc.InboundID)
	}()
	if err := Process(ctx, st, acc.InboundID); err != nil {
		return []string{"process: " + err.Error()}
	}
	var state, reason, pstate, body, kind string
	var post int64
	var atts int
	var recent bool
	err = st.Pool().QueryRow(ctx, `SELECT i.state, i.reason, coalesce(i.post_id, 0), coalesce(p.state, ''), coalesce(p.body, ''), coalesce(p.kind, ''),
			(SELECT count(*) FROM attachments a WHERE a.post_id = p.id), coalesce(p.created_at BETWEEN now() - interval '1 minute' AND now(), true)
		FROM inbound i LEFT JOIN posts p ON p.id = i.post_id WHERE i.id = $1`, acc.InboundID).
		Scan(&state, &reason, &post, &pstate, &body, &kind, &atts, &recent)
	if err != nil {
		return []string{"load outcome: " + err.Error()}
	}
	got := fmt.Sprintf("got state=%s reason=%q post=%d (%s %s)", state, reason, post, pstate, kind)
	var problems []string
	bad := func(s string) { problems = append(problems, redactAddrs(s)) }
	switch row.want {
	case wantPost, wantHeld:
		wantState := "visible"
		if row.want == wantHeld {
			wantState = "held"
		}
		if state != threads.StateProcessed || post == 0 || pstate != wantState {
			bad("want a " + wantState + " post; " + got)
			return problems
		}
		if row.want == wantHeld && !strings.HasPrefix(reason, rsHeld) {
			bad("want reason " + rsHeld + "; " + got)
		}
	case wantAuto:
		if state != threads.StateIgnored || !strings.HasPrefix(reason, "automatic mail") {
			bad("want ignored automatic mail; " + got)
		}
	case wantBounce:
		if state != threads.StateIgnored || !strings.Contains(reason, "bounce") {
			bad("want ignored bounce; " + got)
		}
	case wantIgnored:
		if state != threads.StateIgnored {
			bad("want ignored; " + got)
		}
	case wantFailed:
		if state != threads.StateFailed || post != 0 {
			bad("want failed; " + got)
		}
	case wantNoPost:
		if state != threads.StateProcessed || post != 0 {
			bad("want processed without post; " + got)
		}
	}
	if row.reason != "" && !strings.Contains(reason, row.reason) {
		bad(fmt.Sprintf("reason %q lacks %q", reason, row.reason))
	}
	if post == 0 {
		return problems
	}
	body = strings.TrimSpace(body)
	if !recent {
		bad("post time is not the time of processing (Date header used?)")
	}
	if row.emptyBody && body != "" {
		bad(fmt.Sprintf("body %q, want it empty", body))
	}
	if row.body != "" && body != row.body {
		bad(fmt.Sprintf("body %q, want %q", body, row.body))
	}
	for _, s := range row.has {
		if !strings.Contains(body, s) {
			bad(fmt.Sprintf("body %q lacks %q", body, s))
		}
	}
	for _, s := range row.lacks {
		if strings.Contains(body, s) {
			bad(fmt.Sprintf("body %q contains %q", body, s))
		}
	}
	if row.kind != "" && threads.PostKind(kind) != row.kind {
		bad(fmt.Sprintf("post kind %s, want %s", kind, row.kind))
	}
	if row.atts > 0 && atts != row.atts {
		bad(fmt.Sprintf("%d attachments, want %d", atts, row.atts))
	}
	return problems
}
