package threads

import (
	"strings"
	"testing"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// TestNotificationLinks: each address and link of a notification carries
// one token, which verifies for its purpose and names what it should; the
// URLs are links' (the routes web serves) under the forum's base URL.
func TestNotificationLinks(t *testing.T) {
	keys, err := DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAddresses(Config{Domain: "forum.test", BaseURL: "https://forum.test/base"}, keys)
	for _, c := range []struct {
		name    string
		s       StopLinks
		purpose token.Purpose
		subject int64
	}{
		{"question", a.StopQuestion(7, 3, 2), token.Unsubscribe, 7},
		{"everything", a.StopQuestion(0, 3, 2), token.Unsubscribe, 0},
		{"follows", a.StopFollows(7, 3, 2), token.UnsubscribeFollow, 7},
	} {
		r, err := a.Parse(c.s.Address)
		if err != nil || r.Kind != RcptUnsubscribe {
			t.Fatalf("%s: %s parses as %v, %v", c.name, c.s.Address, r.Kind, err)
		}
		if r.Token != (token.Token{Purpose: c.purpose, Subject: c.subject, Person: 3, Epoch: 2}) {
			t.Errorf("%s: token %+v", c.name, r.Token)
		}
		if r.Detail != c.s.Token {
			t.Errorf("%s: address token %q, Token %q", c.name, r.Detail, c.s.Token)
		}
		if want := "https://forum.test/base/unsubscribe/" + c.s.Token; c.s.URL != want {
			t.Errorf("%s: URL %q, want %q", c.name, c.s.URL, want)
		}
		if want := "mailto:" + c.s.Address + "?subject=unsubscribe"; c.s.Mailto != want {
			t.Errorf("%s: Mailto %q, want %q", c.name, c.s.Mailto, want)
		}
	}
	for _, c := range []struct {
		purpose token.Purpose
		subject int64
	}{{token.Confirm, 11}, {token.ConfirmSub, 12}} {
		addr, url := a.ConfirmLinks(c.purpose, c.subject, 3, 2)
		r, err := a.Parse(addr)
		if err != nil || r.Kind != RcptConfirm || r.Token != (token.Token{Purpose: c.purpose, Subject: c.subject, Person: 3, Epoch: 2}) {
			t.Fatalf("confirm %v: %s parses as %v %+v, %v", c.purpose, addr, r.Kind, r.Token, err)
		}
		if want := "https://forum.test/base/confirm/" + r.Detail; url != want {
			t.Errorf("confirm %v: URL %q, want %q", c.purpose, url, want)
		}
	}
}

// TestModerateMailLinks: the mail about a post waiting for approval links
// no page that would be 404 (a queued question is on no page) and links
// its question's page, not the queued post's place on it, for a queued
// answer.
func TestModerateMailLinks(t *testing.T) {
	keys, err := DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(nil, Config{Domain: "forum.test", BaseURL: "https://forum.test"}, keys, Options{})
	question := &Outgoing{Kind: mailkind.Moderate, PostID: 5, QuestionID: 5, RecipientID: 3, NotificationID: 1}
	s.notificationLinks(question, &outRow{epoch: 1})
	if question.ThreadURL != "" {
		t.Errorf("queued question: ThreadURL %q, want none (its page is 404)", question.ThreadURL)
	}
	answer := &Outgoing{Kind: mailkind.Moderate, PostID: 9, QuestionID: 5, RecipientID: 3, NotificationID: 2}
	s.notificationLinks(answer, &outRow{epoch: 1})
	if want := s.addrs.Links().QuestionPage(5); answer.ThreadURL != want {
		t.Errorf("queued answer: ThreadURL %q, want %q", answer.ThreadURL, want)
	}
	if question.ReplyTo == "" || answer.Unsubscribe.URL == "" {
		t.Errorf("moderate mail lost its reply address or stop link: %+v %+v", question, answer)
	}
}
