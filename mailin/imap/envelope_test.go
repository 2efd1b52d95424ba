package imap

import (
	"slices"
	"testing"
)

func TestEnvelopeOf(t *testing.T) {
	const body = "Subject: x\r\n\r\nbody\r\n"
	tests := []struct {
		name, head string
		rcpt, from string // rcpt "": refused
	}{
		{"delivered-to first", "Delivered-To: forum@provider.example\r\nDelivered-To: ask+sleep@Forum.Test\r\nX-Original-To: reply+T@forum.test\r\nTo: help@forum.test\r\nReturn-Path: <a@example.org>\r\nFrom: B <b@example.org>\r\n",
			"ask+sleep@Forum.Test", "a@example.org"},
		{"x-original-to", "Delivered-To: forum@provider.example\r\nX-Original-To: <reply+TOKEN@forum.test>\r\nTo: ask@forum.test\r\nFrom: b@example.org\r\n",
			"reply+TOKEN@forum.test", "b@example.org"},
		{"to and cc", "To: Someone <someone@example.org>\r\nCc: \"Forum\" <subscribe@forum.test>, ask@forum.test\r\nFrom: B <b@example.org>\r\n",
			"subscribe@forum.test", "b@example.org"},
		{"null sender", "Return-Path: <>\r\nDelivered-To: bounce+X@forum.test\r\nFrom: MAILER-DAEMON@example.org\r\n",
			"bounce+X@forum.test", ""},
		{"other domain only", "Delivered-To: forum@provider.example\r\nTo: ask@forum.test.example\r\nFrom: b@example.org\r\n", "", ""},
		{"no header", "not a header line\r\n", "", ""},
	}
	for _, tt := range tests {
		env, ok := envelopeOf([]byte(tt.head+body), "forum.test")
		if tt.rcpt == "" {
			if ok {
				t.Errorf("%s: %+v, want refused", tt.name, env)
			}
			continue
		}
		if !ok || !slices.Equal(env.Rcpt, []string{tt.rcpt}) || env.MailFrom != tt.from || env.Source != "imap" {
			t.Errorf("%s: %+v, %v; want rcpt %s, from %q", tt.name, env, ok, tt.rcpt, tt.from)
		}
	}
}

func TestNextBatch(t *testing.T) {
	list := []pending{{1, 100}, {2, 100}, {3, 500}, {4, 10}}
	for _, tt := range []struct {
		max  int64
		want []int // batch lengths
	}{{1000, []int{4}}, {256, []int{2, 1, 1}}, {50, []int{1, 1, 1, 1}}} {
		var got []int
		for rest := list; len(rest) > 0; {
			var b []pending
			b, rest = nextBatch(rest, tt.max)
			got = append(got, len(b))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("max %d: batches %v, want %v", tt.max, got, tt.want)
		}
	}
	many := make([]pending, 2*batchMessages+1)
	if b, rest := nextBatch(many, 1<<30); len(b) != batchMessages || len(rest) != batchMessages+1 {
		t.Errorf("a batch of %d, want %d", len(b), batchMessages)
	}
}
